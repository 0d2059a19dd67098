"""Two deliveries raising the same rule on the same stream at once, right after its alert
cleared, on PostgreSQL with real concurrent transactions: one reopens the alert, the other
waits for its row lock, finds it no longer resolved and counts a repeat breach. One alert,
raised twice, never a second one (the partial unique index and the conditional reopening
agree)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from smartcity.core import migrate
from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.db import make_engine
from smartcity.sensing.rules import alerts
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingAlert, SensingAlertEvent, SensingRule
from tests.conftest import POSTGRES_URL, _recreate_postgres_database, postgres_database_name
from tests.sensing.rule_helpers import feed, station

T0 = datetime(2026, 11, 4, 8, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs SMARTCITY_TEST_POSTGRES_URL")


async def test_two_deliveries_reopening_at_once_make_one_alert() -> None:
    url = await _recreate_postgres_database(POSTGRES_URL, postgres_database_name("alertrace"))
    await asyncio.to_thread(migrate.upgrade, url)
    engine = make_engine(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as setup:
            stream = await station(setup)
            rule = await rules.create_rule(
                setup,
                Principal(id=None, kind="admin", name="管理员"),
                name="PM2.5 超标",
                kind="threshold",
                params={"op": "above", "value": 100, "hysteresis": 10},
                datastream_id=stream[0],
            )
            await feed(setup, stream, [(T0, 120), (T0 + timedelta(minutes=1), 80)])
            await setup.commit()
            rule_id = rule.id
        at = T0 + timedelta(minutes=2)
        async with sessions() as first, sessions() as second, engine.connect() as watch:
            rule_a = await first.get(SensingRule, rule_id)
            rule_b = await second.get(SensingRule, rule_id)
            assert rule_a is not None and rule_b is not None
            reopened = await alerts.raise_alert(
                first, SYSTEM, rule_a, stream[0], None, value=121.0, at=at, message="a"
            )
            assert (reopened.status, reopened.raise_count) == ("open", 2)
            racing = asyncio.create_task(
                alerts.raise_alert(
                    second, SYSTEM, rule_b, stream[0], None, value=122.0, at=at, message="b"
                )
            )
            # The second delivery reaches the row the first has reopened and waits for it.
            deadline = time.monotonic() + 10
            waiting = 0
            while not waiting and time.monotonic() < deadline and not racing.done():
                await asyncio.sleep(0.05)  # polling the server's lock table, not a guess
                waiting = int(
                    await watch.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                    or 0
                )
            assert waiting == 1, "the second delivery never waited for the first one's lock"
            await first.commit()
            found = await racing
            await second.commit()
            assert (found.id, found.status) == (reopened.id, "open")
        async with sessions() as check:
            [alert] = (
                await check.scalars(select(SensingAlert).where(SensingAlert.rule_id == rule_id))
            ).all()
            # Raised twice (opened, reopened once); the second delivery's breach counted.
            assert (alert.status, alert.raise_count, alert.breach_count) == ("open", 2, 3)
            assert alert.last_value == 122.0
            kinds = await check.scalars(
                select(SensingAlertEvent.kind)
                .where(SensingAlertEvent.alert_id == alert.id)
                .order_by(SensingAlertEvent.id)
            )
            assert list(kinds) == ["raised", "auto_resolved", "reopened"]  # reopened once
    finally:
        await engine.dispose()
