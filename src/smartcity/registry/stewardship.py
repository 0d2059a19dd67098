"""一数一源: which department is the source of each attribute group, and the write check."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.registry.sources import AttributeGroup, group_of_field, groups_of

_DEPARTMENT_CODES: dict[uuid.UUID, str] = {}


# --- departments and the 一数一源 source check -------------------------------------------


async def department_code_of(session: AsyncSession, principal: Principal) -> str:
    """The code of the principal's department, or "" (department codes never change)."""
    if principal.department_id is None:
        return ""
    code = _DEPARTMENT_CODES.get(principal.department_id)
    if code is None:
        code = (
            await session.execute(
                select(Department.code).where(Department.id == principal.department_id)
            )
        ).scalar_one_or_none() or ""
        if code:
            _DEPARTMENT_CODES[principal.department_id] = code
    return code


async def department_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """Chinese names of departments by code; an unknown code names itself."""
    wanted = {c for c in codes if c}
    names = {c: c for c in wanted}
    if wanted:
        rows = await session.execute(
            select(Department.code, Department.name).where(Department.code.in_(wanted))
        )
        names.update({code: name for code, name in rows.all()})
    return names


async def department_names_en(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """English names of departments by code, for those that have one."""
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Department.code, Department.name_en).where(Department.code.in_(wanted))
    )
    return {code: name_en for code, name_en in rows.all() if name_en}


async def department_labels(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """Names of departments by code in the reader's language, for pages: the English name on
    an English page where the department has one, else the Chinese (department_names keeps
    the Chinese, which records store)."""
    wanted = {c for c in codes if c}
    names = {c: c for c in wanted}
    if wanted:
        rows = await session.execute(
            select(Department.code, Department.name, Department.name_en).where(
                Department.code.in_(wanted)
            )
        )
        names.update({code: i18n.pick(name, name_en) for code, name, name_en in rows.all()})
    return names


async def require_source(
    session: AsyncSession, principal: Principal, groups: Iterable[AttributeGroup]
) -> None:
    """一数一源: only the source department of each group (or an admin) may write it; the
    403 names the source so the caller knows whom to ask."""
    if principal.is_("admin"):
        return
    code = await department_code_of(session, principal)
    for group in groups:
        if group.department_code != code:
            names = await department_names(session, [group.department_code])
            department = names[group.department_code]
            raise Forbidden(
                _(
                    "{group} is kept by its source department, {department}; only {department} "
                    "may change it (one source for each item of data)."
                ).format(group=group.title, department=department),
                source_department=group.department_code,
                source_department_name=department,
                attribute_group=group.name,
            )


async def groups_kept_by(session: AsyncSession, principal: Principal, record_type: str) -> set[str]:
    """Names of the attribute groups the principal's department is the source of (and so
    may change, if the principal is its staff or system account)."""
    if not principal.is_("staff", "system"):
        return set()
    code = await department_code_of(session, principal)
    return {g.name for g in groups_of(record_type) if code and g.department_code == code}


def _groups_of_fields(record_type: str, names: Iterable[str]) -> list[AttributeGroup]:
    wanted = {group_of_field(record_type, name).name for name in names}
    return [g for g in groups_of(record_type) if g.name in wanted]


def _one_source(groups: Sequence[AttributeGroup]) -> None:
    if len({g.department_code for g in groups}) > 1:
        raise InvalidInput(
            _(
                "These fields come from different source departments ({groups}); change each "
                "department's fields in a separate update."
            ).format(groups=", ".join(g.title for g in groups)),
            field="fields",
        )


async def require_one_source(
    session: AsyncSession, principal: Principal, record_type: str, names: Iterable[str]
) -> list[AttributeGroup]:
    """一数一源 for one update: the fields' groups, all the caller's and from one department."""
    groups = _groups_of_fields(record_type, names)
    await require_source(session, principal, groups)
    _one_source(groups)
    return groups
