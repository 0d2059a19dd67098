"""Sensor alerts in a browser (感知告警): readings written to the running server pass the real
outbox relay and the rules' bus handler; a flapping reading shows as one alert on the list,
raised twice; an officer of the rule's department opens it, sees its readings charted,
acknowledges it and resolves it with a note, in Chinese and in English."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as

pytestmark = pytest.mark.e2e


def _seed(server: LiveServer, name: str) -> int:
    async def seed(session: Any) -> int:
        from sqlalchemy import select

        from smartcity.core.authz import Principal
        from smartcity.core.models import Department
        from smartcity.sensing.rules import service as rules
        from tests.sensing.rule_helpers import station

        department = await session.scalar(select(Department).where(Department.code == "STHJJ"))
        stream, _feature = await station(session, name)
        await rules.create_rule(
            session,
            Principal(id=None, kind="admin", name="e2e"),
            name="PM2.5 一小时超标",
            kind="threshold",
            params={"op": "above", "value": 75, "hysteresis": 5},
            severity="critical",
            datastream_id=stream,
            department_id=department.id,
        )
        return int(stream)

    return int(server.run(seed))


def _ingest(server: LiveServer, stream: int, name: str, values: list[float]) -> None:
    async def write(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.core.authz import SYSTEM
        from smartcity.sensing import models as m
        from smartcity.sensing.sta import ingest
        from smartcity.sensing.sta.times import Interval

        feature = await session.scalar(
            select(m.StaFeatureOfInterest.id).where(m.StaFeatureOfInterest.name == name)
        )
        start = datetime.now(UTC) - timedelta(minutes=len(values))
        rows = [
            ingest.ObservationRow(
                datastream_id=stream,
                phenomenon_time=Interval(start + timedelta(minutes=i)),
                result=v,
                has_result=True,
                feature_of_interest_id=feature,
            )
            for i, v in enumerate(values)
        ]
        await ingest.ingest_observations(session, SYSTEM, rows)

    server.run(write)


def _wait_for_alert(server: LiveServer, stream: int, raises: int) -> int:
    """The relay delivers after commit, in the server's own loop: wait for it (bounded)."""

    async def find(session: Any) -> int | None:
        from sqlalchemy import select

        from smartcity.sensing.rules.models import SensingAlert

        found: int | None = await session.scalar(
            select(SensingAlert.id).where(
                SensingAlert.datastream_id == stream,
                SensingAlert.raise_count == raises,
                SensingAlert.status == "open",
            )
        )
        return found

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = server.run(find)
        if found is not None:
            return int(found)
        time.sleep(0.2)
    raise AssertionError(f"the rules handler raised no alert {raises} times")


def _shots(page: Any, name: str) -> None:
    """The page at the 1366 px desktop and the 390 px phone, with no sideways scroll."""

    for width, height in ((1366, 860), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        # Plotly redraws the chart on the resize event: poll the layout until it has (bounded;
        # the page's CSP forbids wait_for_function's eval).
        deadline = time.monotonic() + 5
        scroll = page.evaluate("document.documentElement.scrollWidth")
        while scroll > width and time.monotonic() < deadline:
            page.wait_for_timeout(100)
            scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} scrolls sideways at {width}px ({scroll}px)"
        shot(page, f"{name}-{width}")


WORDS = {
    "zh_CN": {
        "rule": "PM2.5 高于 75 µg/m³ 时告警，降至 70 µg/m³ 及以下时恢复",
        "raised": "触发 2 次",
        "again": "再次触发",
    },
    "en": {
        "rule": "Alert when PM2.5 is above 75 µg/m³; clear at 70 µg/m³ or below",
        "raised": "raised 2 times",
        "again": "Raised again",
    },
}


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_open_an_alert_from_the_list_and_resolve_it_with_a_note(
    page: Any, live_server: LiveServer, lang: str
) -> None:
    name = f"e2e 福田站 {lang}"
    stream = _seed(live_server, name)
    # Raised at 88, cleared at 70, raised again at 92 a minute later: one alert, two raises.
    _ingest(live_server, stream, name, [60, 88, 70, 92])
    alert_id = _wait_for_alert(live_server, stream, raises=2)
    sign_in_as(page, live_server, f"e2e.sthjj.{lang.lower()}", "staff", department_code="STHJJ")
    page.goto(f"/lang/{lang}?next=/sensing/alerts")
    page.wait_for_url("**/sensing/alerts")
    words = WORDS[lang]
    row = page.locator(f"#alert-{alert_id}")
    assert page.locator(f"[id='alert-{alert_id}']").count() == 1
    text = row.inner_text()
    assert "PM2.5 一小时超标" in text and words["raised"] in text and words["rule"] in text
    _shots(page, f"sensing-alert-list-{lang}")
    page.set_viewport_size({"width": 1366, "height": 860})
    row.locator("a.alert-title").click()
    page.wait_for_url(f"**/sensing/alerts/{alert_id}")
    assert words["rule"] in page.locator(".alert-words").inner_text()
    assert words["again"] in page.locator(".alert-history").inner_text()
    page.locator("#alert-chart .main-svg").first.wait_for()  # plotly drew the readings
    _shots(page, f"sensing-alert-page-{lang}")
    page.set_viewport_size({"width": 1366, "height": 860})
    page.fill("#f-acknowledge-note", "李工赶往现场")
    page.locator("form[action$='/acknowledge'] button").click()
    page.wait_for_url(f"**/sensing/alerts/{alert_id}?done=acknowledge")
    assert page.locator("form[action$='/acknowledge']").count() == 0
    # Resolving needs a note: an empty one is refused next to its field.
    page.locator("form[action$='/resolve'] button").click()
    assert page.locator("#f-resolve-note-error").is_visible()
    page.fill("#f-resolve-note", "已更换采样滤膜，读数恢复正常")
    page.locator("form[action$='/resolve'] button").click()
    page.wait_for_url(f"**/sensing/alerts/{alert_id}?done=resolve")
    assert page.locator("form[action$='/resolve']").count() == 0
    assert "已更换采样滤膜" in page.locator(".alert-history").inner_text()
    _shots(page, f"sensing-alert-resolved-{lang}")
