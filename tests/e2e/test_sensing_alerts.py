"""Sensor alerts in a browser (感知告警): readings posted to the running server pass the real
outbox relay and the rules' bus handler, the alert shows on the staff page, and an officer of
the rule's department acknowledges and then resolves it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as

pytestmark = pytest.mark.e2e


def _seed(server: LiveServer) -> int:
    async def seed(session: Any) -> int:
        from sqlalchemy import select

        from smartcity.core.authz import Principal
        from smartcity.core.models import Department
        from smartcity.sensing.rules import service as rules
        from tests.sensing.rule_helpers import station

        department = await session.scalar(select(Department).where(Department.code == "STHJJ"))
        stream, _feature = await station(session, "e2e 福田站")
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


def _ingest(server: LiveServer, stream: int, values: list[float]) -> None:
    async def write(session: Any) -> None:
        from sqlalchemy import select

        from smartcity.core.authz import SYSTEM
        from smartcity.sensing import models as m
        from smartcity.sensing.sta import ingest
        from smartcity.sensing.sta.times import Interval

        feature = await session.scalar(
            select(m.StaFeatureOfInterest.id).where(m.StaFeatureOfInterest.name == "e2e 福田站")
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


def _wait_for_alert(server: LiveServer, stream: int) -> int:
    """The relay delivers after commit, in the server's own loop: wait for it (bounded)."""

    async def find(session: Any) -> int | None:
        from sqlalchemy import select

        from smartcity.sensing.rules.alerts import SensingAlert

        found: int | None = await session.scalar(
            select(SensingAlert.id).where(SensingAlert.datastream_id == stream)
        )
        return found

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = server.run(find)
        if found is not None:
            return int(found)
        time.sleep(0.2)
    raise AssertionError("the rules handler raised no alert")


def test_staff_acknowledge_and_resolve_an_alert(page: Any, live_server: LiveServer) -> None:
    stream = _seed(live_server)
    _ingest(live_server, stream, [60, 88, 92])
    alert_id = _wait_for_alert(live_server, stream)
    sign_in_as(page, live_server, "e2e.sthjj.officer", "staff", department_code="STHJJ")
    page.goto("/sensing/alerts")
    card = page.locator(f"#alert-{alert_id}")
    assert "PM2.5 一小时超标" in card.inner_text()
    assert "e2e 福田站" in card.inner_text()
    shot(page, "sensing-alerts-open")
    card.locator("form[action$='/acknowledge'] button").click()
    page.wait_for_url(f"**/sensing/alerts?done=acknowledge#alert-{alert_id}")
    card = page.locator(f"#alert-{alert_id}")
    assert "is-acknowledged" in (card.get_attribute("class") or "")
    assert card.locator("form[action$='/acknowledge']").count() == 0
    # Resolving needs a note: an empty one is refused next to its field.
    card.locator("form.resolve button").click()
    assert page.locator(f"#note-{alert_id}-error").is_visible()
    shot(page, "sensing-alerts-note-missing")
    page.fill(f"#note-{alert_id}", "已更换采样滤膜，读数恢复正常")
    page.locator(f"#alert-{alert_id} form.resolve button").click()
    page.wait_for_url("**/sensing/alerts?done=resolve**")
    assert page.locator(f"#alert-{alert_id}").count() == 0
    assert "已更换采样滤膜" in page.locator("table").first.inner_text()
    shot(page, "sensing-alerts-resolved")
