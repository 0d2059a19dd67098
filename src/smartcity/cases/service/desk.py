"""What the staff pages (办件工作台) show beside the queue: the officers a case may go to,
the departments it may be transferred to, and accounts' display names. (The days left are
cases/deadline.py's.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account, Department


async def department_officers(session: AsyncSession, department_id: uuid.UUID) -> list[Account]:
    """The active officers (在岗工作人员) of a department, by name: whom a case may go to."""
    rows = await session.execute(
        select(Account)
        .where(
            Account.department_id == department_id,
            Account.kind == "staff",
            Account.active.is_(True),
        )
        .order_by(Account.display_name, Account.username)
    )
    return list(rows.scalars())


async def active_departments(session: AsyncSession) -> list[Department]:
    """Departments a case may be transferred to (转办), by code."""
    rows = await session.execute(
        select(Department).where(Department.active.is_(True)).order_by(Department.code)
    )
    return list(rows.scalars())


async def display_names(
    session: AsyncSession,
    *,
    ids: Iterable[uuid.UUID | None] = (),
    usernames: Iterable[str] = (),
) -> tuple[dict[uuid.UUID, str], dict[str, str]]:
    """Accounts' display names by id and by username, in one query; never ID numbers."""
    id_set = {i for i in ids if i is not None}
    name_set = {n for n in usernames if n}
    if not id_set and not name_set:
        return {}, {}
    rows = await session.execute(
        select(Account.id, Account.username, Account.display_name).where(
            or_(Account.id.in_(id_set), Account.username.in_(name_set))
        )
    )
    by_id: dict[uuid.UUID, str] = {}
    by_username: dict[str, str] = {}
    for account_id, username, display_name in rows:
        by_id[account_id] = display_name or username
        by_username[username] = display_name or username
    return by_id, by_username
