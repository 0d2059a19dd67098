"""The case's timeline (办理过程): the line, audit entry and bus event every change leaves,
reading the timeline, and what is added to it beside the steps: notes (办理意见), files, and
the applicant's rating (好差评)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import events
from smartcity.cases.events import CaseChanged
from smartcity.cases.hooks import CaseRecord
from smartcity.cases.models import Case, CaseEvent, CaseRating
from smartcity.cases.service.access import get_case, readable_cases
from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.bus import Topic
from smartcity.core.errors import Conflict, Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.text import clean_text

COMMENT_MAX = 2000
RATING_COMMENT_MAX = 500


async def record(
    session: AsyncSession,
    principal: Principal,
    case_: CaseRecord,
    kind: str,
    *,
    name: str = "",
    from_state: str = "",
    to_state: str = "",
    topic: Topic[CaseChanged],
    data: Mapping[str, Any] | None = None,
) -> CaseEvent:
    """The timeline line, the audit entry and the bus event of one change."""
    detail = dict(data or {})
    event = CaseEvent(
        case_id=case_.id,
        at=clock.now(),
        actor=principal.name[:100],
        kind=kind,
        name=name,
        from_state=from_state,
        to_state=to_state,
        data=detail,
    )
    session.add(event)
    await audit.log(
        session,
        principal,
        topic.name,
        target=case_.number,
        case_type=case_.case_type,
        name=name,
        from_state=from_state,
        to_state=to_state,
        **detail,
    )
    await topic.emit(
        session,
        CaseChanged.model_validate(
            {
                "case_id": str(case_.id),
                "number": case_.number,
                "case_type": case_.case_type,
                "kind": kind,
                "name": name,
                "from_state": from_state,
                "to_state": to_state,
                "department_id": str(case_.department_id),
                **detail,
            }
        ),
    )
    return event


async def timeline(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID
) -> list[CaseEvent]:
    """The case's timeline (办理过程), oldest first, in one query."""
    readable = readable_cases(principal).where(Case.id == case_id).with_only_columns(Case.id)
    rows = (
        await session.execute(
            select(CaseEvent).where(CaseEvent.case_id.in_(readable)).order_by(CaseEvent.seq)
        )
    ).scalars()
    events = list(rows)
    if not events:
        await get_case(session, principal, case_id)  # 404 for an unreadable case
    return events


async def comment(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, text: str
) -> CaseEvent:
    """A note on the case's timeline (办理意见) by staff who can read it, or a supervisor."""
    authorize(principal, "cases.case.comment")
    case_ = await get_case(session, principal, case_id)
    text = clean_text(text or "", "text").strip()
    if not text or len(text) > COMMENT_MAX:
        raise InvalidInput(
            _("A comment of 1 to %(max)s characters is needed.") % {"max": COMMENT_MAX},
            field="text",
        )
    event = await record(
        session, principal, case_, "comment", topic=events.COMMENTED, data={"text": text}
    )
    await session.flush()
    return event


async def record_attachment(
    session: AsyncSession,
    principal: Principal,
    case_: CaseRecord,
    *,
    name: str,
    filename: str,
    sha256: str,
    size: int,
) -> CaseEvent:
    """Put a file added to the case (e.g. a supplemented material) on its timeline.

    The owning module stores the file and has checked who may add it."""
    event = await record(
        session,
        principal,
        case_,
        "attachment",
        name=name[:64],
        topic=events.ATTACHMENT_ADDED,
        data={"filename": filename, "sha256": sha256, "size": size},
    )
    await session.flush()
    return event


async def rate(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, score: int, comment: str = ""
) -> CaseRating:
    """The applicant's evaluation (好差评) of their closed case, once: 1 to 5."""
    case_ = await get_case(session, principal, case_id)
    if principal.id is None or principal.id != case_.applicant_account_id:
        raise Forbidden(_("Only the applicant rates a case."))
    if case_.closed_at is None:
        raise Conflict(_("A case is rated once it is finished."), state=case_.state)
    if await session.get(CaseRating, case_.id) is not None:
        raise Conflict(_("You have rated this case already."))
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput(_("A rating is a whole number from 1 to 5."), field="score")
    comment = clean_text(comment or "", "comment").strip()
    if len(comment) > RATING_COMMENT_MAX:
        raise InvalidInput(
            _("A comment of at most %(max)s characters is needed.") % {"max": RATING_COMMENT_MAX},
            field="comment",
        )
    rating = CaseRating(case_id=case_.id, score=score, comment=comment, rated_at=clock.now())
    session.add(rating)
    await record(
        session,
        principal,
        case_,
        "rating",
        name=str(score),
        topic=events.RATED,
        data={"score": score, "comment": comment},
    )
    await session.flush()
    return rating
