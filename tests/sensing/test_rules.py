"""Rules evaluated as Observations arrive: real ingestion (ingest.ingest_observations) writes
the events, the rules' bus handler runs on them as the relay would after commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import InvalidInput
from smartcity.core.models import AuditEntry, Notification, OutboxEvent
from smartcity.sensing.rules import jobs as rule_jobs
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingAlert, SensingRule
from tests.core import factories
from tests.sensing.rule_helpers import feed, observed_property, station

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ADMIN = Principal(id=None, kind="admin", name="管理员")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def make_rule(session: AsyncSession, stream: int | None, kind: str, **kw: Any) -> Any:
    params = kw.pop("params")
    return await rules.create_rule(
        session,
        ADMIN,
        name=kw.pop("name", f"{kind} rule"),
        kind=kind,
        params=params,
        datastream_id=stream,
        **kw,
    )


async def alerts_of(session: AsyncSession, rule_id: int) -> list[SensingAlert]:
    return list(
        (
            await session.scalars(
                select(SensingAlert)
                .where(SensingAlert.rule_id == rule_id)
                .order_by(SensingAlert.id)
            )
        ).all()
    )


class TestThreshold:
    async def test_above_with_hysteresis_edges(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await make_rule(
            session, stream[0], "threshold", params={"op": "above", "value": 75, "hysteresis": 5}
        )
        await feed(session, stream, [(at(0), 50), (at(1), 75)])  # at the line is not above it
        assert await alerts_of(session, rule.id) == []
        await feed(session, stream, [(at(2), 80)])
        [alert] = await alerts_of(session, rule.id)
        assert (alert.status, alert.first_value, alert.breach_count) == ("open", 80, 1)
        await feed(session, stream, [(at(3), 90)])
        assert (alert.last_value, alert.breach_count, alert.last_time) == (90, 2, at(3))
        # Below the threshold but inside the hysteresis band: still open.
        await feed(session, stream, [(at(4), 74), (at(5), 70.5)])
        assert alert.status == "open"
        await feed(session, stream, [(at(6), 70)])  # exactly threshold - hysteresis
        assert (alert.status, alert.resolution, alert.last_value) == ("resolved", "auto", 70)
        assert len(await alerts_of(session, rule.id)) == 1

    async def test_below_and_reopening_after_resolution(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await make_rule(
            session, stream[0], "threshold", params={"op": "below", "value": 10, "hysteresis": 2}
        )
        await feed(session, stream, [(at(0), 9), (at(1), 11.9)])
        [first] = await alerts_of(session, rule.id)
        assert first.status == "open"
        await feed(session, stream, [(at(2), 12), (at(3), 8)])
        # Raised again a minute after clearing: the same alert, reopened (alerts.FOLD_WINDOW).
        [same] = await alerts_of(session, rule.id)
        assert (same.id, same.status, same.raise_count) == (first.id, "open", 2)
        # Cleared, then raised again past the fold window: a new alert.
        await feed(session, stream, [(at(4), 12), (at(4 + 31), 8)])
        first_again, second = await alerts_of(session, rule.id)
        assert (first_again.status, first_again.raise_count) == ("resolved", 2)
        assert (second.status, second.raise_count) == ("open", 1)

    async def test_one_open_alert_per_rule_and_stream(self, session: AsyncSession) -> None:
        stream_a = await station(session, "A站")
        stream_b = await station(session, "B站")
        rule = await make_rule(
            session, stream_a[0], "threshold", params={"op": "above", "value": 1}
        )
        other = await make_rule(
            session, stream_a[0], "threshold", params={"op": "above", "value": 2}
        )
        await feed(session, stream_a, [(at(i), 5) for i in range(6)])
        await feed(session, stream_b, [(at(i), 5) for i in range(3)])
        [alert] = await alerts_of(session, rule.id)
        assert alert.breach_count == 6
        assert len(await alerts_of(session, other.id)) == 1

    async def test_late_and_non_numeric_observations_are_skipped(
        self, session: AsyncSession
    ) -> None:
        stream = await station(session)
        rule = await make_rule(session, stream[0], "threshold", params={"op": "above", "value": 75})
        await feed(session, stream, [(at(10), 80)])
        await feed(session, stream, [(at(5), 10)])  # older than what the rule has judged
        [alert] = await alerts_of(session, rule.id)
        assert (alert.status, alert.breach_count) == ("open", 1)

    async def test_inactive_rules_and_streams_without_rules_raise_nothing(
        self, session: AsyncSession
    ) -> None:
        stream = await station(session)
        quiet = await station(session, "静默站")
        rule = await make_rule(
            session, stream[0], "threshold", params={"op": "above", "value": 1}, active=False
        )
        await feed(session, stream, [(at(0), 5)])
        await feed(session, quiet, [(at(0), 5)])
        assert await alerts_of(session, rule.id) == []
        assert await rules.rules_for(session, quiet[0]) == []


class TestOpeningEffects:
    async def test_opening_is_an_event_audited_and_told_to_the_department(
        self, session: AsyncSession
    ) -> None:
        department = await factories.create_department(session)
        officer = await factories.create_account(session, kind="staff", department=department)
        outsider = await factories.create_account(session, kind="staff")
        stream = await station(session)
        rule = await make_rule(
            session,
            stream[0],
            "threshold",
            params={"op": "above", "value": 75},
            department_id=department.id,
            severity="critical",
        )
        await feed(session, stream, [(at(0), 80), (at(1), 85), (at(2), 10)])
        [alert] = await alerts_of(session, rule.id)
        topics = list(
            (
                await session.scalars(
                    select(OutboxEvent.topic)
                    .where(OutboxEvent.topic.like("sensing.alert.%"))
                    .order_by(OutboxEvent.seq)
                )
            ).all()
        )
        assert topics == ["sensing.alert.opened", "sensing.alert.resolved"]
        audited = list(
            (
                await session.scalars(
                    select(AuditEntry.action).where(
                        AuditEntry.target == f"sensing_alert:{alert.id}"
                    )
                )
            ).all()
        )
        assert sorted(audited) == ["sensing.alert.opened", "sensing.alert.resolved"]
        notes = (
            await session.scalars(
                select(Notification).where(Notification.topic == "sensing.alert.opened")
            )
        ).all()
        assert [n.account_id for n in notes] == [officer.id]
        assert notes[0].link == f"/sensing/alerts/{alert.id}"
        assert outsider.id not in [n.account_id for n in notes]
        assert alert.severity == "critical" and alert.department_id == department.id


class TestRateOfChange:
    async def test_rate_over_the_window(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await make_rule(
            session, stream[0], "rate", params={"limit": 2, "window_minutes": 10}
        )
        await feed(session, stream, [(at(0), 10), (at(1), 11)])  # 1 per minute
        assert await alerts_of(session, rule.id) == []
        await feed(session, stream, [(at(2), 20)])  # (20 - 10) / 2 min = 5 per minute
        [alert] = await alerts_of(session, rule.id)
        assert (alert.status, alert.last_value) == ("open", 5)
        await feed(session, stream, [(at(3), 20.5)])  # (20.5 - 10) / 3 = 3.5
        assert (alert.breach_count, alert.last_value) == (2, 3.5)
        # Everything before minute 5 has left the window: no earlier point, no verdict.
        await feed(session, stream, [(at(15), 21)])
        assert alert.status == "open"
        await feed(session, stream, [(at(16), 21.5)])  # 0.5 per minute
        assert (alert.status, alert.resolution) == ("resolved", "auto")

    async def test_exactly_at_the_limit_is_not_a_breach(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await make_rule(session, stream[0], "rate", params={"limit": 2, "window_minutes": 5})
        await feed(session, stream, [(at(0), 0), (at(1), 2)])  # exactly 2 per minute
        assert await alerts_of(session, rule.id) == []
        await feed(session, stream, [(at(2), -6)])  # |-6 - 0| / 2 = 3 per minute, falling
        [alert] = await alerts_of(session, rule.id)
        assert (alert.status, alert.last_value) == ("open", 3)


class TestNOfM:
    async def test_n_of_the_last_m(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await make_rule(
            session, stream[0], "n_of_m", params={"op": "above", "value": 100, "n": 3, "m": 5}
        )
        await feed(session, stream, [(at(0), 120), (at(1), 50), (at(2), 130), (at(3), 40)])
        assert await alerts_of(session, rule.id) == []
        await feed(session, stream, [(at(4), 150)])  # T F T F T: 3 of 5
        [alert] = await alerts_of(session, rule.id)
        assert alert.status == "open"
        await feed(session, stream, [(at(5), 60)])  # F T F T F: 2 of 5
        assert (alert.status, alert.resolution) == ("resolved", "auto")


class TestObservedPropertyScope:
    async def test_one_rule_watches_every_datastream_of_the_property(
        self, session: AsyncSession
    ) -> None:
        pm25 = await observed_property(session, "PM2.5")
        no2 = await observed_property(session, "NO2")
        a = await station(session, "A站", property_id=pm25)
        b = await station(session, "B站", property_id=pm25)
        c = await station(session, "C站", property_id=no2)
        rule = await rules.create_rule(
            session,
            ADMIN,
            name="PM2.5 超标",
            kind="threshold",
            params={"op": "above", "value": 75},
            observed_property_id=pm25,
        )
        for stream in (a, b, c):
            await feed(session, stream, [(at(0), 99)])
        found = await alerts_of(session, rule.id)
        assert sorted(x.datastream_id for x in found) == sorted([a[0], b[0]])


class TestSilence:
    async def test_silence_job_with_a_frozen_clock(self, session: AsyncSession) -> None:
        stream = await station(session)
        with clock.frozen(at(0)) as advance:
            rule = await make_rule(session, stream[0], "silence", params={"minutes": 10})
            await feed(session, stream, [(at(0), 30)])
            advance(timedelta(minutes=9, seconds=59))
            await rule_jobs.check_silence(session)
            assert await alerts_of(session, rule.id) == []
            advance(timedelta(seconds=1))
            await rule_jobs.check_silence(session)
            [alert] = await alerts_of(session, rule.id)
            assert (alert.status, alert.last_value) == ("open", 10)
            advance(timedelta(minutes=5))
            await rule_jobs.check_silence(session)
            assert len(await alerts_of(session, rule.id)) == 1
            assert (alert.breach_count, alert.last_value) == (1, 15)
            # Data again: resolved as it arrives, not at the next tick.
            await feed(session, stream, [(at(15), 31)])
            assert (alert.status, alert.resolution) == ("resolved", "auto")
            advance(timedelta(minutes=1))
            await rule_jobs.check_silence(session)
            assert len(await alerts_of(session, rule.id)) == 1

    async def test_a_stream_that_never_reported_is_silent_since_the_rule(
        self, session: AsyncSession
    ) -> None:
        stream = await station(session)
        with clock.frozen(at(0)) as advance:
            rule = await make_rule(session, stream[0], "silence", params={"minutes": 5})
            await rule_jobs.check_silence(session)
            assert await alerts_of(session, rule.id) == []
            advance(timedelta(minutes=5))
            await rule_jobs.check_silence(session)
            assert len(await alerts_of(session, rule.id)) == 1


BAD = [
    ("threshold", {"op": "over", "value": 1}, "params.op"),
    ("threshold", {"op": "above"}, "params.value"),
    ("threshold", {"op": "above", "value": "high"}, "params.value"),
    ("threshold", {"op": "above", "value": 1, "hysteresis": -1}, "params.hysteresis"),
    ("threshold", {"op": "above", "value": 1, "window": 3}, "params.window"),
    ("rate", {"limit": 0, "window_minutes": 5}, "params.limit"),
    ("rate", {"limit": 1, "window_minutes": 0}, "params.window_minutes"),
    ("rate", {"limit": 1, "window_minutes": 2.5}, "params.window_minutes"),
    ("silence", {"minutes": 0}, "params.minutes"),
    ("silence", {"minutes": True}, "params.minutes"),
    ("n_of_m", {"op": "above", "value": 1, "n": 4, "m": 3}, "params.n"),
    ("n_of_m", {"op": "above", "value": 1, "n": 1, "m": 101}, "params.m"),
    ("volume", {}, "kind"),
]


class TestBadRules:
    @pytest.mark.parametrize(("kind", "params", "field"), BAD)
    async def test_bad_parameters_are_422_naming_the_field(
        self, session: AsyncSession, kind: str, params: dict[str, Any], field: str
    ) -> None:
        stream = await station(session)
        with pytest.raises(InvalidInput) as caught:
            await make_rule(session, stream[0], kind, params=params)
        assert caught.value.status == 422
        assert caught.value.extensions["field"] == field
        assert (await session.scalar(select(func.count()).select_from(SensingRule))) == 0

    async def test_scope_must_be_one_existing_thing(self, session: AsyncSession) -> None:
        stream = await station(session)
        prop = await observed_property(session, "O3")
        ok = {"op": "above", "value": 1}
        for kw, field in [
            ({"datastream_id": 999999}, "datastream_id"),
            ({"datastream_id": None}, "datastream_id"),
            ({"datastream_id": stream[0], "observed_property_id": prop}, "datastream_id"),
        ]:
            with pytest.raises(InvalidInput) as caught:
                await rules.create_rule(session, ADMIN, name="x", kind="threshold", params=ok, **kw)
            assert caught.value.extensions["field"] == field
