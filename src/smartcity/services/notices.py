"""Step notices (办件进度通知): the applicant is told of every step of their application, in
the step's transaction, with a link to the application's page.

The texts are kept as msgids and values: a message is read later, in the applicant's inbox
(in the applicant's language) or by SMS (in Chinese), not in the officer's language at the
moment of the step.

Order matters: this hook must run after the licence hook so the approval notice can give the
licence number; its declaration in the service hall's MODULE says so (``after=``), and the
case engine orders hooks by it (tests/services/test_notices.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import (
    CaseRecord,
    StepTaken,
    case_deadline,
    get_case_type,
)
from smartcity.core import clock, notifications
from smartcity.core.authz import Principal
from smartcity.core.i18n import N_
from smartcity.core.notifications import Term, Text, Value
from smartcity.core.workdays import load_calendar
from smartcity.services import licences
from smartcity.services.models import Application
from smartcity.services.types import BASE_NAME

# Kept as msgids and values (core.notifications.Text): the applicant reads the notice in
# their own language, whichever language the officer's page was in.
_APPEAL = N_(
    "If you disagree with the decision, you may apply for administrative reconsideration "
    "within sixty days of receiving this notice, or bring an administrative lawsuit within "
    "six months."
)
UNSTATED = N_("(not stated)")


def _said(value: Any) -> Value:
    text = str(value or "").strip()
    return text or Term(UNSTATED)


# The key under which notify_applicant hands the notices the case's due date (the engine's
# one deadline, ``case_deadline``): a date, written when read as the reader's locale does.
DUE_KEY = "_due_date"


def _due(fields: Mapping[str, Any]) -> Value:
    due = fields.get(DUE_KEY)
    return due if isinstance(due, date) else str(due or "")


# Each step's notice: (title, body) from the case, the step's fields and the licence number.
Notice = Callable[[CaseRecord, Mapping[str, Any], str | None], tuple[Text, Text]]

NOTICES: dict[str, Notice] = {
    "accept": lambda c, f, n: (
        Text(N_("Application accepted: %(title)s"), {"title": c.title}),
        Text(
            N_(
                "Your application (case %(number)s) has been accepted; it will be settled "
                "by %(due)s."
            ),
            {"number": c.number, "due": _due(f)},
        ),
    ),
    "not_accept": lambda c, f, n: (
        Text(N_("Application not accepted: %(title)s"), {"title": c.title}),
        Text(
            N_(
                "Your application (case %(number)s) is not accepted. Reason: %(reason)s. %(appeal)s"
            ),
            {"number": c.number, "reason": _said(f.get("reason")), "appeal": Term(_APPEAL)},
        ),
    ),
    "review": lambda c, f, n: (
        Text(N_("Application under review: %(title)s"), {"title": c.title}),
        Text(N_("Your application (case %(number)s) is now under review."), {"number": c.number}),
    ),
    "request_supplement": lambda c, f, n: (
        Text(N_("Please supplement your materials: %(title)s"), {"title": c.title}),
        Text(
            N_(
                "Your application (case %(number)s) needs a supplement: %(missing)s. Sign in to "
                "the online service hall to hand in the materials; the time limit is paused "
                "meanwhile."
            ),
            {"number": c.number, "missing": _said(f.get("missing"))},
        ),
    ),
    "supplement": lambda c, f, n: (
        Text(N_("Supplement received: %(title)s"), {"title": c.title}),
        Text(
            N_(
                "The materials you supplemented for case %(number)s have been received; the "
                "review goes on, the time limit runs again, and it will be settled by %(due)s."
            ),
            {"number": c.number, "due": _due(f)},
        ),
    ),
    "approve": lambda c, f, n: (
        Text(N_("Licence granted: %(title)s"), {"title": c.title}),
        Text(
            N_(
                "Your application (case %(number)s) has been granted. Licence number "
                "%(licence)s; view, print and download it under My licences."
            ),
            {"number": c.number, "licence": n},
        )
        if n
        else Text(N_("Your application (case %(number)s) has been granted."), {"number": c.number}),
    ),
    "refuse": lambda c, f, n: (
        Text(N_("Licence refused: %(title)s"), {"title": c.title}),
        Text(
            N_("Your application (case %(number)s) is refused. Reason: %(reason)s. %(appeal)s"),
            {"number": c.number, "reason": _said(f.get("reason")), "appeal": Term(_APPEAL)},
        ),
    ),
    "deliver": lambda c, f, n: (
        Text(N_("Delivered: %(title)s"), {"title": c.title}),
        Text(
            N_(
                "The licence decision on case %(number)s has been delivered and the case is "
                "closed. You are welcome to rate the service."
            ),
            {"number": c.number},
        ),
    ),
}


def _generic(case_: CaseRecord, step: StepTaken) -> tuple[Text, Text]:
    transition = get_case_type(case_.case_type).transition(step.name)
    label: Value = Term(transition.title) if transition else step.name
    return (
        Text(N_("Progress of your case: %(title)s"), {"title": case_.title}),
        Text(N_("Your case %(number)s: %(step)s done."), {"number": case_.number, "step": label}),
    )


async def application_link(session: AsyncSession, case_: CaseRecord) -> str:
    """The applicant's page of the application behind the case."""
    app_id = (
        await session.execute(select(Application.id).where(Application.case_id == case_.id))
    ).scalar_one_or_none()
    return f"/my/applications/{app_id}" if app_id else "/my/applications"


async def notify_applicant(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    """Tell the applicant what the step means for them (every step of an application)."""
    if case_.applicant_account_id is None:
        return
    number: str | None = None
    if step.name == "approve":
        licence = await licences.licence_for_case(session, case_.id)
        number = licence.number if licence else None
    notice = NOTICES.get(step.name)
    calendar = await load_calendar(session)
    due = case_deadline(case_, calendar, clock.now()).due_date
    fields = {**step.fields, DUE_KEY: due}
    title, body = notice(case_, fields, number) if notice else _generic(case_, step)
    await notifications.notify(
        session,
        case_.applicant_account_id,
        topic=f"{BASE_NAME}.{step.name}",
        title=title,
        body=body,
        link=await application_link(session, case_),
    )
