"""Rules on sensor data (监测规则) and their evaluation as Observations arrive.

Four kinds, each on one datastream or on every datastream of an observed property:

- ``threshold``: raise when the result crosses ``value`` (``op`` above or below); resolve only
  once it is back past ``value ∓ hysteresis``, so a reading hovering at the line does not
  flap.
- ``rate``: raise when |Δresult/Δt| between the new reading and the oldest one inside the
  last ``window_minutes`` exceeds ``limit`` (per minute); resolve when it no longer does.
- ``silence``: raise when a datastream has no Observation for ``minutes`` (a job every
  minute, the only kind that needs a clock); resolve when data arrives again.
- ``n_of_m``: raise when at least ``n`` of the last ``m`` results breach the threshold;
  resolve when fewer do.

Evaluation is a bus handler on ``sensing.observations.created`` (the Observations of one
ingestion call, up to 500 per event), never a poll of the observations table. The little
state a rule needs (the last time seen, the rate window, the last M breach flags) lives in
``sensing_rule_state``, one row per rule and datastream read by its primary key: that is one
indexed lookup per rule instead of re-reading the last M Observations of a stream whose index
is shared with every writer. Handlers run once per event
id (core.runtime), in the transaction that records the event as processed, so the state moves
exactly once per Observation. A cached index of which datastreams have rules makes an
Observation of a stream with none cost no query at all; a batch reads the rules, states and
open alerts of all its streams once (``evaluate_many``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Select,
    String,
    delete,
    select,
)
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from smartcity.core import audit, clock
from smartcity.core.authz import SYSTEM, Principal, authorize, register_rule
from smartcity.core.bus import Event
from smartcity.core.db import Base, UTCDateTime
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.text import clean_name
from smartcity.sensing.models import STA_ID, StaDatastream, StaObservedProperty
from smartcity.sensing.rules import alerts
from smartcity.sensing.sta.times import parse_time_value

THRESHOLD, RATE, SILENCE, N_OF_M = "threshold", "rate", "silence", "n_of_m"
KINDS = (THRESHOLD, RATE, SILENCE, N_OF_M)
SEVERITIES = ("info", "warning", "critical")
ABOVE, BELOW = "above", "below"
# How a threshold's comparison reads in a message (高于 / 低于).
OP_WORDS = {ABOVE: N_("above"), BELOW: N_("below")}


def op_word(params: dict[str, Any]) -> str:
    """The msgid of a threshold rule's comparison (a variable, so extraction skips it)."""
    return OP_WORDS[str(params["op"])]
MAX_M = 100
MAX_WINDOW_MINUTES = 24 * 60
MAX_SILENCE_MINUTES = 7 * 24 * 60


class SensingRule(Base):
    """A rule (监测规则) on one datastream or on all datastreams of an observed property."""

    __tablename__ = "sensing_rule"
    __table_args__ = (
        CheckConstraint(
            "(datastream_id IS NULL) <> (observed_property_id IS NULL)", name="one_scope"
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(STA_ID, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    datastream_id: Mapped[int | None] = mapped_column(
        STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE"), index=True
    )
    observed_property_id: Mapped[int | None] = mapped_column(
        STA_ID, ForeignKey("sta_observed_property.id", ondelete="CASCADE"), index=True
    )
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class SensingRuleState(Base):
    """What a rule remembers of one datastream between Observations."""

    __tablename__ = "sensing_rule_state"

    rule_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sensing_rule.id", ondelete="CASCADE"), primary_key=True
    )
    datastream_id: Mapped[int] = mapped_column(
        STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE"), primary_key=True
    )
    last_time: Mapped[datetime] = mapped_column(UTCDateTime())
    # rate: {"points": [[iso time, result], ...]} inside the window; n_of_m: {"flags": [...]}
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


def _own_department(principal: Principal, obj: Any) -> bool:
    # The platform itself (jobs such as the air-quality reports) keeps rules for any
    # department; a department's machine account only for its own.
    if principal.is_("admin") or principal.via == "system":
        return True
    owner = getattr(obj, "department_id", None)
    return owner is None or owner == principal.department_id


ACTIONS: dict[str, frozenset[str]] = {
    "sensing.rule.read": frozenset({"staff", "supervisor", "admin"}),
    "sensing.rule.write": frozenset({"staff", "admin", "system"}),
    **alerts.ACTIONS,
}
register_rule("sensing.rule.write", _own_department)


# --- parameters ---------------------------------------------------------------------------


def _number(params: dict[str, Any], name: str, *, required: bool = True) -> float | None:
    value = params.get(name)
    if value is None:
        if required:
            raise InvalidInput(
                _("The parameter %(name)s is required.") % {"name": name}, field=f"params.{name}"
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidInput(
            _("The parameter %(name)s must be a number.") % {"name": name},
            field=f"params.{name}",
        )
    return float(value)


def _whole(params: dict[str, Any], name: str, low: int, high: int) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            _("The parameter %(name)s must be a whole number from %(low)s to %(high)s.")
            % {"name": name, "low": low, "high": high},
            field=f"params.{name}",
        )
    return value


def _op(params: dict[str, Any]) -> str:
    op = params.get("op")
    if op not in (ABOVE, BELOW):
        raise InvalidInput(_("The parameter op must be above or below."), field="params.op")
    return str(op)


ALLOWED = {
    THRESHOLD: {"op", "value", "hysteresis"},
    RATE: {"limit", "window_minutes"},
    SILENCE: {"minutes"},
    N_OF_M: {"op", "value", "n", "m"},
}


def check_params(kind: str, params: Any) -> dict[str, Any]:
    """The parameters of a rule kind, checked and normalised; a 422 naming the bad one."""
    if kind not in KINDS:
        raise InvalidInput(
            _("The rule kind must be one of: %(kinds)s.") % {"kinds": ", ".join(KINDS)},
            field="kind",
        )
    if not isinstance(params, dict):
        raise InvalidInput(_("The parameters must be an object."), field="params")
    unknown = sorted(set(params) - ALLOWED[kind])
    if unknown:
        raise InvalidInput(
            _("Unknown parameter %(name)s for this kind of rule.") % {"name": unknown[0]},
            field=f"params.{unknown[0]}",
        )
    if kind == THRESHOLD:
        hysteresis = _number(params, "hysteresis", required=False) or 0.0
        if hysteresis < 0:
            raise InvalidInput(_("The hysteresis cannot be negative."), field="params.hysteresis")
        return {"op": _op(params), "value": _number(params, "value"), "hysteresis": hysteresis}
    if kind == RATE:
        limit = _number(params, "limit")
        assert limit is not None
        if limit <= 0:
            raise InvalidInput(_("The limit must be above zero."), field="params.limit")
        return {
            "limit": limit,
            "window_minutes": _whole(params, "window_minutes", 1, MAX_WINDOW_MINUTES),
        }
    if kind == SILENCE:
        return {"minutes": _whole(params, "minutes", 1, MAX_SILENCE_MINUTES)}
    m = _whole(params, "m", 1, MAX_M)
    n = _whole(params, "n", 1, MAX_M)
    if n > m:
        raise InvalidInput(_("n cannot be more than m."), field="params.n")
    return {"op": _op(params), "value": _number(params, "value"), "n": n, "m": m}


# --- the rule index: which datastreams have rules ---------------------------------------------


@dataclass(frozen=True)
class _Index:
    loaded_at: float
    by_stream: dict[int, frozenset[int]]
    by_property: dict[int, frozenset[int]]


# Refreshed when rules change in this process, and at least this often for changes made by
# other processes (a new rule there starts evaluating here within this many seconds).
INDEX_TTL_SECONDS = 30.0
_index: _Index | None = None


def invalidate_index() -> None:
    global _index
    _index = None


@sa_event.listens_for(Session, "after_commit")
def _rules_committed(session: Session) -> None:
    # Invalidated again after commit: a handler may have reloaded the index between the change
    # and its commit, and cached the rules as they were.
    if session.info.pop("sensing_rules_changed", False):
        invalidate_index()


def _changed(session: AsyncSession) -> None:
    session.info["sensing_rules_changed"] = True
    invalidate_index()


async def _load_index(session: AsyncSession) -> _Index:
    global _index
    if _index is not None and time.monotonic() - _index.loaded_at < INDEX_TTL_SECONDS:
        return _index
    rows = await session.execute(
        select(SensingRule.id, SensingRule.datastream_id, SensingRule.observed_property_id).where(
            SensingRule.active.is_(True)
        )
    )
    by_stream: dict[int, set[int]] = {}
    by_property: dict[int, set[int]] = {}
    for rule_id, stream_id, property_id in rows:
        if stream_id is not None:
            by_stream.setdefault(stream_id, set()).add(rule_id)
        elif property_id is not None:
            by_property.setdefault(property_id, set()).add(rule_id)
    _index = _Index(
        time.monotonic(),
        {k: frozenset(v) for k, v in by_stream.items()},
        {k: frozenset(v) for k, v in by_property.items()},
    )
    return _index


async def rules_for(session: AsyncSession, datastream_id: int) -> list[SensingRule]:
    """The active rules that apply to a datastream (its own and its observed property's)."""
    index = await _load_index(session)
    ids = set(index.by_stream.get(datastream_id, ()))
    if index.by_property:
        property_id = await session.scalar(
            select(StaDatastream.observed_property_id).where(StaDatastream.id == datastream_id)
        )
        if property_id is not None:
            ids |= index.by_property.get(property_id, frozenset())
    if not ids:
        return []
    found = list(
        (
            await session.scalars(
                select(SensingRule)
                .where(SensingRule.id.in_(ids), SensingRule.active.is_(True))
                .order_by(SensingRule.id)
            )
        ).all()
    )
    if len(found) != len(ids):
        invalidate_index()  # a rule went away in another process (or transaction)
    return found


# --- evaluation ------------------------------------------------------------------------------


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
    index = await _load_index(session)
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
            select(alerts.SensingAlert).where(
                alerts.SensingAlert.datastream_id.in_(ruled),
                alerts.SensingAlert.rule_id.in_(list(found)),
                alerts.SensingAlert.status != alerts.RESOLVED,
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
    open_alerts: dict[tuple[int, int], alerts.SensingAlert],
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
                    reason=_("Data arrived again."),
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
    alert: alerts.SensingAlert | None,
    reading: Reading,
) -> alerts.SensingAlert | None:
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
                reason=_("Back past the threshold and its hysteresis."),
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
                reason=_("The rate of change is back within the limit."),
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
            reason=_("Fewer than %(n)s of the last %(m)s readings breach.") % p,
        )  # fmt: skip
    return None


def reading_of(event: Event) -> Reading | None:
    """The numeric reading in a ``sensing.entity.created`` event of an Observation, if any."""
    return reading_in(event.payload)


def reading_in(payload: dict[str, Any]) -> Reading | None:
    """The numeric reading of one Observation's event payload (entity_set, id, entity,
    stream), if any."""
    if payload.get("entity_set") != "Observations":
        return None
    stream = payload.get("stream") or {}
    if stream.get("kind") != "Datastream":
        return None  # MultiDatastream results are arrays: rules do not cover them yet
    entity = payload.get("entity") or {}
    value = entity.get("result")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    when = entity.get("phenomenonTime")
    if not isinstance(when, str):
        return None
    return Reading(int(stream["id"]), parse_time_value(when).last, float(value))


async def on_observation_created(session: AsyncSession, event: Event) -> None:
    """The bus handler of ``sensing.entity.created``: evaluate the rules of one Observation's
    datastream. Ingestion announces Observations in batches now (below); this still takes
    per-Observation events, e.g. those in an outbox written before that change."""
    reading = reading_of(event)
    if reading is not None:
        await evaluate(session, reading)


async def on_observations_created(session: AsyncSession, event: Event) -> None:
    """The bus handler of ``sensing.observations.created``: the Observations of one ingestion
    call (up to ingest.OBSERVATIONS_PER_EVENT), judged one after the other in their order,
    in the one transaction that records the event as processed."""
    items = event.payload.get("observations") or []
    readings = [r for r in (reading_in(p) for p in items if isinstance(p, dict)) if r]
    await evaluate_many(session, readings)


# --- silence: the one kind that needs a clock ------------------------------------------------


async def check_silence(session: AsyncSession) -> None:
    """The every-minute job: open an alert for each datastream silent past its rule's limit,
    and resolve those that reported since (also done as data arrives, in ``evaluate``)."""
    now = clock.now()
    rules = (
        await session.scalars(
            select(SensingRule).where(SensingRule.kind == SILENCE, SensingRule.active.is_(True))
        )
    ).all()
    for rule in rules:
        query = select(StaDatastream.id, StaDatastream.phenomenon_time_end)
        if rule.datastream_id is not None:
            query = query.where(StaDatastream.id == rule.datastream_id)
        else:
            query = query.where(StaDatastream.observed_property_id == rule.observed_property_id)
        streams = (await session.execute(query)).all()
        for stream_id, last in streams:
            open_alerts = await alerts.active_alerts(session, stream_id, [rule.id])
            alert = open_alerts.get(rule.id)
            # A stream that never reported has been silent since the rule began watching it.
            since = max(last, rule.created_at) if last is not None else rule.created_at
            silent = (now - since).total_seconds() / 60
            if silent >= rule.params["minutes"]:
                await alerts.raise_alert(
                    session, SYSTEM, rule, stream_id, alert, value=round(silent, 1), at=now,
                    message=_("No data for %(minutes)s minutes.") % {"minutes": int(silent)},
                    count=False,
                )  # fmt: skip
            elif alert is not None:
                await alerts.auto_resolve(
                    session, SYSTEM, alert, value=round(silent, 1), at=now,
                    reason=_("Data arrived again."),
                )  # fmt: skip
    await session.flush()


# --- the rules themselves: reads and changes ---------------------------------------------------


def readable_rules(principal: Principal) -> Select[SensingRule]:
    authorize(principal, "sensing.rule.read")
    return select(SensingRule)


async def list_rules(
    session: AsyncSession,
    principal: Principal,
    *,
    datastream_id: int | None = None,
    observed_property_id: int | None = None,
    active: bool | None = None,
) -> list[SensingRule]:
    query = readable_rules(principal)
    if datastream_id is not None:
        query = query.where(SensingRule.datastream_id == datastream_id)
    if observed_property_id is not None:
        query = query.where(SensingRule.observed_property_id == observed_property_id)
    if active is not None:
        query = query.where(SensingRule.active.is_(active))
    return list((await session.scalars(query.order_by(SensingRule.id))).all())


async def get_rule(session: AsyncSession, principal: Principal, rule_id: int) -> SensingRule:
    found = await session.scalar(readable_rules(principal).where(SensingRule.id == rule_id))
    if found is None:
        raise NotFound(_("There is no such rule."))
    return found


def _name(value: Any) -> str:
    text = clean_name(value, "name") if isinstance(value, str) else ""
    if not text or len(text) > 200:
        raise InvalidInput(_("Give the rule a name of 1 to 200 characters."), field="name")
    return text


def _severity(value: Any) -> str:
    if value not in SEVERITIES:
        raise InvalidInput(
            _("The severity must be one of: %(values)s.") % {"values": ", ".join(SEVERITIES)},
            field="severity",
        )
    return str(value)


async def _scope(
    session: AsyncSession, datastream_id: int | None, observed_property_id: int | None
) -> None:
    if (datastream_id is None) == (observed_property_id is None):
        raise InvalidInput(
            _("Name either a datastream or an observed property, not both."),
            field="datastream_id",
        )
    if datastream_id is not None and await session.get(StaDatastream, datastream_id) is None:
        raise InvalidInput(_("There is no such datastream."), field="datastream_id")
    if (
        observed_property_id is not None
        and await session.get(StaObservedProperty, observed_property_id) is None
    ):
        raise InvalidInput(_("There is no such observed property."), field="observed_property_id")


async def _department(session: AsyncSession, department_id: uuid.UUID | None) -> None:
    if department_id is not None and await session.get(Department, department_id) is None:
        raise InvalidInput(_("There is no such department."), field="department_id")


async def create_rule(
    session: AsyncSession,
    principal: Principal,
    *,
    name: Any,
    kind: Any,
    params: Any,
    severity: Any = "warning",
    datastream_id: int | None = None,
    observed_property_id: int | None = None,
    department_id: uuid.UUID | None = None,
    active: bool = True,
) -> SensingRule:
    """Define a rule; staff define rules for their own department or for none."""
    rule = SensingRule(
        name=_name(name),
        kind=str(kind),
        params=check_params(str(kind), params),
        severity=_severity(severity),
        datastream_id=datastream_id,
        observed_property_id=observed_property_id,
        department_id=department_id,
        active=bool(active),
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    authorize(principal, "sensing.rule.write", rule)
    await _scope(session, datastream_id, observed_property_id)
    await _department(session, department_id)
    session.add(rule)
    await session.flush()
    await audit.log(
        session, principal, "sensing.rule.created", f"sensing_rule:{rule.id}", kind=rule.kind
    )
    _changed(session)
    return rule


UPDATABLE = frozenset(
    {
        "name",
        "params",
        "severity",
        "department_id",
        "active",
        "datastream_id",
        "observed_property_id",
    }
)


async def update_rule(
    session: AsyncSession, principal: Principal, rule_id: int, changes: dict[str, Any]
) -> SensingRule:
    """Change a rule; the kind is fixed (its state would not carry over), new params are
    checked against it. The rule's memory of each stream starts again."""
    rule = await get_rule(session, principal, rule_id)
    authorize(principal, "sensing.rule.write", rule)
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise InvalidInput(
            _("%(name)s cannot be changed.") % {"name": unknown[0]}, field=unknown[0]
        )
    if "name" in changes:
        rule.name = _name(changes["name"])
    if "params" in changes:
        rule.params = check_params(rule.kind, changes["params"])
    if "severity" in changes:
        rule.severity = _severity(changes["severity"])
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            raise InvalidInput(_("active must be true or false."), field="active")
        rule.active = changes["active"]
    if "datastream_id" in changes or "observed_property_id" in changes:
        stream = changes.get("datastream_id", rule.datastream_id)
        prop = changes.get("observed_property_id", rule.observed_property_id)
        await _scope(session, stream, prop)
        rule.datastream_id, rule.observed_property_id = stream, prop
    if "department_id" in changes:
        await _department(session, changes["department_id"])
        rule.department_id = changes["department_id"]
        authorize(principal, "sensing.rule.write", rule)  # not handing it to another department
    rule.updated_at = clock.now()
    await session.execute(delete(SensingRuleState).where(SensingRuleState.rule_id == rule.id))
    await session.flush()
    await audit.log(
        session,
        principal,
        "sensing.rule.updated",
        f"sensing_rule:{rule.id}",
        changed=sorted(changes),
    )
    _changed(session)
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: int) -> None:
    """Remove a rule with its state and alerts (to keep the history, deactivate it instead)."""
    rule = await get_rule(session, principal, rule_id)
    authorize(principal, "sensing.rule.write", rule)
    await session.execute(delete(alerts.SensingAlert).where(alerts.SensingAlert.rule_id == rule.id))
    await session.execute(delete(SensingRuleState).where(SensingRuleState.rule_id == rule.id))
    await session.delete(rule)
    await session.flush()
    await audit.log(session, principal, "sensing.rule.deleted", f"sensing_rule:{rule_id}")
    _changed(session)
