"""Alerts of the sensing rules (告警): open → acknowledged → resolved.

A rule holds at most one unresolved alert per datastream (a partial unique index says so):
repeat breaches update its latest value, time and count instead of opening another. A rule
that raises again within ``FOLD_WINDOW`` of its alert clearing by itself (a flapping reading)
reopens that alert and counts the raise (``raise_count``) instead of opening a new one; an
alert an officer resolved by hand is never reopened, the next raise is a new alert. Each step
is kept in ``sensing_alert_event`` (the history the alert page shows), audited and emitted on
the bus (``sensing.alert.opened`` / ``.acknowledged`` / ``.resolved``; a reopening is emitted
as ``opened`` again with the same id); opening, not reopening, tells the staff of the rule's
department through their inbox.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Select,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import ObjectRule, Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account
from smartcity.core.notifications import Text, notify
from smartcity.sensing.models import StaDatastream, StaThing
from smartcity.sensing.rules.events import (
    ALERT_ACKNOWLEDGED,
    ALERT_OPENED,
    ALERT_RESOLVED,
    AlertChanged,
    AlertResolved,
)
from smartcity.sensing.rules.models import SensingAlert, SensingAlertEvent, SensingRule

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
NOTE_MAX = 500
# A raise this soon (in the readings' time) after the rule's alert on the stream cleared by
# itself continues that alert: half an hour covers a reading hovering at the line for a
# few report intervals of the city's stations (1–5 min) without hiding the next day's episode.
FOLD_WINDOW = timedelta(minutes=30)
# The steps of an alert's history (sensing_alert_event.kind).
RAISED, REOPENED, AUTO_RESOLVED = "raised", "reopened", "auto_resolved"
EV_ACKNOWLEDGED, EV_RESOLVED = "acknowledged", "resolved"
EVENT_KINDS = (RAISED, REOPENED, AUTO_RESOLVED, EV_ACKNOWLEDGED, EV_RESOLVED)
HISTORY_MAX = 500


def _may_act(principal: Principal, obj: Any) -> bool:
    """Admins act on every alert; staff on their own department's and on unassigned ones."""
    if principal.is_("admin"):
        return True
    owner = getattr(obj, "department_id", None)
    return owner is None or owner == principal.department_id


ACTIONS: dict[str, frozenset[str]] = {
    "sensing.alert.read": frozenset({"staff", "supervisor", "admin"}),
    "sensing.alert.acknowledge": frozenset({"staff", "admin"}),
    "sensing.alert.resolve": frozenset({"staff", "admin"}),
}
# Object rules (core.authz), declared in MODULE.rules through service.RULES.
RULES: dict[str, ObjectRule] = {
    "sensing.alert.acknowledge": _may_act,
    "sensing.alert.resolve": _may_act,
}


def event_payload(alert: SensingAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "datastream_id": alert.datastream_id,
        "status": alert.status,
        "severity": alert.severity,
        "department_id": str(alert.department_id) if alert.department_id else None,
        "value": alert.last_value,
        "time": alert.last_time.isoformat(),
        "breach_count": alert.breach_count,
        "raise_count": alert.raise_count,
    }


async def _record(
    session: AsyncSession,
    alert: SensingAlert,
    kind: str,
    principal: Principal,
    *,
    value: float | None = None,
    reading_time: datetime | None = None,
    note: str = "",
) -> None:
    session.add(
        SensingAlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=clock.now(),
            reading_time=reading_time,
            value=value,
            actor=principal.name[:100],
            note=note,
        )
    )
    await session.flush()


async def history(session: AsyncSession, alert: SensingAlert) -> list[SensingAlertEvent]:
    """The alert's steps, oldest first (at most HISTORY_MAX, the latest ones)."""
    rows = await session.scalars(
        select(SensingAlertEvent)
        .where(SensingAlertEvent.alert_id == alert.id)
        .order_by(SensingAlertEvent.id.desc())
        .limit(HISTORY_MAX)
    )
    return list(reversed(rows.all()))


async def active_alerts(
    session: AsyncSession, datastream_id: int, rule_ids: list[int]
) -> dict[int, SensingAlert]:
    """The unresolved alert of each rule on the datastream, by rule id."""
    if not rule_ids:
        return {}
    rows = await session.execute(
        select(SensingAlert).where(
            SensingAlert.datastream_id == datastream_id,
            SensingAlert.rule_id.in_(rule_ids),
            SensingAlert.status != RESOLVED,
        )
    )
    return {a.rule_id: a for a in rows.scalars()}


async def raise_alert(
    session: AsyncSession,
    principal: Principal,
    rule: SensingRule,
    datastream_id: int,
    existing: SensingAlert | None,
    *,
    value: float | None,
    at: datetime,
    message: str,
    count: bool = True,
) -> SensingAlert:
    """Open an alert, reopen the one that cleared by itself within the fold window, or record a
    repeat breach on the one already unresolved."""
    if existing is None:
        existing = await _reopen(session, principal, rule, datastream_id, value=value, at=at)
    if existing is not None:
        existing.last_value = value
        existing.last_time = at
        existing.message = message
        if count:
            existing.breach_count += 1
        await session.flush()
        return existing
    now = clock.now()
    alert = SensingAlert(
        rule_id=rule.id,
        datastream_id=datastream_id,
        status=OPEN,
        severity=rule.severity,
        department_id=rule.department_id,
        opened_at=now,
        first_value=value,
        last_value=value,
        last_time=at,
        breach_count=1,
        raise_count=1,
        last_raised_at=now,
        message=message,
        note="",
    )
    session.add(alert)
    await session.flush()
    await _record(session, alert, RAISED, principal, value=value, reading_time=at)
    await audit.log(
        session,
        principal,
        ALERT_OPENED.name,
        f"sensing_alert:{alert.id}",
        rule_id=rule.id,
        datastream_id=datastream_id,
        value=value,
    )
    await ALERT_OPENED.emit(session, AlertChanged.model_validate(event_payload(alert)))
    if rule.department_id is not None:
        await _tell_department(session, rule, alert)
    return alert


async def _reopen(
    session: AsyncSession,
    principal: Principal,
    rule: SensingRule,
    datastream_id: int,
    *,
    value: float | None,
    at: datetime,
) -> SensingAlert | None:
    """The rule's latest alert on the stream, reopened, when it cleared by itself at most
    FOLD_WINDOW before ``at``; or found unresolved after all (a concurrent delivery opened or
    reopened it). None when a new alert is due."""
    latest = await session.scalar(
        select(SensingAlert)
        .where(SensingAlert.rule_id == rule.id, SensingAlert.datastream_id == datastream_id)
        .order_by(SensingAlert.id.desc())
        .limit(1)
    )
    if latest is None:
        return None
    if latest.status != RESOLVED:
        return latest
    if latest.resolution != "auto" or at - latest.last_time > FOLD_WINDOW:
        return None
    now = clock.now()
    # A conditional update, not a read-modify-write: of two deliveries reopening at once
    # only one finds the alert still resolved; the other then sees it open and counts a
    # repeat breach, and the partial unique index still holds one unresolved alert.
    done = await session.execute(
        update(SensingAlert)
        .where(SensingAlert.id == latest.id, SensingAlert.status == RESOLVED)
        .values(
            # Acknowledged before it cleared: the officer is still on it.
            status=OPEN if latest.acknowledged_at is None else ACKNOWLEDGED,
            raise_count=SensingAlert.raise_count + 1,
            last_raised_at=now,
            resolved_at=None,
            resolved_by=None,
            resolution=None,
            note="",
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(latest)
    if getattr(done, "rowcount", 0) != 1:
        return None if latest.status == RESOLVED else latest
    await _record(session, latest, REOPENED, principal, value=value, reading_time=at)
    await audit.log(
        session,
        principal,
        ALERT_OPENED.name,
        f"sensing_alert:{latest.id}",
        rule_id=rule.id,
        datastream_id=datastream_id,
        value=value,
        raise_count=latest.raise_count,
    )
    await ALERT_OPENED.emit(session, AlertChanged.model_validate(event_payload(latest)))
    return latest


async def _tell_department(session: AsyncSession, rule: SensingRule, alert: SensingAlert) -> None:
    # Imported here: words imports service, which imports this module.
    from smartcity.sensing.rules.words import rules_in_words

    labels = await session.execute(
        select(StaDatastream.name, StaThing.name)
        .join(StaThing, StaThing.id == StaDatastream.thing_id)
        .where(StaDatastream.id == alert.datastream_id)
    )
    found = labels.first()
    where = f"{found[1]} · {found[0]}" if found else str(alert.datastream_id)
    said = (await rules_in_words(session, [rule], datastream_id=alert.datastream_id))[rule.id]
    staff = await session.scalars(
        select(Account.id).where(
            Account.department_id == rule.department_id,
            Account.kind == "staff",
            Account.active.is_(True),
        )
    )
    for account_id in list(staff):
        await notify(
            session,
            account_id,
            topic=ALERT_OPENED.name,
            title=Text(N_("Sensor alert: %(rule)s"), {"rule": rule.name}),
            body=f"{where}: {alert.message} {said}",
            link=f"/sensing/alerts/{alert.id}",
        )


async def auto_resolve(
    session: AsyncSession,
    principal: Principal,
    alert: SensingAlert,
    *,
    value: float | None,
    at: datetime,
    reason: str,
) -> SensingAlert:
    """The rule's condition cleared (past the hysteresis, rate back down, data again)."""
    alert.last_value = value
    alert.last_time = at
    await _record(
        session, alert, AUTO_RESOLVED, principal, value=value, reading_time=at, note=reason
    )
    return await _resolve(session, principal, alert, resolution="auto", note=reason)


async def _resolve(
    session: AsyncSession, principal: Principal, alert: SensingAlert, *, resolution: str, note: str
) -> SensingAlert:
    alert.status = RESOLVED
    alert.resolved_at = clock.now()
    alert.resolved_by = principal.name[:100]
    alert.resolution = resolution
    alert.note = note
    await session.flush()
    await audit.log(
        session,
        principal,
        ALERT_RESOLVED.name,
        f"sensing_alert:{alert.id}",
        resolution=resolution,
        note=note,
    )
    await ALERT_RESOLVED.emit(
        session, AlertResolved.model_validate({**event_payload(alert), "resolution": resolution})
    )
    return alert


# --- reads and staff actions ----------------------------------------------------------------


def readable_alerts(principal: Principal) -> Select[SensingAlert]:
    """Alerts staff, supervisors and admins may read: the city's sensors are everyone's
    concern inside the administration; acting on them is for their department (_may_act)."""
    authorize(principal, "sensing.alert.read")
    return select(SensingAlert)


def _filtered(
    principal: Principal,
    *,
    status: str | None = None,
    active: bool = False,
    severity: str | None = None,
    rule_id: int | None = None,
    datastream_id: int | None = None,
    department_id: uuid.UUID | None = None,
) -> Select[SensingAlert]:
    if status is not None and status not in STATUSES:
        raise InvalidInput(_("Unknown alert status."), field="status")
    query = readable_alerts(principal)
    if status is not None:
        query = query.where(SensingAlert.status == status)
    if active:
        query = query.where(SensingAlert.status != RESOLVED)
    if severity is not None:
        query = query.where(SensingAlert.severity == severity)
    if rule_id is not None:
        query = query.where(SensingAlert.rule_id == rule_id)
    if datastream_id is not None:
        query = query.where(SensingAlert.datastream_id == datastream_id)
    if department_id is not None:
        query = query.where(SensingAlert.department_id == department_id)
    return query


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    *,
    limit: int = 50,
    offset: int = 0,
    **filters: Any,
) -> list[SensingAlert]:
    """Alerts newest raise first (a reopened alert comes back to the top); ``active`` keeps
    the open and acknowledged ones. Filters as ``count_alerts``."""
    if not 1 <= limit <= 500:
        raise InvalidInput(_("Ask for 1 to 500 alerts at a time."), field="limit")
    if not 0 <= offset <= 1_000_000:
        raise InvalidInput(_("The offset must be from 0 to 1000000."), field="offset")
    query = _filtered(principal, **filters).order_by(
        SensingAlert.last_raised_at.desc(), SensingAlert.id.desc()
    )
    return list((await session.scalars(query.limit(limit).offset(offset))).all())


async def count_alerts(session: AsyncSession, principal: Principal, **filters: Any) -> int:
    """How many alerts the filters (status, active, severity, rule_id, datastream_id,
    department_id) keep."""
    query = _filtered(principal, **filters)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    return int(total or 0)


async def counts_by_status(session: AsyncSession, principal: Principal) -> dict[str, int]:
    query = (
        readable_alerts(principal)
        .with_only_columns(SensingAlert.status, func.count())
        .group_by(SensingAlert.status)
    )
    found = {str(s): int(n) for s, n in (await session.execute(query)).all()}
    return {s: found.get(s, 0) for s in STATUSES}


async def get_alert(session: AsyncSession, principal: Principal, alert_id: int) -> SensingAlert:
    found = await session.scalar(readable_alerts(principal).where(SensingAlert.id == alert_id))
    if found is None:
        raise NotFound(_("There is no such alert."))
    return found


def _clean_note(note: str | None, *, required: bool) -> str:
    text = (note or "").strip()
    if required and not text:
        raise InvalidInput(_("Say how the alert was resolved."), field="note")
    if len(text) > NOTE_MAX:
        raise InvalidInput(
            _("Keep the note to %(max)s characters or fewer.") % {"max": NOTE_MAX}, field="note"
        )
    return text


async def acknowledge(
    session: AsyncSession, principal: Principal, alert_id: int, note: str | None = None
) -> SensingAlert:
    """确认: staff have seen the alert and are on it; it stays until resolved."""
    alert = await get_alert(session, principal, alert_id)
    authorize(principal, "sensing.alert.acknowledge", alert)
    text = _clean_note(note, required=False)
    if alert.status == RESOLVED:
        raise Conflict(_("A resolved alert cannot be acknowledged."), status_now=alert.status)
    if alert.status != OPEN:
        raise Conflict(_("The alert is already acknowledged."), status_now=alert.status)
    alert.status = ACKNOWLEDGED
    alert.acknowledged_at = clock.now()
    alert.acknowledged_by = principal.name[:100]
    if text:
        alert.note = text
    await session.flush()
    await _record(session, alert, EV_ACKNOWLEDGED, principal, note=text)
    await audit.log(
        session, principal, ALERT_ACKNOWLEDGED.name, f"sensing_alert:{alert.id}", note=text
    )
    payload = AlertChanged.model_validate(event_payload(alert))
    await ALERT_ACKNOWLEDGED.emit(session, payload)
    return alert


async def resolve(
    session: AsyncSession, principal: Principal, alert_id: int, note: str | None
) -> SensingAlert:
    """解除: staff close the alert by hand, saying how (the note is required)."""
    alert = await get_alert(session, principal, alert_id)
    authorize(principal, "sensing.alert.resolve", alert)
    text = _clean_note(note, required=True)
    if alert.status == RESOLVED:
        raise Conflict(_("The alert is already resolved."), status_now=alert.status)
    await _record(session, alert, EV_RESOLVED, principal, note=text)
    return await _resolve(session, principal, alert, resolution="manual", note=text)
