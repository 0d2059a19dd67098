"""Drafts of an application (申请草稿): starting one, saving answers checked by each field's
type (暂存), and deleting a draft."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, i18n
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.text import CONTROLS_IN_TEXT
from smartcity.registry.contract import check_resident_id
from smartcity.services.application.access import own_application, own_draft
from smartcity.services.application.prefill import field_states, registry_record
from smartcity.services.models import Application, Material, ServiceItem
from smartcity.services.service import get_service_item

TEXT_MAX = 200
TEXTAREA_MAX = 2000
_PHONE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")
_NUMBER = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,4})?$")
# Characters that cannot be stored in an answer or a file name.
# The platform's rule for typed text (core.text): controls, C1 and bidi overrides.
CONTROL_CHARACTERS = CONTROLS_IN_TEXT


# --- the answers ------------------------------------------------------------------------------


def _text(value: str, label: str, name: str, limit: int, *, multiline: bool = False) -> str:
    if len(value) > limit:
        raise InvalidInput(
            _("%(label)s is at most %(max)s characters.") % {"label": label, "max": limit},
            field=name,
        )
    cleaned = value if multiline else value.replace("\n", " ").replace("\r", " ")
    if CONTROL_CHARACTERS.search(cleaned):
        raise InvalidInput(
            _("%(label)s contains characters that cannot be stored.") % {"label": label},
            field=name,
        )
    return cleaned


def clean_answer(form_field: Mapping[str, Any], raw: Any) -> str:
    """One answer checked against its field's type; "" clears it. InvalidInput names the field."""
    name, label = str(form_field["name"]), str(form_field.get("label") or form_field["name"])
    kind = str(form_field.get("type") or "text")
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise InvalidInput(_("%(label)s must be text.") % {"label": label}, field=name)
    value = str(raw).strip()
    if not value:
        return ""
    if kind == "textarea":
        return _text(value, label, name, TEXTAREA_MAX, multiline=True)
    if kind == "date":
        try:
            day = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            day = None
        if day is None or not 1900 <= day.year <= 2100:
            raise InvalidInput(
                _("%(label)s: enter a date like 2026-10-09.") % {"label": label}, field=name
            )
        return day.isoformat()
    if kind == "number":
        if not _NUMBER.match(value):
            raise InvalidInput(
                _("%(label)s: enter a number, e.g. 120 or 3.5.") % {"label": label}, field=name
            )
        whole, dot, fraction = value.partition(".")
        fraction = fraction.rstrip("0")
        return str(int(whole)) + (dot + fraction if fraction else "")
    if kind == "id_number":
        return check_resident_id(value, name).number
    if kind == "phone":
        phone = value.replace(" ", "")
        if not _PHONE.match(phone):
            raise InvalidInput(
                _("%(label)s: enter a mobile number of 11 digits or a landline like 0755-12345678.")
                % {"label": label},
                field=name,
            )
        return phone
    if kind == "select" and form_field.get("options"):
        options = [str(o) for o in form_field["options"]]
        if value not in options:
            raise InvalidInput(
                _("%(label)s: choose one of %(options)s.")
                % {"label": label, "options": "、".join(options)},
                field=name,
            )
        return value
    return _text(value, label, name, TEXT_MAX)


def clean_answers(
    item: ServiceItem, answers: Mapping[str, Any], locked: Iterable[str] = ()
) -> tuple[dict[str, str], dict[str, str]]:
    """The given answers checked, and the error of each refused one, by field name."""
    fields = {str(f["name"]): f for f in item.form_fields}
    locked = set(locked)
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, raw in answers.items():
        form_field = fields.get(name)
        if form_field is None:
            errors[name] = _("This form has no field %(name)s.") % {"name": name}
        elif name in locked:
            errors[name] = _("%(label)s comes from the city's records and is not asked again.") % {
                "label": form_field.get("label") or name
            }
        else:
            try:
                cleaned[name] = clean_answer(form_field, raw)
            except InvalidInput as exc:
                errors[name] = exc.detail
    return cleaned, errors


def refusal(errors: Mapping[str, str]) -> InvalidInput:
    """The 422 for refused answers: the first one's message and field, and every one in
    ``errors``."""
    first = next(iter(errors))
    return InvalidInput(
        errors[first],
        field=first,
        errors=[{"field": name, "message": message} for name, message in errors.items()],
    )


# --- drafts -------------------------------------------------------------------------------------


def who_may_apply(item: ServiceItem) -> str:
    """Who may apply for the item, in words: 个人、企业."""
    return i18n.list_separator().join(
        _("citizens") if k == "citizen" else _("enterprises") for k in item.applicant_kinds
    )


def check_applicant_kind(item: ServiceItem, principal: Principal) -> None:
    """403 naming who may apply unless the principal's kind is one the item admits."""
    if principal.kind not in item.applicant_kinds:
        who = who_may_apply(item)
        raise Forbidden(
            _("%(item)s is for %(who)s; you are signed in as %(kind)s.")
            % {"item": item.name, "who": who, "kind": _(principal.kind)},
            applicant_kinds=list(item.applicant_kinds),
        )


async def open_draft(
    session: AsyncSession, principal: Principal, item: ServiceItem
) -> Application | None:
    """The applicant's open draft for the item, if any."""
    if principal.id is None:
        return None
    return (
        await session.execute(
            select(Application)
            .where(
                Application.applicant_account_id == principal.id,
                Application.item_id == item.id,
                Application.status == "draft",
            )
            .order_by(Application.created_at)
            .limit(1)
        )
    ).scalar_one_or_none()


async def start_application(
    session: AsyncSession, principal: Principal, item_code: str
) -> tuple[Application, bool]:
    """Start an application for an item (开始申报), or return the open draft for it: one draft
    per applicant and item. The flag says whether it was started now."""
    authorize(principal, "services.application.draft")
    item = await get_service_item(session, principal, item_code)
    check_applicant_kind(item, principal)
    existing = await open_draft(session, principal, item)
    if existing is not None:
        return existing, False
    application = Application(
        id=uuid.uuid4(),
        item_id=item.id,
        applicant_account_id=principal.id,
        answers={},
        status="draft",
        created_at=clock.now(),
    )
    session.add(application)
    await session.flush()
    await audit.log(
        session, principal, "services.application.started", str(application.id), item=item.code
    )
    return application, True


async def save_answers(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    answers: Mapping[str, Any],
) -> Application:
    """Save some answers of a draft (暂存); partial is fine, each value is checked by its
    field's type and an empty one clears it. All or nothing: a 422 lists every refused field."""
    application, item = await own_draft(session, principal, application_id)
    record = await registry_record(session, principal, item)
    locked = [f.name for f in field_states(item, {}, record) if f.source is not None]
    cleaned, errors = clean_answers(item, answers, locked)
    if errors:
        raise refusal(errors)
    merged = dict(application.answers)
    for name, value in cleaned.items():
        if value:
            merged[name] = value
        else:
            merged.pop(name, None)
    application.answers = merged
    await session.flush()
    await audit.log(
        session,
        principal,
        "services.application.saved",
        str(application.id),
        fields=sorted(cleaned),
    )
    return application


async def delete_draft(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> None:
    """Delete a draft and its uploads; a submitted application stays."""
    application = await own_application(
        session, principal, application_id, "services.application.draft"
    )
    if application.status != "draft":
        raise Conflict(_("A submitted application cannot be deleted."))
    await session.execute(delete(Material).where(Material.application_id == application.id))
    await session.delete(application)
    await session.flush()
    await audit.log(session, principal, "services.application.deleted", str(application_id))
