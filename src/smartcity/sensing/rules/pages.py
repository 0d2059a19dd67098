"""Staff pages of monitoring rules (监测规则): the list with what each rule watches in words,
a form to define one (works without JavaScript; errors next to their fields, nothing typed is
lost), editing, switching a rule off and on, and deleting it. The rules service
(sensing/rules/service.py) checks the parameters and who may change what."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlalchemy import func, select
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from smartcity.core.authz import Principal, can
from smartcity.core.errors import Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing import labels
from smartcity.sensing.models import StaObservedProperty
from smartcity.sensing.rules import alerts, words
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.alert_pages import KIND_LABELS, SEVERITY_LABELS
from smartcity.sensing.rules.models import SensingAlert, SensingRule
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf, data_name, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Reader = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin"))]
Staff = Annotated[Principal, Depends(require_page("staff", "admin"))]

# The form's parameter fields per kind: (form name, parameter, whole number?).
PARAM_FIELDS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    rules.THRESHOLD: (
        ("threshold-op", "op", False),
        ("threshold-value", "value", False),
        ("threshold-hysteresis", "hysteresis", False),
    ),
    rules.RATE: (("rate-limit", "limit", False), ("rate-window_minutes", "window_minutes", True)),
    rules.SILENCE: (("silence-minutes", "minutes", True),),
    rules.N_OF_M: (
        ("n_of_m-op", "op", False),
        ("n_of_m-value", "value", False),
        ("n_of_m-n", "n", True),
        ("n_of_m-m", "m", True),
    ),
}
TEXT_FIELDS = ("name", "kind", "scope", "datastream_id", "observed_property_id", "severity")
FORM_FIELDS = (
    *TEXT_FIELDS,
    "department_id",
    *(name for fields in PARAM_FIELDS.values() for name, _p, _w in fields),
)
DATASTREAM, PROPERTY = "datastream", "property"


# --- rules in words ----------------------------------------------------------------------------


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


# --- the list ----------------------------------------------------------------------------------


async def _names(session: DbSession, table: Any, ids: set[Any]) -> dict[Any, str]:
    if not ids:
        return {}
    rows = await session.execute(select(table.id, table.name).where(table.id.in_(ids)))
    return {i: n for i, n in rows.all()}


async def scope_names(
    session: DbSession, found: list[SensingRule]
) -> tuple[dict[int, str], dict[int, str], dict[Any, Department]]:
    """(datastream labels "Thing · stream", observed property names in the reader's language,
    departments)."""
    streams = await rules.stream_labels(
        session, {r.datastream_id for r in found if r.datastream_id is not None}
    )
    properties = await _names(
        session,
        StaObservedProperty,
        {r.observed_property_id for r in found if r.observed_property_id is not None},
    )
    # Departments as rows, so pages name them in the reader's language (name_en).
    departments: dict[Any, Department] = dict(
        await rules.departments_by_id(
            session, {r.department_id for r in found if r.department_id is not None}
        )
    )
    return (
        streams,
        {i: labels.observed_property_label(n) for i, n in properties.items()},
        departments,
    )


async def _open_alerts(session: DbSession, principal: Principal) -> dict[int, int]:
    query = (
        alerts.readable_alerts(principal)
        .with_only_columns(SensingAlert.rule_id, func.count())
        .where(SensingAlert.status != alerts.RESOLVED)
        .group_by(SensingAlert.rule_id)
    )
    return {rule_id: n for rule_id, n in (await session.execute(query)).all()}


@router.get("/sensing/rules")
async def rules_page(request: Request, session: DbSession, principal: Reader) -> Response:
    found = await rules.list_rules(session, principal)
    streams, properties, departments = await scope_names(session, found)
    return render(
        request,
        "sensing/rules.html",
        {
            "rules": found,
            "streams": streams,
            "properties": properties,
            "departments": departments,
            "open_alerts": await _open_alerts(session, principal),
            "in_words": await words.rules_in_words(session, found, mark=data_name),
            "kind_labels": KIND_LABELS,
            "severity_labels": SEVERITY_LABELS,
            "may_write": {r.id for r in found if can(principal, "sensing.rule.write", r)},
            "may_create": principal.is_("staff", "admin"),
            "done": request.query_params.get("done", ""),
            "tab": "rules",
        },
        principal=principal,
    )


# --- the form ----------------------------------------------------------------------------------


async def _form_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    rule: SensingRule | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    stream_label = ""
    stream_id = values.get("datastream_id", "")
    if stream_id.isdigit() and len(stream_id) < 19:
        stream_label = (await scope_names_for_stream(session, int(stream_id))) or ""
    observed = await rules.observed_properties(session)
    return render(
        request,
        "sensing/rule_form.html",
        {
            "rule": rule,
            "values": values,
            "errors": errors or {},
            "stream_label": stream_label,
            "observed_properties": observed,
            "observed_property_label": labels.observed_property_label,
            "departments": await rules.assignable_departments(session, principal),
            "kind_labels": KIND_LABELS,
            "severity_labels": SEVERITY_LABELS,
            "op_labels": rules.OP_WORDS,
            "kinds": rules.KINDS,
            "severities": rules.SEVERITIES,
            "tab": "rules",
        },
        status_code=status_code,
        principal=principal,
    )


async def scope_names_for_stream(session: DbSession, stream_id: int) -> str | None:
    return (await rules.stream_labels(session, {stream_id})).get(stream_id)


def _initial(request: Request, principal: Principal) -> dict[str, str]:
    """An empty form, prefilled from the query (?datastream_id= from a datastream's page)."""
    query = request.query_params
    values = {
        "kind": rules.THRESHOLD,
        "severity": "warning",
        "scope": DATASTREAM,
        "threshold-op": rules.ABOVE,
        "n_of_m-op": rules.ABOVE,
        "department_id": str(principal.department_id or ""),
    }
    for name in ("datastream_id", "observed_property_id", "kind", "name"):
        if query.get(name):
            values[name] = query[name][:200]
    if query.get("observed_property_id") and not query.get("datastream_id"):
        values["scope"] = PROPERTY
    return values


def _values_of(rule: SensingRule) -> dict[str, str]:
    values = {
        "name": rule.name,
        "kind": rule.kind,
        "severity": rule.severity,
        "scope": DATASTREAM if rule.datastream_id is not None else PROPERTY,
        "datastream_id": str(rule.datastream_id or ""),
        "observed_property_id": str(rule.observed_property_id or ""),
        "department_id": str(rule.department_id or ""),
    }
    for name, param, _whole in PARAM_FIELDS.get(rule.kind, ()):
        if param in rule.params and rule.params[param] is not None:
            values[name] = _num(rule.params[param])
    return values


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:300] if isinstance(value, str) else ""


def _number(text: str, whole: bool) -> int | float | str:
    """The form's text as a number for the rules service; text that is no number is kept as
    it is, so the service's message names the parameter."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if whole and value.is_integer() else value


@router.get("/sensing/rules/new")
async def new_rule_form(request: Request, session: DbSession, principal: Staff) -> Response:
    return await _form_page(
        request, session, principal, rule=None, values=_initial(request, principal)
    )


def _parse(
    values: dict[str, str], kind: str, *, fixed_kind: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """The service's arguments from the form, and the errors found before asking it."""
    errors: dict[str, str] = {}
    if not fixed_kind and kind not in rules.KINDS:
        errors["kind"] = _("Choose what kind of rule this is.")
    params: dict[str, Any] = {}
    for name, param, whole in PARAM_FIELDS.get(kind, ()):
        text = values.get(name, "")
        if not text:
            continue  # left out: the service says whether it is required
        if param == "op":
            params[param] = text
            continue
        value = _number(text, whole)
        if isinstance(value, str):
            errors[name] = (
                _("Enter a whole number, e.g. 5.") if whole else _("Enter a number, e.g. 75.")
            )
        params[param] = value
    stream: int | None = None
    prop: int | None = None
    scope = values.get("scope")
    if scope == PROPERTY:
        text = values.get("observed_property_id", "")
        if not text.isdigit() or len(text) > 18:
            errors["observed_property_id"] = _("Choose the observed property.")
        else:
            prop = int(text)
    else:
        text = values.get("datastream_id", "")
        if not text.isdigit() or len(text) > 18:
            errors["datastream_id"] = _("Enter the datastream's number, e.g. 12.")
        else:
            stream = int(text)
    department: uuid.UUID | None = None
    if values.get("department_id"):
        try:
            department = uuid.UUID(values["department_id"])
        except ValueError:
            errors["department_id"] = _("There is no such department.")
    arguments = {
        "name": values.get("name", ""),
        "params": params,
        "severity": values.get("severity", ""),
        "datastream_id": stream,
        "observed_property_id": prop,
        "department_id": department,
    }
    return arguments, errors


def field_of(problem: Problem, kind: str) -> str:
    """The form field a service error names (``params.value`` → ``threshold-value``)."""
    field = str(problem.extensions.get("field") or "name")
    if field.startswith("params."):
        param = field.removeprefix("params.")
        for name, known, _whole in PARAM_FIELDS.get(kind, ()):
            if known == param:
                return name
        return "kind"
    if field == "params":
        return "kind"
    return field if field in FORM_FIELDS else "name"


async def _save(
    request: Request, session: DbSession, principal: Principal, rule: SensingRule | None
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    values = {name: _text(form, name) for name in FORM_FIELDS}
    rule_id = rule.id if rule is not None else None
    kind = rule.kind if rule is not None else values["kind"]
    values["kind"] = kind
    arguments, errors = _parse(values, kind, fixed_kind=rule is not None)
    forbidden = False
    if not errors:
        try:
            # A savepoint: a refused rule leaves nothing behind in the request's transaction.
            async with session.begin_nested():
                if rule is None:
                    rule = await rules.create_rule(session, principal, kind=kind, **arguments)
                    done = "created"
                else:
                    await rules.update_rule(session, principal, rule.id, arguments)
                    done = "updated"
        except Problem as problem:
            if problem.status == 403:
                forbidden = True
                errors["department_id"] = _(
                    "You may define rules only for your own department, or for none."
                )
            elif problem.status == 422:
                errors[field_of(problem, kind)] = problem.detail
            else:
                raise
    if errors:
        return await _form_page(
            request,
            session,
            principal,
            # The rule as stored: a refused change was rolled back with its savepoint.
            rule=await rules.get_rule(session, principal, rule_id) if rule_id else None,
            values=values,
            errors=errors,
            status_code=403 if forbidden else 422,
        )
    assert rule is not None
    return RedirectResponse(
        f"/sensing/rules?{urlencode({'done': done})}#rule-{rule.id}", status_code=303
    )


@router.post("/sensing/rules/new")
async def create_rule(request: Request, session: DbSession, principal: Staff) -> Response:
    return await _save(request, session, principal, None)


@router.get("/sensing/rules/{rule_id}/edit")
async def edit_rule_form(
    rule_id: int, request: Request, session: DbSession, principal: Staff
) -> Response:
    rule = await rules.get_rule(session, principal, rule_id)
    return await _form_page(request, session, principal, rule=rule, values=_values_of(rule))


@router.post("/sensing/rules/{rule_id}/edit")
async def edit_rule(
    rule_id: int, request: Request, session: DbSession, principal: Staff
) -> Response:
    rule = await rules.get_rule(session, principal, rule_id)
    return await _save(request, session, principal, rule)


@router.post("/sensing/rules/{rule_id}/active")
async def switch_rule(
    rule_id: int, request: Request, session: DbSession, principal: Staff
) -> Response:
    """Switch a rule off (its history stays) or on again."""
    form = await request.form()
    check_csrf(request, form)
    active = form.get("active") == "1"
    await rules.update_rule(session, principal, rule_id, {"active": active})
    done = "activated" if active else "deactivated"
    return RedirectResponse(f"/sensing/rules?done={done}#rule-{rule_id}", status_code=303)


@router.post("/sensing/rules/{rule_id}/delete")
async def delete_rule(
    rule_id: int, request: Request, session: DbSession, principal: Staff
) -> Response:
    form = await request.form()
    check_csrf(request, form)
    await rules.delete_rule(session, principal, rule_id)
    return RedirectResponse("/sensing/rules?done=deleted", status_code=303)
