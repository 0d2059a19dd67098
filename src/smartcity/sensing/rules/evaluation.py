"""Evaluating the sensing rules as Observations arrive (规则判定).

Evaluation runs in the bus handlers of ``sensing.observations.created`` (handlers.py: the
Observations of one ingestion call, up to 500 per event), never as a poll of the observations
table. The little state a rule needs (the last time seen, the rate window, the last M breach
flags) lives in ``sensing_rule_state``, one row per rule and datastream read by its primary
key: that is one indexed lookup per rule instead of re-reading the last M Observations of a
stream whose index is shared with every writer. Handlers run once per event id
(core.runtime), in the transaction that records the event as processed, so the state moves
exactly once per Observation. The cached index of which datastreams have rules
(service.rules_for) makes an Observation of a stream with none cost no query at all; a batch
reads the rules, states and open alerts of all its streams once (``evaluate_many``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.i18n import gettext as _
from smartcity.sensing.models import StaDatastream
from smartcity.sensing.rules import alerts
from smartcity.sensing.rules.models import SensingAlert, SensingRule, SensingRuleState
from smartcity.sensing.rules.service import (
    ABOVE,
    RATE,
    SILENCE,
    THRESHOLD,
    invalidate_index,
    load_index,
    op_word,
    rules_for,
)
from smartcity.sensing.rules.words import clearing_words


@dataclass(frozen=True)
class Reading:
    """A numeric Observation of a datastream, as the rules see it."""

    datastream_id: int
    time: datetime
    value: float


def breaches(op: str, limit: float, value: float) -> bool:
    return value > limit if op == ABOVE else value < limit


def clears(op: str, limit: float, hysteresis: float, value: float) -> bool:
    """Back past the threshold by the hysteresis (at or beyond ``limit ∓ hysteresis``)."""
    return value <= limit - hysteresis if op == ABOVE else value >= limit + hysteresis


def _fmt(value: float) -> str:
    return f"{value:g}"


async def evaluate(
    session: AsyncSession, reading: Reading, rules: list[SensingRule] | None = None
) -> None:
    """Run the datastream's rules on one new reading; open, update and resolve alerts."""
    if rules is None:
        rules = await rules_for(session, reading.datastream_id)
    if not rules:
        return
    ids = [r.id for r in rules]
    stream = reading.datastream_id
    open_alerts = {
        (stream, rule_id): alert
        for rule_id, alert in (await alerts.active_alerts(session, stream, ids)).items()
    }
    states = {
        (stream, s.rule_id): s
        for s in (
            await session.scalars(
                select(SensingRuleState).where(
                    SensingRuleState.datastream_id == stream,
                    SensingRuleState.rule_id.in_(ids),
                )
            )
        )
    }
    await _apply(session, reading, rules, open_alerts, states)
    await session.flush()


async def evaluate_many(session: AsyncSession, readings: list[Reading]) -> None:
    """Run the rules on a batch of new readings, one after the other in the given order,
    exactly as ``evaluate`` would one reading at a time; but the rules, their states and the
    open alerts of all the batch's streams are read once (three queries, plus one for the
    streams' observed properties when a rule is scoped to one), and a batch of streams
    without rules costs no query at all. States and open alerts are carried in memory from
    one reading to the next, so a breach and its clearing inside one batch behave as if they
    had arrived one by one."""
    if not readings:
        return
    index = await load_index(session)
    streams = list(dict.fromkeys(r.datastream_id for r in readings))
    ids_of: dict[int, set[int]] = {s: set(index.by_stream.get(s, ())) for s in streams}
    if index.by_property:
        for stream_id, property_id in await session.execute(
            select(StaDatastream.id, StaDatastream.observed_property_id).where(
                StaDatastream.id.in_(streams)
            )
        ):
            ids_of[stream_id] |= index.by_property.get(property_id, frozenset())
    ids_of = {s: ids for s, ids in ids_of.items() if ids}
    if not ids_of:
        return
    wanted = set().union(*ids_of.values())
    found = {
        r.id: r
        for r in (
            await session.scalars(
                select(SensingRule)
                .where(SensingRule.id.in_(wanted), SensingRule.active.is_(True))
                .order_by(SensingRule.id)
            )
        )
    }
    if len(found) != len(wanted):
        invalidate_index()  # a rule went away in another process (or transaction)
    rules_of = {s: [found[i] for i in sorted(ids) if i in found] for s, ids in ids_of.items()}
    ruled = [s for s, rules in rules_of.items() if rules]
    if not ruled:
        return
    # Superset queries (every rule of the batch × every ruled stream): fewer, simpler
    # statements; the pairs that do not apply are simply never looked up.
    open_alerts = {
        (a.datastream_id, a.rule_id): a
        for a in await session.scalars(
            select(SensingAlert).where(
                SensingAlert.datastream_id.in_(ruled),
                SensingAlert.rule_id.in_(list(found)),
                SensingAlert.status != alerts.RESOLVED,
            )
        )
    }
    states = {
        (s.datastream_id, s.rule_id): s
        for s in await session.scalars(
            select(SensingRuleState).where(
                SensingRuleState.datastream_id.in_(ruled),
                SensingRuleState.rule_id.in_(list(found)),
            )
        )
    }
    for reading in readings:
        rules = rules_of.get(reading.datastream_id)
        if rules:
            await _apply(session, reading, rules, open_alerts, states)
    await session.flush()


async def _apply(
    session: AsyncSession,
    reading: Reading,
    rules: list[SensingRule],
    open_alerts: dict[tuple[int, int], SensingAlert],
    states: dict[tuple[int, int], SensingRuleState],
) -> None:
    """One reading through its stream's rules. ``open_alerts`` and ``states`` (by stream and
    rule) are read and kept up to date, so the next reading of a batch sees what this one
    changed."""
    stream = reading.datastream_id
    for rule in rules:
        key = (stream, rule.id)
        alert = open_alerts.get(key)
        if rule.kind == SILENCE:
            minutes = rule.params["minutes"]
            if alert is not None and reading.time > clock.now() - timedelta(minutes=minutes):
                await alerts.auto_resolve(
                    session,
                    SYSTEM,
                    alert,
                    value=0.0,
                    at=reading.time,
                    reason=clearing_words(rule),
                )
                del open_alerts[key]
            continue
        state = states.get(key)
        if state is not None and reading.time < state.last_time:
            # A late Observation: the rule has already judged newer data of this stream.
            continue
        if state is None:
            state = SensingRuleState(
                rule_id=rule.id,
                datastream_id=stream,
                last_time=reading.time,
                data={},
            )
            session.add(state)
            states[key] = state
        state.last_time = reading.time
        after = await _judge(session, rule, state, alert, reading)
        if after is None:
            open_alerts.pop(key, None)
        else:
            open_alerts[key] = after


async def _judge(
    session: AsyncSession,
    rule: SensingRule,
    state: SensingRuleState,
    alert: SensingAlert | None,
    reading: Reading,
) -> SensingAlert | None:
    """Judge one reading by a threshold, rate or N-of-M rule; the rule's unresolved alert on
    the stream afterwards (None once resolved or when there is none)."""
    p = rule.params
    at, value = reading.time, reading.value
    if rule.kind == THRESHOLD:
        if breaches(p["op"], p["value"], value):
            message = _("%(value)s is %(op)s the threshold %(limit)s.") % {
                "value": _fmt(value),
                "op": _(op_word(p)),
                "limit": _fmt(p["value"]),
            }
            return await alerts.raise_alert(
                session, SYSTEM, rule, reading.datastream_id, alert, value=value, at=at,
                message=message,
            )  # fmt: skip
        if alert is not None and clears(p["op"], p["value"], p["hysteresis"], value):
            await alerts.auto_resolve(
                session, SYSTEM, alert, value=value, at=at,
                reason=clearing_words(rule),
            )  # fmt: skip
            return None
        return alert
    if rule.kind == RATE:
        window = timedelta(minutes=p["window_minutes"])
        points = [
            (datetime.fromisoformat(t), v)
            for t, v in state.data.get("points", [])
            if datetime.fromisoformat(t) >= at - window
        ]
        earlier = [(t, v) for t, v in points if t < at]
        state.data = {"points": [[t.isoformat(), v] for t, v in [*points, (at, value)]]}
        if not earlier:
            return alert  # nothing to compare with yet: no verdict either way
        t0, v0 = earlier[0]
        rate = abs(value - v0) / ((at - t0).total_seconds() / 60)
        if rate > p["limit"]:
            message = _("Changing by %(rate)s per minute; the limit is %(limit)s.") % {
                "rate": _fmt(round(rate, 4)),
                "limit": _fmt(p["limit"]),
            }
            return await alerts.raise_alert(
                session, SYSTEM, rule, reading.datastream_id, alert, value=rate, at=at,
                message=message,
            )  # fmt: skip
        if alert is not None:
            await alerts.auto_resolve(
                session, SYSTEM, alert, value=rate, at=at,
                reason=clearing_words(rule),
            )  # fmt: skip
        return None
    # N of M
    flag = breaches(p["op"], p["value"], value)
    flags = [*state.data.get("flags", []), flag][-p["m"] :]
    state.data = {"flags": flags}
    count = sum(1 for f in flags if f)
    if count >= p["n"]:
        message = _("%(count)s of the last %(m)s readings are %(op)s %(limit)s.") % {
            "count": count,
            "m": len(flags),
            "op": _(op_word(p)),
            "limit": _fmt(p["value"]),
        }
        if alert is None or flag:
            return await alerts.raise_alert(
                session, SYSTEM, rule, reading.datastream_id, alert, value=value, at=at,
                message=message,
            )  # fmt: skip
        return alert
    if alert is not None:
        await alerts.auto_resolve(
            session, SYSTEM, alert, value=value, at=at,
            reason=clearing_words(rule),
        )  # fmt: skip
    return None
