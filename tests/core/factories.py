"""Async factories for the foundation's records, with keyword overrides."""

from __future__ import annotations

import itertools
from typing import Any

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.core.authz import Principal
from smartcity.core.models import Account, Department
from smartcity.core.schemas import AccountCreate, DepartmentCreate
from smartcity.core.security import principal_of, seal_totp_secret
from smartcity.settings import get_settings

ROOT = Principal(id=None, kind="admin", name="test-root", roles=frozenset({"security"}), via="cli")
PASSWORD = "Correct-Horse-42"
_seq = itertools.count(1)


async def create_department(session: AsyncSession, **overrides: Any) -> Department:
    n = next(_seq)
    data = {"code": f"D{n:04d}", "name": f"测试局{n}", "name_en": f"Test bureau {n}"}
    data.update(overrides)
    return await accounts.create_department(session, ROOT, DepartmentCreate(**data))


async def create_account(
    session: AsyncSession,
    *,
    kind: str = "citizen",
    department: Department | None = None,
    totp_secret: str | None = None,
    **overrides: Any,
) -> Account:
    """An account with password PASSWORD; with ``totp_secret`` its TOTP is already enrolled."""
    n = next(_seq)
    if department is None and kind in ("staff", "supervisor", "system"):
        department = await create_department(session)
    data: dict[str, Any] = {
        "username": f"user{n}.{kind}",
        "display_name": f"测试用户{n}",
        "kind": kind,
        "department_code": department.code if department else None,
        "password": None if kind in ("system", "device") else PASSWORD,
    }
    data.update(overrides)
    account, _ = await accounts.create_account(session, ROOT, AccountCreate(**data))
    if totp_secret:
        account.totp_secret_enc = seal_totp_secret(get_settings(), totp_secret)
        account.totp_enabled = True
    await session.flush()
    return account


def principal(account: Account) -> Principal:
    return principal_of(account, "session")


def totp_code(secret: str, at: Any) -> str:
    return pyotp.TOTP(secret).at(at)


async def as_database_owner(session: AsyncSession) -> None:
    """Act as someone who owns the database server: on PostgreSQL the append-only triggers
    (migration 0013) are switched off for this transaction, as a superuser could, so a test
    can tamper with the audit tables the way such an intruder would."""
    from sqlalchemy import text

    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SET LOCAL session_replication_role = replica"))
