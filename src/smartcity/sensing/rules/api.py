"""HTTP of the sensing rules and alerts, under /api/v1/sensing/rules and /api/v1/sensing/alerts.
Staff and admins define rules and act on alerts; supervisors read them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from smartcity.core.authz import Principal
from smartcity.core.limits import RowId
from smartcity.core.security import require_principal
from smartcity.core.text import FreeText, Name
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing.rules import alerts, words
from smartcity.sensing.rules import service as rules

router = APIRouter(prefix="/api/v1/sensing", route_class=UnitOfWorkRoute, tags=["sensing"])

Reader = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin"))]
Staff = Annotated[Principal, Depends(require_principal("staff", "admin"))]


class RuleIn(BaseModel):
    """A new rule. ``params`` depend on ``kind`` (see docs/sensing.md, Rules and alerts)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: Literal["threshold", "rate", "silence", "n_of_m"]
    params: dict[str, Any]
    severity: Literal["info", "warning", "critical"] = "warning"
    datastream_id: RowId | None = None
    observed_property_id: RowId | None = None
    department_id: uuid.UUID | None = None
    active: bool = True


class RulePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    params: dict[str, Any] | None = None
    severity: Literal["info", "warning", "critical"] | None = None
    datastream_id: RowId | None = None
    observed_property_id: RowId | None = None
    department_id: uuid.UUID | None = None
    active: bool | None = None


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    params: dict[str, Any]
    severity: str
    datastream_id: int | None
    observed_property_id: int | None
    department_id: uuid.UUID | None
    active: bool
    created_at: datetime
    updated_at: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    datastream_id: int
    status: str
    severity: str
    department_id: uuid.UUID | None
    opened_at: datetime
    first_value: float | None
    last_value: float | None
    last_time: datetime
    breach_count: int
    raise_count: int
    last_raised_at: datetime
    message: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution: str | None
    note: str


class AlertEventOut(BaseModel):
    """One step of an alert's history: raised, reopened, auto_resolved, acknowledged,
    resolved."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    at: datetime
    reading_time: datetime | None
    value: float | None
    actor: str
    note: str


class AlertDetailOut(AlertOut):
    rule_in_words: str
    history: list[AlertEventOut]


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: FreeText | None = Field(default=None, max_length=alerts.NOTE_MAX)


@router.get("/rules", summary="Rules, by datastream, observed property or active flag")
async def list_rules(
    session: DbSession,
    principal: Reader,
    datastream_id: int | None = None,
    observed_property_id: int | None = None,
    active: bool | None = None,
) -> list[RuleOut]:
    found = await rules.list_rules(
        session,
        principal,
        datastream_id=datastream_id,
        observed_property_id=observed_property_id,
        active=active,
    )
    return [RuleOut.model_validate(r) for r in found]


@router.post("/rules", status_code=201, summary="Define a rule")
async def create_rule(body: RuleIn, session: DbSession, principal: Staff) -> RuleOut:
    rule = await rules.create_rule(session, principal, **body.model_dump())
    return RuleOut.model_validate(rule)


@router.get("/rules/{rule_id}", summary="One rule")
async def get_rule(rule_id: int, session: DbSession, principal: Reader) -> RuleOut:
    return RuleOut.model_validate(await rules.get_rule(session, principal, rule_id))


@router.patch("/rules/{rule_id}", summary="Change a rule (its kind stays)")
async def update_rule(
    rule_id: int, body: RulePatch, session: DbSession, principal: Staff
) -> RuleOut:
    rule = await rules.update_rule(session, principal, rule_id, body.model_dump(exclude_unset=True))
    return RuleOut.model_validate(rule)


@router.delete("/rules/{rule_id}", status_code=204, summary="Remove a rule and its alerts")
async def delete_rule(rule_id: int, session: DbSession, principal: Staff) -> Response:
    await rules.delete_rule(session, principal, rule_id)
    return Response(status_code=204)


@router.get("/alerts", summary="Alerts, newest first, filtered")
async def list_alerts(
    session: DbSession,
    principal: Reader,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    active: bool = False,
    severity: Literal["info", "warning", "critical"] | None = None,
    rule_id: int | None = None,
    datastream_id: int | None = None,
    department_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AlertOut]:
    found = await alerts.list_alerts(
        session,
        principal,
        status=status,
        active=active,
        severity=severity,
        rule_id=rule_id,
        datastream_id=datastream_id,
        department_id=department_id,
        limit=limit,
        offset=offset,
    )
    return [AlertOut.model_validate(a) for a in found]


@router.get("/alerts/{alert_id}", summary="One alert, its rule in words and its history")
async def get_alert(alert_id: RowId, session: DbSession, principal: Reader) -> AlertDetailOut:
    alert = await alerts.get_alert(session, principal, alert_id)
    rule = await rules.get_rule(session, principal, alert.rule_id)
    said = await words.rules_in_words(session, [rule], datastream_id=alert.datastream_id)
    return AlertDetailOut.model_validate(
        {
            **AlertOut.model_validate(alert).model_dump(),
            "rule_in_words": said[rule.id],
            "history": [
                AlertEventOut.model_validate(e) for e in await alerts.history(session, alert)
            ],
        }
    )


@router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an open alert")
async def acknowledge(
    alert_id: RowId, session: DbSession, principal: Staff, body: NoteIn | None = None
) -> AlertOut:
    alert = await alerts.acknowledge(session, principal, alert_id, body.note if body else None)
    return AlertOut.model_validate(alert)


@router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert by hand, with a note")
async def resolve(alert_id: RowId, body: NoteIn, session: DbSession, principal: Staff) -> AlertOut:
    return AlertOut.model_validate(await alerts.resolve(session, principal, alert_id, body.note))
