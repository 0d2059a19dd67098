"""延期: lengthening a case's limits by some working days, with a reason, within what its type
allows in all. The domain decides who approves (the 12345 centre for a work order); the engine
moves the clocks, so the one deadline rule shows the new due date everywhere."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import events
from smartcity.cases.deadline import due_date_of
from smartcity.cases.models import Case
from smartcity.cases.service.access import get_case
from smartcity.cases.service.events import record
from smartcity.cases.service.limits import compute_clocks
from smartcity.cases.types import get_case_type
from smartcity.core import clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.text import clean_text
from smartcity.core.workdays import load_calendar

EXTENSION_REASON_MAX = 500
_LEVELS = ("none", "yellow", "red")


def _settle_warnings(case_: Case) -> None:
    """Lower each clock's swept warning to what its new instants say now (an extension can
    take a case out of yellow or red); raising one stays the sweep's, with its events."""
    now = clock.now()
    for name in ("statutory", "promised", "step"):
        due = getattr(case_, f"{name}_due_at")
        warn = getattr(case_, f"{name}_warn_at")
        if due is None:
            setattr(case_, f"{name}_warning", "none")
            continue
        level = "red" if now >= due else "yellow" if warn is not None and now >= warn else "none"
        old = getattr(case_, f"{name}_warning")
        if _LEVELS.index(level) < _LEVELS.index(old):
            setattr(case_, f"{name}_warning", level)


async def extend_limit(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    workdays: int,
    reason: str,
) -> Case:
    """延期: add ``workdays`` working days to the case's statutory and promised limits (and to
    its step limit while it stays in its state), with the reason on the timeline.

    404 unreadable; 403 not the case's department (``cases.case.extend``); 409 closed
    (``case-closed``) or of a type that allows no extension (``extension-not-allowed``) or
    when the extensions would pass the type's maximum in all (``extension-over-maximum``);
    422 ``workdays`` outside 1 to the maximum (``extension-days``) or a blank reason."""
    case_ = await get_case(session, principal, case_id)
    authorize(principal, "cases.case.extend", case_)
    ct = get_case_type(case_.case_type)
    maximum = ct.limits.max_extension_days
    if case_.closed_at is not None:
        raise Conflict(_("A closed case is not extended."), slug="case-closed")
    if maximum is None:
        raise Conflict(_("Cases of this type are not extended."), slug="extension-not-allowed")
    if isinstance(workdays, bool) or not isinstance(workdays, int) or not 1 <= workdays <= maximum:
        raise InvalidInput(
            _("An extension is 1 to %(max)s working days.") % {"max": maximum},
            field="days",
            slug="extension-days",
        )
    if case_.extended_workdays + workdays > maximum:
        raise Conflict(
            _("The case's extensions may add %(max)s working days in all; %(left)s are left.")
            % {"max": maximum, "left": maximum - case_.extended_workdays},
            slug="extension-over-maximum",
            left=maximum - case_.extended_workdays,
        )
    reason = clean_text(reason or "", "reason").strip()
    if not reason or len(reason) > EXTENSION_REASON_MAX:
        raise InvalidInput(
            _("A reason of 1 to %(max)s characters is needed.") % {"max": EXTENSION_REASON_MAX},
            field="reason",
        )
    calendar = await load_calendar(session)
    case_.extended_workdays += workdays
    if ct.limits.step_limit(case_.state) is not None:
        case_.step_extended_workdays += workdays
    compute_clocks(case_, ct, calendar)
    _settle_warnings(case_)
    await session.flush()
    due_at = case_.promised_due_at or case_.statutory_due_at
    await record(
        session,
        principal,
        case_,
        "clock",
        name="extended",
        topic=events.CLOCK_EXTENDED,
        data={
            "days": workdays,
            "reason": reason,
            "extended_workdays": case_.extended_workdays,
            "due_date": due_date_of(due_at).isoformat(),
        },
    )
    await session.flush()
    return case_
