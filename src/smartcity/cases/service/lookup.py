"""What a domain reads of the cases behind its own records, in batches (never one query per
row): cases by id, the ids of a department's cases as a subquery to filter by, the supplement
steps of a case's timeline and its rating. No authorization here: the domain has already
decided the records are readable, and these read only cases those records point at."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.models import Case, CaseEvent, CaseFlag, CaseRating


async def cases_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID | None]
) -> dict[uuid.UUID, Case]:
    """The cases with these ids (None and unknown ids skipped), in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Case).where(Case.id.in_(wanted)))
    return {c.id: c for c in rows.scalars()}


async def case_by_id(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    """One case by id (the identity map first, like ``session.get``)."""
    return await session.get(Case, case_id)


def closed_outcomes() -> Select[uuid.UUID, bool | None, int | None]:
    """The engine's verdict on every closed case, as a subquery a domain joins in its own
    grouped query: ``case_id``, ``on_time`` (closed by the promised, else the statutory,
    deadline: the one rule of cases/deadline.py, set at closing) and ``handled_workdays``
    (working days from the opening day to the closing day, less pauses)."""
    return select(
        Case.id.label("case_id"),
        Case.on_time.label("on_time"),
        Case.handled_workdays.label("handled_workdays"),
    ).where(Case.closed_at.is_not(None))


def case_ids_with_step(step_name: str) -> Select[uuid.UUID]:
    """The ids of the cases whose timeline has a transition of this name (e.g. ``return``),
    as a subquery for ``.where(Row.case_id.in_(...))`` in a domain's own query."""
    return select(CaseEvent.case_id).where(
        CaseEvent.kind == "transition", CaseEvent.name == step_name
    )


def department_case_ids(department_id: uuid.UUID) -> Select[uuid.UUID]:
    """The ids of the cases now with a department, as a subquery: a domain filters its own
    rows with ``.where(Row.case_id.in_(department_case_ids(dept)))`` in the same query."""
    return select(Case.id).where(Case.department_id == department_id)


async def supplement_steps(session: AsyncSession, case_id: uuid.UUID) -> list[CaseEvent]:
    """The 补正 requests and supplements on a case's timeline, oldest first."""
    rows = await session.execute(
        select(CaseEvent)
        .where(
            CaseEvent.case_id == case_id,
            CaseEvent.kind == "transition",
            CaseEvent.name.in_(("request_supplement", "supplement")),
        )
        .order_by(CaseEvent.seq)
    )
    return list(rows.scalars())


async def rating_of(session: AsyncSession, case_id: uuid.UUID) -> CaseRating | None:
    """The applicant's rating of the case (好差评), if given."""
    return await session.get(CaseRating, case_id)


@dataclass(frozen=True)
class OpenFlag:
    """A supervision flag not yet reviewed (未核查异常)."""

    id: uuid.UUID
    kind: str
    raised_at: datetime


async def open_flags(session: AsyncSession) -> list[OpenFlag]:
    """Every flag not yet reviewed, newest first (for the demo's supervisor, who reviews
    them through ``flags.review_flag``)."""
    rows = await session.execute(
        select(CaseFlag.id, CaseFlag.kind, CaseFlag.raised_at)
        .where(CaseFlag.reviewed_at.is_(None))
        .order_by(CaseFlag.raised_at.desc())
    )
    return [OpenFlag(*row) for row in rows.all()]
