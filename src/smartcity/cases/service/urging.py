"""督办: a supervisor urges the department handling a case, with a note and a reply deadline
in working days; the department's staff answer it (回复). Both go on the case's timeline and
into the inboxes: the urge to the department's officers, the reply to the supervisor.

An urge past its deadline without a reply is overdue (逾期未回复); that is computed from
``reply_due_at`` when read, so no job has to mark it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import events
from smartcity.cases.models import Case, CaseUrge
from smartcity.cases.service.access import get_case, readable_cases
from smartcity.cases.service.events import record
from smartcity.core import clock, notifications
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account
from smartcity.core.text import clean_text
from smartcity.core.workdays import load_calendar

URGE_NOTE_MAX = 500
REPLY_MAX = 1000
# A reply is due within one to ten working days (督办回复时限).
REPLY_DAYS_MIN = 1
REPLY_DAYS_MAX = 10
REPLY_DAYS_DEFAULT = 3
# Whom an urge's message goes to: the department's active officers, at most this many.
RECIPIENTS_MAX = 200

URGED_TITLE = N_("Urged by supervision: %(number)s")
URGED_BODY = N_(
    "%(who)s urges your department on case %(number)s (%(title)s): %(note)s "
    "Reply on the case page by %(due)s."
)
REPLIED_TITLE = N_("Reply to your urging: %(number)s")
REPLIED_BODY = N_("%(who)s replied on case %(number)s (%(title)s): %(reply)s")


def is_overdue(urge: CaseUrge, now: datetime) -> bool:
    """An urge not replied to by the end of its deadline."""
    return urge.replied_at is None and now >= urge.reply_due_at


def _text(value: str, field: str, limit: int, message: str) -> str:
    text = clean_text(value or "", field).strip()
    if not text or len(text) > limit:
        raise InvalidInput(_(message) % {"max": limit}, field=field)
    return text


async def urge(
    session: AsyncSession,
    principal: Principal,
    case_id: uuid.UUID,
    note: str,
    reply_days: int = REPLY_DAYS_DEFAULT,
) -> CaseUrge:
    """Urge the case's department (督办): only supervisors, only on an open case."""
    authorize(principal, "cases.case.urge")
    case_ = await get_case(session, principal, case_id)
    if case_.closed_at is not None:
        raise Conflict(_("The case is closed."), state=case_.state)
    note = _text(note, "note", URGE_NOTE_MAX, N_("A note of 1 to %(max)s characters is needed."))
    if (
        not isinstance(reply_days, int)
        or isinstance(reply_days, bool)
        or not REPLY_DAYS_MIN <= reply_days <= REPLY_DAYS_MAX
    ):
        raise InvalidInput(
            _("The reply is due within %(min)s to %(max)s working days.")
            % {"min": REPLY_DAYS_MIN, "max": REPLY_DAYS_MAX},
            field="reply_days",
        )
    now = clock.now()
    calendar = await load_calendar(session)
    due = calendar.add_workdays(now, reply_days)
    item = CaseUrge(
        id=uuid.uuid4(),
        case_id=case_.id,
        department_id=case_.department_id,
        urged_at=now,
        urged_by=principal.name[:100],
        urged_by_account_id=principal.id,
        note=note,
        reply_days=reply_days,
        reply_due_at=due.at,
        reply="",
    )
    session.add(item)
    await session.flush()
    await record(
        session,
        principal,
        case_,
        "urge",
        name="urged",
        topic=events.URGED,
        data={
            "urge_id": str(item.id),
            "note": note,
            "reply_days": reply_days,
            "reply_due": due.due_date.isoformat(),
        },
    )
    who = await _display_name(session, principal)
    officers = (
        await session.execute(
            select(Account.id)
            .where(
                Account.department_id == case_.department_id,
                Account.kind == "staff",
                Account.active.is_(True),
            )
            .order_by(Account.username)
            .limit(RECIPIENTS_MAX)
        )
    ).scalars()
    for account_id in list(officers):
        await notifications.notify(
            session,
            account_id,
            topic=events.URGED.name,
            title=notifications.Text(URGED_TITLE, {"number": case_.number}),
            body=notifications.Text(
                URGED_BODY,
                {
                    "who": who,
                    "number": case_.number,
                    "title": case_.title,
                    "note": note,
                    "due": due.due_date,
                },
            ),
            link=f"/cases/{case_.id}#urges",
        )
    await session.flush()
    return item


async def _display_name(session: AsyncSession, principal: Principal) -> str:
    if principal.id is None:
        return principal.name
    account = await session.get(Account, principal.id)
    return (account.display_name or account.username) if account else principal.name


async def reply(
    session: AsyncSession, principal: Principal, urge_id: uuid.UUID, text: str
) -> CaseUrge:
    """The urged department's answer (督办回复), once, by one of its officers."""
    authorize(principal, "cases.urge.reply")
    found = (
        await session.execute(
            select(CaseUrge, Case)
            .join(Case, Case.id == CaseUrge.case_id)
            .where(CaseUrge.id == urge_id, CaseUrge.case_id.in_(_readable_ids(principal)))
        )
    ).first()
    if found is None:
        raise NotFound(_("There is no such urging."))
    item: CaseUrge = found[0]
    case_: Case = found[1]
    if principal.department_id is None or principal.department_id != item.department_id:
        raise Forbidden(_("Only the department that was urged replies."))
    if item.replied_at is not None:
        raise Conflict(_("This urging has been replied to already."))
    answer = _text(text, "reply", REPLY_MAX, N_("A reply of 1 to %(max)s characters is needed."))
    now = clock.now()
    item.replied_at = now
    item.replied_by = principal.name[:100]
    item.reply = answer
    await session.flush()
    await record(
        session,
        principal,
        case_,
        "urge",
        name="replied",
        topic=events.URGE_REPLIED,
        data={"urge_id": str(item.id), "reply": answer, "overdue": now >= item.reply_due_at},
    )
    if item.urged_by_account_id is not None:
        await notifications.notify(
            session,
            item.urged_by_account_id,
            topic=events.URGE_REPLIED.name,
            title=notifications.Text(REPLIED_TITLE, {"number": case_.number}),
            body=notifications.Text(
                REPLIED_BODY,
                {
                    "who": await _display_name(session, principal),
                    "number": case_.number,
                    "title": case_.title,
                    "reply": answer,
                },
            ),
            link=f"/cases/{case_.id}#urges",
        )
    await session.flush()
    return item


def _readable_ids(principal: Principal) -> Select[uuid.UUID]:
    return readable_cases(principal).with_only_columns(Case.id)


async def case_urges(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> list[CaseUrge]:
    """A case's urgings, oldest first (404 for an unreadable case)."""
    await get_case(session, principal, case_id)
    rows = await session.execute(
        select(CaseUrge).where(CaseUrge.case_id == case_id).order_by(CaseUrge.urged_at)
    )
    return list(rows.scalars())


def readable_urges(principal: Principal) -> Select[CaseUrge, Case]:
    """Urgings with their cases, as far as the principal reads the cases."""
    return (
        select(CaseUrge, Case)
        .join(Case, Case.id == CaseUrge.case_id)
        .where(CaseUrge.case_id.in_(_readable_ids(principal)))
    )


async def list_urges(
    session: AsyncSession,
    principal: Principal,
    *,
    department_id: uuid.UUID | None = None,
    open_only: bool = False,
    limit: int = 50,
) -> list[tuple[CaseUrge, Case]]:
    """Urgings the principal may read: unanswered first (the oldest deadline first), then
    the latest replies."""
    query = readable_urges(principal)
    if department_id is not None:
        query = query.where(CaseUrge.department_id == department_id)
    if open_only:
        query = query.where(CaseUrge.replied_at.is_(None))
    query = query.order_by(
        CaseUrge.replied_at.is_not(None), CaseUrge.reply_due_at, CaseUrge.replied_at.desc()
    )
    rows = await session.execute(query.limit(max(1, min(limit, 500))))
    return [(row[0], row[1]) for row in rows]
