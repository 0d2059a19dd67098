"""Opening a case (立案/申报): its type, title, category and limits checked, the day's next case
number (受理编号) reserved against concurrent openings, its clocks started."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import events
from smartcity.cases.models import Case
from smartcity.cases.service.assignment import department_by_code
from smartcity.cases.service.events import record
from smartcity.cases.service.limits import compute_clocks
from smartcity.cases.types import CaseType, get_case_type
from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account
from smartcity.core.workdays import load_calendar

TITLE_MAX = 200
CATEGORY_MAX = 64
# Tries to reserve a case number when concurrent openings take the same one.
NUMBER_ATTEMPTS = 5


async def _next_number(session: AsyncSession, ct: CaseType, at: datetime) -> str:
    """The day's next case number (受理编号), e.g. ``SP-20261124-000042``. The highest
    number of the day plus one, read from the unique index; the unique constraint refuses a
    concurrent duplicate and open_case takes the next one."""
    stem = f"{ct.prefix}-{clock.to_city(at):%Y%m%d}-"
    highest = (
        await session.execute(select(func.max(Case.number)).where(Case.number.like(f"{stem}%")))
    ).scalar_one()
    last = int(highest[len(stem) :]) if highest and highest[len(stem) :].isdigit() else 0
    return f"{stem}{last + 1:06d}"


def _known_type(name: str) -> CaseType:
    try:
        return get_case_type(name)
    except LookupError:
        raise InvalidInput(
            _("There is no case type %(name)s.") % {"name": name}, field="case_type"
        ) from None


async def open_case(
    session: AsyncSession,
    principal: Principal,
    *,
    case_type: str,
    title: str,
    department_code: str,
    data: Mapping[str, Any] | None = None,
    applicant: uuid.UUID | None = None,
    category: str = "",
    statutory_days: int | None = None,
    promised_days: int | None = None,
) -> Case:
    """Open a case (立案/申报) in the type's initial state, with its clocks started.

    ``statutory_days`` and ``promised_days`` set this case's limits (e.g. the service item's);
    left out, the type's apply. ``category`` groups the case on the boards (事项编码)."""
    authorize(principal, "cases.case.open")
    ct = _known_type(case_type)
    title = title.strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput(
            _("A title of 1 to %(max)s characters is needed.") % {"max": TITLE_MAX}, field="title"
        )
    if len(category) > CATEGORY_MAX:
        raise InvalidInput(
            _("A category of at most %(max)s characters is needed.") % {"max": CATEGORY_MAX},
            field="category",
        )
    statutory, promised = _case_limits(ct, statutory_days, promised_days)
    if principal.kind in ("citizen", "enterprise"):
        # People apply for themselves only.
        if applicant not in (None, principal.id):
            raise Forbidden(_("You can apply only for yourself."))
        applicant = principal.id
    elif applicant is not None and await session.get(Account, applicant) is None:
        raise InvalidInput(_("There is no such applicant account."), field="applicant")
    dep = await department_by_code(session, department_code)
    now = clock.now()
    calendar = await load_calendar(session)
    fields: dict[str, Any] = {
        "case_type": ct.name,
        "state": ct.initial,
        "title": title,
        "applicant_account_id": applicant,
        "department_id": dep.id,
        "data": dict(data or {}),
        "category": category,
        "statutory_days": statutory,
        "promised_days": promised,
        "opened_at": now,
        "step_started_at": now,
        "paused_workdays": 0,
        "extended_workdays": 0,
        "step_extended_workdays": 0,
        "statutory_warning": "none",
        "promised_warning": "none",
        "step_warning": "none",
    }
    for _attempt in range(NUMBER_ATTEMPTS):
        number = await _next_number(session, ct, now)
        case_ = Case(id=uuid.uuid4(), number=number, **fields)
        compute_clocks(case_, ct, calendar)
        try:
            async with session.begin_nested():
                session.add(case_)
                await session.flush()
        except IntegrityError:
            continue  # another request took this number meanwhile: take the next
        break
    else:
        raise Conflict(_("No case number could be reserved; try again."))
    await record(
        session,
        principal,
        case_,
        "transition",
        name="open",
        to_state=ct.initial,
        topic=events.OPENED,
        data={"department": dep.code},
    )
    await session.flush()
    return case_


def _case_limits(
    ct: CaseType, statutory_days: int | None, promised_days: int | None
) -> tuple[int, int | None]:
    """The case's limits: the given ones, else the type's; promised never beyond statutory."""
    if statutory_days is None:
        statutory_days = ct.limits.statutory_days
        if promised_days is None:
            promised_days = ct.limits.promised_days
    assert statutory_days is not None  # the type's is validated at registration
    if statutory_days <= 0:
        raise InvalidInput(
            _("A statutory limit of one or more working days is needed."), field="statutory_days"
        )
    if promised_days is not None and not 0 < promised_days <= statutory_days:
        raise InvalidInput(
            _("A promised limit lies between one working day and the statutory limit."),
            field="promised_days",
        )
    return statutory_days, promised_days
