"""Alerts of the sensing rules (告警): open → acknowledged → resolved.

A rule holds at most one unresolved alert per datastream (a partial unique index says so):
repeat breaches update its latest value, time and count instead of opening another. Every
transition is audited and emitted on the bus (``sensing.alert.opened`` / ``.acknowledged`` /
``.resolved``); opening tells the staff of the rule's department through their inbox.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import ObjectRule, Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account
from smartcity.core.notifications import Text, notify
from smartcity.sensing.models import StaDatastream
from smartcity.sensing.rules.events import (
    ALERT_ACKNOWLEDGED,
    ALERT_OPENED,
    ALERT_RESOLVED,
    AlertChanged,
    AlertResolved,
)
from smartcity.sensing.rules.models import SensingAlert, SensingRule

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
NOTE_MAX = 1000


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
    }


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
    """Open an alert, or record a repeat breach on the one already unresolved."""
    if existing is not None:
        existing.last_value = value
        existing.last_time = at
        existing.message = message
        if count:
            existing.breach_count += 1
        await session.flush()
        return existing
    alert = SensingAlert(
        rule_id=rule.id,
        datastream_id=datastream_id,
        status=OPEN,
        severity=rule.severity,
        department_id=rule.department_id,
        opened_at=clock.now(),
        first_value=value,
        last_value=value,
        last_time=at,
        breach_count=1,
        message=message,
        note="",
    )
    session.add(alert)
    await session.flush()
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


async def _tell_department(session: AsyncSession, rule: SensingRule, alert: SensingAlert) -> None:
    stream_name = await session.scalar(
        select(StaDatastream.name).where(StaDatastream.id == alert.datastream_id)
    )
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
            body=f"{stream_name or alert.datastream_id}: {alert.message}",
            link=f"/sensing/alerts#alert-{alert.id}",
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


async def list_alerts(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    active: bool = False,
    severity: str | None = None,
    rule_id: int | None = None,
    datastream_id: int | None = None,
    department_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[SensingAlert]:
    """Alerts newest first; ``active`` keeps the open and acknowledged ones."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(_("Unknown alert status."), field="status")
    if not 1 <= limit <= 500:
        raise InvalidInput(_("Ask for 1 to 500 alerts at a time."), field="limit")
    if offset < 0:
        raise InvalidInput(_("The offset cannot be negative."), field="offset")
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
    query = query.order_by(SensingAlert.opened_at.desc(), SensingAlert.id.desc())
    return list((await session.scalars(query.limit(limit).offset(offset))).all())


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
            _("Keep the note under %(max)s characters.") % {"max": NOTE_MAX}, field="note"
        )
    return text


async def acknowledge(
    session: AsyncSession, principal: Principal, alert_id: int, note: str | None = None
) -> SensingAlert:
    """确认: staff have seen the alert and are on it; it stays until resolved."""
    alert = await get_alert(session, principal, alert_id)
    authorize(principal, "sensing.alert.acknowledge", alert)
    text = _clean_note(note, required=False)
    if alert.status != OPEN:
        raise Conflict(_("Only an open alert can be acknowledged."), status_now=alert.status)
    alert.status = ACKNOWLEDGED
    alert.acknowledged_at = clock.now()
    alert.acknowledged_by = principal.name[:100]
    if text:
        alert.note = text
    await session.flush()
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
    return await _resolve(session, principal, alert, resolution="manual", note=text)
