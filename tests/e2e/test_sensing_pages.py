"""The sensing staff pages in a browser (物联感知): the devices map with a dot per device
coloured by status, a device's page, a datastream's chart drawn by plotly with its data
table, a rule defined through the form, and the dead letters."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as
from tests.e2e.test_registry_places import seed_places

pytestmark = pytest.mark.e2e

KINDS = ("air-station", "traffic-detector", "water-meter")


def _seed(server: LiveServer) -> dict[str, int]:
    """Devices spread over the districts: most reporting, some silent, a few never heard
    from; one air station with a day of readings every five minutes."""

    async def seed(session: Any) -> dict[str, int]:
        from sqlalchemy import select

        from smartcity.registry.contract import DISTRICT_BOXES
        from smartcity.sensing import models as m
        from tests.sensing.test_status import device

        existing = await session.scalar(
            select(m.StaThing.id).where(m.StaThing.name == "e2e 香蜜湖空气站")
        )
        if existing is not None:
            stream = await session.scalar(
                select(m.StaDatastream.id).where(m.StaDatastream.thing_id == existing)
            )
            return {"thing": int(existing), "stream": int(stream)}
        rng = random.Random(5)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        day = [now - timedelta(minutes=5 * i) for i in range(288)]
        thing, stream = await device(
            session,
            "e2e 香蜜湖空气站",
            properties={"kind": "air-station", "districtCode": "440304", "stationCode": "1355A"},
            readings=day,
            at=(114.03, 22.55),
        )
        # Readings that look like a day of PM2.5 (the helper writes 42 everywhere).
        for observation in (
            await session.scalars(
                select(m.StaObservation).where(m.StaObservation.datastream_id == stream)
            )
        ).all():
            hours = observation.phenomenon_time_start.hour + 8
            observation.result_number = round(35 + 20 * ((hours % 24) / 24) + rng.random() * 8, 1)
        codes = list(DISTRICT_BOXES)
        for i in range(45):
            code = codes[i % len(codes)]
            x0, y0, x1, y1 = DISTRICT_BOXES[code]
            kind = KINDS[i % 3]
            roll = rng.random()
            readings = (
                []
                if roll < 0.1
                else [now - timedelta(minutes=40 if roll < 0.3 else rng.randint(1, 10))]
            )
            await device(
                session,
                f"e2e 设备 {i + 1:02d}",
                properties={"kind": kind, "districtCode": code, "reportingIntervalSeconds": 300},
                readings=readings,
                at=(rng.uniform(x0 + 0.01, x1 - 0.01), rng.uniform(y0 + 0.01, y1 - 0.01)),
            )
        session.add(
            m.StaMqttDeadLetter(
                received_at=now,
                topic=f"v1.1/Datastreams({stream})/Observations",
                payload='{"result": 12.5, "phenomenonTime": "tomorrow"',
                payload_bytes=43,
                reason="the payload is not JSON: Expecting ',' delimiter: line 1 column 44",
            )
        )
        return {"thing": int(thing), "stream": int(stream)}

    result: dict[str, int] = server.run(seed)
    return result


def test_devices_map_datastream_chart_and_a_rule(page: Any, live_server: LiveServer) -> None:
    seed_places(live_server)
    ids = _seed(live_server)
    sign_in_as(page, live_server, "e2e.sensing.officer", "staff", department_code="STHJJ")

    page.goto("/sensing")
    dots = page.locator("svg.dev-svg a.dot")
    assert dots.count() >= 40
    statuses = {dots.nth(i).get_attribute("data-status") for i in range(dots.count())}
    assert statuses == {"reporting", "silent", "no_data"}
    assert page.locator("svg.dev-svg path.area").count() > 10  # the registry's streets
    shot(page, "sensing-devices")
    page.select_option("#f-status", "silent")
    page.click("form.dev-filter button")
    page.wait_for_url("**/sensing?status=silent**")
    silent = page.locator("svg.dev-svg a.dot")
    assert silent.count() >= 1
    assert {silent.nth(i).get_attribute("data-status") for i in range(silent.count())} == {"silent"}

    page.goto(f"/sensing/things/{ids['thing']}")
    assert "e2e 香蜜湖空气站" in page.locator("h1").inner_text()
    shot(page, "sensing-thing")

    page.goto(f"/sensing/datastreams/{ids['stream']}")
    page.wait_for_selector("#ds-chart svg.main-svg")
    assert page.locator("#ds-chart .scatterlayer .trace").count() >= 2  # band and line
    rows = page.locator("table.ds-table tbody tr")
    assert rows.count() >= 280
    shot(page, "sensing-datastream")
    # A week in one-minute buckets is too many: the bucket field says so, the range stays.
    page.goto(f"/sensing/datastreams/{ids['stream']}?range=7d&bucket=1min")
    assert page.locator("#f-bucket-error").is_visible()
    assert page.locator("#f-range").input_value() == "7d"
    shot(page, "sensing-datastream-error")

    page.goto(f"/sensing/datastreams/{ids['stream']}")
    page.click(f"a[href='/sensing/rules/new?datastream_id={ids['stream']}']")
    page.wait_for_url("**/sensing/rules/new?datastream_id=*")
    assert page.locator("#f-datastream_id").input_value() == str(ids["stream"])
    page.fill("#f-name", "e2e PM2.5 连续偏高")
    page.check("#kind-n_of_m")
    assert not page.locator("#f-threshold-value").is_visible()  # only the chosen kind's fields
    page.fill("#f-n_of_m-value", "abc")
    page.fill("#f-n_of_m-n", "3")
    page.fill("#f-n_of_m-m", "5")
    page.click("form.rule-form button[type=submit]")
    assert page.locator("#f-n_of_m-value-error").is_visible()
    assert page.locator("#f-name").input_value() == "e2e PM2.5 连续偏高"
    assert page.locator("#f-n_of_m-m").input_value() == "5"
    shot(page, "sensing-rule-form-error")
    page.fill("#f-n_of_m-value", "75")
    page.click("form.rule-form button[type=submit]")
    page.wait_for_url("**/sensing/rules?done=created#rule-*")
    row = page.locator("tr", has_text="e2e PM2.5 连续偏高")
    assert row.count() == 1 and "75" in row.inner_text()
    shot(page, "sensing-rules")

    page.goto("/sensing/dead-letters")
    assert "the payload is not JSON" in page.locator("table.dl-table").inner_text()
    shot(page, "sensing-dead-letters")
