"""Who may do what with a case: the engine's actions and rules, the cases a principal may read
(staff and machine accounts their department's, supervisors all, applicants their own), one
readable case, and whether a principal is among those a step names."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case
from smartcity.cases.types import Transition
from smartcity.core.authz import ObjectRule, Principal
from smartcity.core.errors import NotFound
from smartcity.core.i18n import gettext as _

ACTIONS: dict[str, frozenset[str]] = {
    "cases.case.open": frozenset({"citizen", "enterprise", "staff", "system", "admin"}),
    # Who may take a transition is the case type's rule; this only admits the caller.
    "cases.case.transition": frozenset(
        {"citizen", "enterprise", "staff", "supervisor", "system", "admin", "auditor"}
    ),
    "cases.case.assign": frozenset({"staff", "admin"}),
    "cases.case.transfer": frozenset({"staff", "admin"}),
    "cases.case.comment": frozenset({"staff", "supervisor", "admin", "system"}),
    # Correcting a case's state (纠错), including reopening a closed one, is rare, always
    # flagged for supervisors, and never a citizen's.
    "cases.case.correct": frozenset({"staff", "admin"}),
    # 延期: the limits of a case are lengthened by its department (or a domain's machine
    # account for it), after whatever approval the domain asks for.
    "cases.case.extend": frozenset({"staff", "system", "admin"}),
    # 督办: supervisors urge a department on a case; only that department's staff reply.
    "cases.case.urge": frozenset({"supervisor"}),
    "cases.urge.reply": frozenset({"staff"}),
}


def _own_department(principal: Principal, obj: Any) -> bool:
    # Staff assign and transfer only their own department's cases; admins anywhere.
    if principal.is_("admin"):
        return True
    return principal.department_id is not None and obj.department_id == principal.department_id


# Declared in MODULE.rules: the object must pass these too.
RULES: dict[str, ObjectRule] = {
    "cases.case.assign": _own_department,
    "cases.case.transfer": _own_department,
    "cases.case.correct": _own_department,
    "cases.case.extend": _own_department,
}

_ALL_KINDS = frozenset({"supervisor", "admin", "auditor"})


def readable_cases(principal: Principal) -> Select[Case]:
    """Cases the principal may see: staff and machine accounts their department's, supervisors,
    admins and auditors all, citizens and enterprises those they applied for."""
    query = select(Case)
    if principal.is_(*_ALL_KINDS):
        return query
    if principal.kind in ("staff", "system") and principal.department_id is not None:
        return query.where(Case.department_id == principal.department_id)
    if principal.kind in ("citizen", "enterprise") and principal.id is not None:
        return query.where(Case.applicant_account_id == principal.id)
    return query.where(false())


async def get_case(session: AsyncSession, principal: Principal, case_id: uuid.UUID) -> Case:
    """One readable case (办件), else 404."""
    found = (
        await session.execute(readable_cases(principal).where(Case.id == case_id))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such case."))
    return found


def may_take(principal: Principal, case_: Case, transition: Transition) -> bool:
    """Whether the principal is one of those the transition names for this case."""
    for who in transition.who:
        if who == "department":
            if principal.kind == "staff" and principal.department_id == case_.department_id:
                return True
        elif who == "assignee":
            if principal.id is not None and principal.id == case_.assignee_account_id:
                return True
        elif who == "applicant":
            if principal.id is not None and principal.id == case_.applicant_account_id:
                return True
        elif principal.is_(who):
            return True
    return False
