"""Who handles a case: the active department a code names, assigning the case to one of its
officers (分派) and transferring it to another department (转办) with a reason."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import events
from smartcity.cases.models import Case
from smartcity.cases.service.access import get_case
from smartcity.cases.service.events import record
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account, Department
from smartcity.core.text import clean_text

REASON_MAX = 500


async def department_by_code(session: AsyncSession, code: str) -> Department:
    dep = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if dep is None or not dep.active:
        raise InvalidInput(
            _("There is no department with the code %(code)s.") % {"code": code},
            field="department",
        )
    return dep


async def assign(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, officer_username: str
) -> Case:
    """Assign the case to an officer (分派) of its current department."""
    case_ = await get_case(session, principal, case_id)
    authorize(principal, "cases.case.assign", case_)
    _closed_check(case_)
    officer = (
        await session.execute(select(Account).where(Account.username == officer_username))
    ).scalar_one_or_none()
    if (
        officer is None
        or not officer.active
        or officer.kind != "staff"
        or officer.department_id != case_.department_id
    ):
        raise InvalidInput(
            _("%(name)s is not an officer of the case's department.") % {"name": officer_username},
            field="officer",
        )
    previous = case_.assignee_account_id
    case_.assignee_account_id = officer.id
    await session.flush()
    await record(
        session,
        principal,
        case_,
        "assignment",
        name="reassigned" if previous else "assigned",
        topic=events.ASSIGNED,
        data={"officer": officer.username},
    )
    await session.flush()
    return case_


def _closed_check(case_: Case) -> None:
    if case_.closed_at is not None:
        raise Conflict(_("The case is closed."), state=case_.state)


async def transfer(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    department_code: str,
    reason: str,
) -> Case:
    """Transfer the case to another department (转办) with a reason; the assignee is cleared."""
    case_ = await get_case(session, principal, case_id)
    authorize(principal, "cases.case.transfer", case_)
    _closed_check(case_)
    reason = clean_text(reason or "", "reason").strip()
    if not reason or len(reason) > REASON_MAX:
        raise InvalidInput(
            _("A reason of 1 to %(max)s characters is needed.") % {"max": REASON_MAX},
            field="reason",
        )
    dep = await department_by_code(session, department_code)
    if dep.id == case_.department_id:
        raise InvalidInput(_("The case is already with this department."), field="department")
    old = await session.get(Department, case_.department_id)
    case_.department_id = dep.id
    case_.assignee_account_id = None
    await session.flush()
    await record(
        session,
        principal,
        case_,
        "transfer",
        name="transferred",
        topic=events.TRANSFERRED,
        data={"from": old.code if old else "", "to": dep.code, "reason": reason},
    )
    await session.flush()
    return case_
