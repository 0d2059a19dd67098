"""The clocks' sweep (时限预警): yellow and red warnings raised set-based, and provisional
deadlines recomputed when a year's official calendar is entered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.events import (
    CLOCK_RECOMPUTED,
    WARNING_RAISED,
    ClockRecomputed,
    WarningRaised,
)
from smartcity.cases.models import Case, CaseEvent
from smartcity.cases.service import compute_clocks
from smartcity.cases.types import get_case_type
from smartcity.core import audit, clock
from smartcity.core.authz import SYSTEM
from smartcity.core.bus import Event
from smartcity.core.workdays import load_calendar

CLOCKS = ("statutory", "promised", "step")
WARNING_TOPIC = WARNING_RAISED.name


async def sweep_warnings(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Raise the warnings due at ``now``: one UPDATE per clock and level, so the work grows
    with the warnings raised, not with the open cases. Paused and closed cases are skipped.
    Returns the number of warnings raised."""
    now = now or clock.now()
    raised: list[dict[str, Any]] = []
    for name in CLOCKS:
        due = getattr(Case, f"{name}_due_at")
        warn_at = getattr(Case, f"{name}_warn_at")
        level = getattr(Case, f"{name}_warning")
        running = (Case.closed_at.is_(None), Case.paused_at.is_(None))
        # Red first, so a case that jumped past both thresholds since the last sweep goes
        # straight to red and the yellow pass no longer matches it. "Not yet red" is written
        # as a list so PostgreSQL can use it as an index condition and read only new cases.
        for new, condition in (
            ("red", (due <= now, level.in_(("none", "yellow")))),
            ("yellow", (warn_at <= now, due > now, level == "none")),
        ):
            statement = (
                update(Case)
                .where(*running, *condition)
                .values({level: new})
                .returning(Case.id, Case.number, Case.case_type, Case.department_id, due)
                .execution_options(synchronize_session=False)
            )
            for row in (await session.execute(statement)).all():
                raised.append(
                    {
                        "case_id": row[0],
                        "number": row[1],
                        "case_type": row[2],
                        "department_id": row[3],
                        "due_at": row[4],
                        "clock": name,
                        "level": new,
                    }
                )
    if not raised:
        return 0
    await session.execute(
        insert(CaseEvent),
        [
            {
                "case_id": r["case_id"],
                "at": now,
                "actor": SYSTEM.name,
                "kind": "warning",
                "name": f"{r['clock']}_{r['level']}",
                "from_state": "",
                "to_state": "",
                "data": {
                    "clock": r["clock"],
                    "level": r["level"],
                    "due_at": r["due_at"].isoformat(),
                },
            }
            for r in raised
        ],
    )
    for r in raised:
        await WARNING_RAISED.emit(
            session,
            WarningRaised(
                case_id=str(r["case_id"]),
                number=r["number"],
                case_type=r["case_type"],
                department_id=str(r["department_id"]),
                clock=r["clock"],
                level=r["level"],
                due_at=r["due_at"].isoformat(),
            ),
        )
    # One audit entry per sweep: the events above carry each warning.
    await audit.log(
        session,
        SYSTEM,
        "cases.warning_sweep",
        yellow=sum(r["level"] == "yellow" for r in raised),
        red=sum(r["level"] == "red" for r in raised),
    )
    # The ORM copies of swept cases are stale now.
    session.expire_all()
    return len(raised)


async def warning_sweep_job(session: AsyncSession) -> None:
    """The periodic job ``cases.warning_sweep``."""
    await sweep_warnings(session)


async def recompute_provisional(session: AsyncSession, event: Event | None = None) -> int:
    """Recompute the clocks of open cases whose deadlines were provisional (a year's notice
    was entered since). Returns the number of cases whose deadlines moved."""
    calendar = await load_calendar(session)
    moved = 0
    cases = (
        await session.execute(
            select(Case).where(Case.closed_at.is_(None), Case.provisional.is_(True))
        )
    ).scalars()
    for case_ in list(cases):
        before = (case_.statutory_due_at, case_.promised_due_at, case_.step_due_at)
        compute_clocks(case_, get_case_type(case_.case_type), calendar)
        after = (case_.statutory_due_at, case_.promised_due_at, case_.step_due_at)
        if after == before:
            continue
        moved += 1
        session.add(
            CaseEvent(
                case_id=case_.id,
                at=clock.now(),
                actor=SYSTEM.name,
                kind="clock",
                name="recomputed",
                data={
                    "year": (event.payload.get("year") if event else None),
                    "statutory_due_at": case_.statutory_due_at.isoformat(),
                },
            )
        )
        await CLOCK_RECOMPUTED.emit(
            session, ClockRecomputed(case_id=str(case_.id), number=case_.number)
        )
    if moved:
        await audit.log(session, SYSTEM, "cases.clock_recomputed", cases=moved)
    await session.flush()
    return moved
