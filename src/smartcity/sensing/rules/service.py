"""Rules on sensor data (监测规则): their kinds and parameters, who may change them, the
cached index of which datastreams have rules, and reading and changing the rules.

Four kinds, each on one datastream or on every datastream of an observed property:

- ``threshold``: raise when the result crosses ``value`` (``op`` above or below); resolve only
  once it is back past ``value ∓ hysteresis``, so a reading hovering at the line does not
  flap.
- ``rate``: raise when |Δresult/Δt| between the new reading and the oldest one inside the
  last ``window_minutes`` exceeds ``limit`` (per minute); resolve when it no longer does.
- ``silence``: raise when a datastream has no Observation for ``minutes`` (a job every
  minute, jobs.py, the only kind that needs a clock); resolve when data arrives again.
- ``n_of_m``: raise when at least ``n`` of the last ``m`` results breach the threshold;
  resolve when fewer do.

How Observations are judged is evaluation.py; the tables are models.py. A cached index of
which datastreams have rules (here) makes an Observation of a stream with none cost no query
at all.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Select,
    delete,
    select,
)
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from smartcity.core import audit, clock
from smartcity.core.authz import ObjectRule, Principal, authorize
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.text import clean_name
from smartcity.sensing.models import StaDatastream, StaObservedProperty, StaThing
from smartcity.sensing.rules import alerts
from smartcity.sensing.rules.models import (
    SensingAlert,
    SensingAlertEvent,
    SensingRule,
    SensingRuleState,
)

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
# Object rules (core.authz), declared in MODULE.rules.
RULES: dict[str, ObjectRule] = {"sensing.rule.write": _own_department, **alerts.RULES}


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


async def load_index(session: AsyncSession) -> _Index:
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
    index = await load_index(session)
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
    alert_ids = select(SensingAlert.id).where(SensingAlert.rule_id == rule.id)
    await session.execute(
        delete(SensingAlertEvent).where(SensingAlertEvent.alert_id.in_(alert_ids))
    )
    await session.execute(delete(SensingAlert).where(SensingAlert.rule_id == rule.id))
    await session.execute(delete(SensingRuleState).where(SensingRuleState.rule_id == rule.id))
    await session.delete(rule)
    await session.flush()
    await audit.log(session, principal, "sensing.rule.deleted", f"sensing_rule:{rule_id}")
    _changed(session)


# --- names the rule and alert pages show -------------------------------------------------------


async def departments_by_id(
    session: AsyncSession, department_ids: set[uuid.UUID]
) -> dict[uuid.UUID, Department]:
    """The rules' departments as rows, so pages name them in the reader's language."""
    if not department_ids:
        return {}
    rows = await session.scalars(select(Department).where(Department.id.in_(department_ids)))
    return {d.id: d for d in rows}


async def stream_labels(session: AsyncSession, stream_ids: set[int]) -> dict[int, str]:
    """Datastreams as staff read them, "Thing · stream", by id."""
    if not stream_ids:
        return {}
    rows = await session.execute(
        select(StaDatastream.id, StaDatastream.name, StaThing.name)
        .join(StaThing, StaThing.id == StaDatastream.thing_id)
        .where(StaDatastream.id.in_(stream_ids))
    )
    return {i: f"{thing} · {name}" for i, name, thing in rows.all()}


async def thing_names(session: AsyncSession, stream_ids: set[int]) -> dict[int, str]:
    """The name of each Datastream's Thing, by Datastream id."""
    if not stream_ids:
        return {}
    rows = await session.execute(
        select(StaDatastream.id, StaThing.name)
        .join(StaThing, StaThing.id == StaDatastream.thing_id)
        .where(StaDatastream.id.in_(stream_ids))
    )
    return {int(i): str(name) for i, name in rows.all()}


async def rule_names(session: AsyncSession, rule_ids: set[int]) -> dict[int, str]:
    if not rule_ids:
        return {}
    rows = await session.execute(
        select(SensingRule.id, SensingRule.name).where(SensingRule.id.in_(rule_ids))
    )
    return {int(i): str(name) for i, name in rows.all()}


async def observed_properties(session: AsyncSession) -> list[StaObservedProperty]:
    """Every ObservedProperty, by name: what a rule may watch across all streams."""
    return list(
        await session.scalars(select(StaObservedProperty).order_by(StaObservedProperty.name))
    )


async def assignable_departments(session: AsyncSession, principal: Principal) -> list[Department]:
    """The departments this person may hand a rule to: any for admins, their own for staff."""
    query = select(Department).where(Department.active).order_by(Department.code)
    if not principal.is_("admin"):
        if principal.department_id is None:
            return []
        query = query.where(Department.id == principal.department_id)
    return list((await session.scalars(query)).all())
