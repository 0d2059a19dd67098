"""Data quality of the registries (数据质量): rules per registry, the problems they find for the
source department to fix (一数一源: whoever keeps a field fixes it), and a report per
department and field."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from sqlalchemy import Select, Table, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import SYSTEM, Principal, authorize
from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import InvalidIdentifier, parse_resident_id, parse_uscc
from smartcity.core.models import Department
from smartcity.registry.models import Organization, Person, Place, QualityIssue
from smartcity.registry.rows import division_known, valid_phone
from smartcity.registry.sources import source_of
from smartcity.registry.stewardship import department_names

ACTIONS = {
    "registry.quality.read": {"admin", "staff", "supervisor", "system"},
    "registry.quality.run": {"admin", "system"},
}

CHECKED_TYPES = ("person", "organization")
_SCAN_PAGE = 10_000


@dataclass(frozen=True)
class Rule:
    """A data-quality rule: which field of which registry it checks, and its title (msgid)."""

    name: str
    record_type: str
    field: str
    title: str

    @property
    def department_code(self) -> str:
        """The source department of the field, who fixes what the rule finds."""
        return source_of(self.record_type, self.field)


RULES: tuple[Rule, ...] = (
    Rule("id_number_invalid", "person", "id_number", N_("ID number fails its checks (GB 11643)")),
    Rule(
        "birth_date_mismatch",
        "person",
        "birth_date",
        N_("Birth date or sex does not match the ID number"),
    ),
    Rule(
        "birth_date_implausible",
        "person",
        "birth_date",
        N_("Birth date is in the future or more than 120 years ago"),
    ),
    Rule(
        "hukou_division_invalid",
        "person",
        "hukou_division_code",
        N_("Household registration is not a known division code"),
    ),
    Rule("phone_invalid", "person", "phone", N_("Phone number is not valid")),
    Rule(
        "duplicate_suspect",
        "person",
        "id_number",
        N_("Possible duplicate: same name and birth date, different ID number"),
    ),
    Rule(
        "address_unresolved",
        "person",
        "residence_place_code",
        N_("Residence address resolves to no grid"),
    ),
    Rule(
        "residence_place_unknown",
        "person",
        "residence_place_code",
        N_("Residence grid is not in the geospatial registry"),
    ),
    Rule("uscc_invalid", "organization", "uscc", N_("Credit code fails its checks (GB 32100)")),
    Rule(
        "legal_representative_missing",
        "organization",
        "legal_representative_id",
        N_("Enterprise has no legal representative in the population registry"),
    ),
    Rule("industry_empty", "organization", "industry", N_("Industry (GB/T 4754) is empty")),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}

# Issue messages name what is wrong without repeating personal data (an ID number or a
# birth date), because the list is read by more people than the record itself.
_ID_PROBLEMS = {
    "checksum": N_("The check character is wrong."),
    "format": N_("The number has characters other than digits and a final X."),
    "length": N_("The number is not 18 characters long."),
    "division": N_("The first six digits are no division code in use in the birth year."),
    "birth_date": N_("The birth date in the number is impossible or in the future."),
}
_USCC_PROBLEMS = {
    "checksum": N_("The check character is wrong."),
    "org_checksum": N_("The organization code's check character is wrong."),
    "length": N_("The code is not 18 characters long."),
    "format": N_("The code has characters GB 32100 does not use."),
    "authority": N_("The registration authority (first character) is unknown."),
    "division": N_("The division code (characters 3 to 8) is unknown."),
}

Findings = dict[tuple[uuid.UUID, str], str]


def rule_title(name: str) -> str:
    rule = RULES_BY_NAME.get(name)
    return _(rule.title) if rule else name


# --- finding problems --------------------------------------------------------------------


async def _pages(
    session: AsyncSession, query: Select[*tuple[Any, ...]], key: Any
) -> AsyncIterator[Any]:
    """Pages of ``query`` by keyset on ``key`` (its first column): constant memory on a
    million rows, and no cursor held open across the rest of the work."""
    last: Any = None
    while True:
        page = query.order_by(key).limit(_SCAN_PAGE)
        if last is not None:
            page = page.where(key > last)
        batch = (await session.execute(page)).all()
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _today() -> date:
    return clock.to_city(clock.now()).date()


async def _ids(session: AsyncSession, query: Select[Any]) -> list[uuid.UUID]:
    return [row[0] for row in (await session.execute(query)).all()]


async def _person_findings(session: AsyncSession) -> Findings:
    today = _today()
    found: Findings = {}
    query = select(Person.id, Person.id_number, Person.birth_date, Person.sex, Person.phone)
    # Check digits and phone numbers need Python; the rest is SQL below.
    async for batch in _pages(session, query, Person.id):
        for person_id, number, birth, sex, phone in batch:
            try:
                rid = parse_resident_id(number, today=today)
            except InvalidIdentifier as exc:
                found[(person_id, "id_number_invalid")] = _ID_PROBLEMS.get(
                    exc.code, _ID_PROBLEMS["format"]
                )
            else:
                if rid.birth_date != birth or rid.sex != sex:
                    found[(person_id, "birth_date_mismatch")] = N_(
                        "The stored birth date or sex differs from what the ID number says."
                    )
            if phone and not valid_phone(phone):
                found[(person_id, "phone_invalid")] = N_(
                    "Use 11 digits for a mobile, or an area code and number for a landline."
                )
    oldest = _years_before(today, 120)
    for person_id in await _ids(
        session,
        select(Person.id).where((Person.birth_date > today) | (Person.birth_date < oldest)),
    ):
        found[(person_id, "birth_date_implausible")] = N_(
            "Nobody registered can be born in the future or be over 120."
        )
    codes = (await session.execute(select(Person.hukou_division_code).distinct())).scalars().all()
    unknown = [c for c in codes if c and not division_known(c)]
    for start in range(0, len(unknown), 1000):
        chunk = unknown[start : start + 1000]
        query_unknown = select(Person.id).where(Person.hukou_division_code.in_(chunk))
        for person_id in await _ids(session, query_unknown):
            found[(person_id, "hukou_division_invalid")] = N_(
                "GB/T 2260 has no such division code."
            )
    twins = (
        select(Person.name, Person.birth_date)
        .group_by(Person.name, Person.birth_date)
        .having(func.count(func.distinct(Person.id_number)) > 1)
        .subquery()
    )
    duplicate = select(Person.id).join(
        twins, (Person.name == twins.c.name) & (Person.birth_date == twins.c.birth_date)
    )
    for person_id in await _ids(session, duplicate):
        found[(person_id, "duplicate_suspect")] = N_(
            "Another record has the same name and birth date but a different ID number."
        )
    unresolved = select(Person.id).where(
        Person.residence_address != "", Person.residence_place_code.is_(None)
    )
    for person_id in await _ids(session, unresolved):
        found[(person_id, "address_unresolved")] = N_(
            "The residence address is set but no grid was found for it."
        )
    grid = exists().where(Place.code == Person.residence_place_code, Place.kind == "grid")
    dangling = select(Person.id).where(Person.residence_place_code.is_not(None), ~grid)
    for person_id in await _ids(session, dangling):
        found[(person_id, "residence_place_unknown")] = N_("The residence grid code names no grid.")
    return found


async def _organization_findings(session: AsyncSession) -> Findings:
    found: Findings = {}
    query = select(Organization.id, Organization.uscc)
    async for batch in _pages(session, query, Organization.id):
        for org_id, code in batch:
            try:
                parse_uscc(code)
            except InvalidIdentifier as exc:
                found[(org_id, "uscc_invalid")] = _USCC_PROBLEMS.get(
                    exc.code, _USCC_PROBLEMS["format"]
                )
    missing = select(Organization.id).where(
        Organization.org_type == "enterprise", Organization.legal_representative_id.is_(None)
    )
    for org_id in await _ids(session, missing):
        found[(org_id, "legal_representative_missing")] = N_(
            "An enterprise must name its legal representative."
        )
    empty = select(Organization.id).where(func.trim(Organization.industry) == "")
    for org_id in await _ids(session, empty):
        found[(org_id, "industry_empty")] = N_("Record the GB/T 4754 industry section.")
    return found


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- refreshing issues -------------------------------------------------------------------


@dataclass(frozen=True)
class QualityRun:
    record_type: str
    open: int
    added: int
    resolved: int


def _chunks(values: list[Any], size: int = 5000) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _issue_order(item: tuple[tuple[uuid.UUID, str], str]) -> tuple[str, str]:
    return str(item[0][0]), item[0][1]


async def run_quality_checks(
    session: AsyncSession, principal: Principal, record_type: str
) -> QualityRun:
    """Run a registry's rules: open an issue for each new problem and resolve the open ones
    that no longer hold; an unchanged problem keeps its issue (and detection time)."""
    authorize(principal, "registry.quality.run")
    if record_type not in CHECKED_TYPES:
        raise InvalidInput(
            _("Quality rules exist for person and organization, not {type}.").format(
                type=record_type
            ),
            field="record_type",
        )
    if record_type == "person":
        found = await _person_findings(session)
    else:
        found = await _organization_findings(session)
    open_rows = await session.execute(
        select(QualityIssue.id, QualityIssue.record_id, QualityIssue.rule).where(
            QualityIssue.record_type == record_type, QualityIssue.resolved_at.is_(None)
        )
    )
    known = {(record_id, rule): issue_id for issue_id, record_id, rule in open_rows.all()}
    now = clock.now()
    added = [
        {
            "record_type": record_type,
            "record_id": record_id,
            "rule": rule,
            "field": RULES_BY_NAME[rule].field,
            "department_code": RULES_BY_NAME[rule].department_code,
            "message": message[:300],
            "detected_at": now,
            "resolved_at": None,
        }
        for (record_id, rule), message in sorted(
            found.items(), key=lambda i: (str(i[0][0]), i[0][1])
        )
        if (record_id, rule) not in known
    ]
    for chunk in _chunks(added):
        await session.execute(insert(cast(Table, QualityIssue.__table__)), chunk)
    gone = [issue_id for key, issue_id in known.items() if key not in found]
    for chunk in _chunks(gone):
        await session.execute(
            update(QualityIssue).where(QualityIssue.id.in_(chunk)).values(resolved_at=now)
        )
    await audit.log(
        session,
        principal,
        "registry.quality.run",
        target=f"{record_type}:*",
        open=len(found),
        added=len(added),
        resolved=len(gone),
    )
    return QualityRun(record_type, len(found), len(added), len(gone))


async def quality_sweep(session: AsyncSession) -> None:
    """The daily job: every registry's rules, run by the platform itself."""
    for record_type in CHECKED_TYPES:
        await run_quality_checks(session, SYSTEM, record_type)


# --- reading issues ----------------------------------------------------------------------


def readable_quality_issues(principal: Principal) -> Select[QualityIssue]:
    """Administrators and supervisors see every issue; a department sees those it must fix."""
    query = select(QualityIssue)
    if principal.is_("admin", "supervisor"):
        return query
    own = select(Department.code).where(Department.id == principal.department_id)
    return query.where(QualityIssue.department_code.in_(own))


@dataclass(frozen=True)
class ReportRow:
    department_code: str
    department_name: str
    record_type: str
    field: str
    rule: str
    open: int


async def quality_report(session: AsyncSession, principal: Principal) -> list[ReportRow]:
    """Open problems counted per source department, registry, field and rule (counts only,
    so every department sees the whole city's picture)."""
    authorize(principal, "registry.quality.read")
    query = (
        select(
            QualityIssue.department_code,
            QualityIssue.record_type,
            QualityIssue.field,
            QualityIssue.rule,
            func.count(),
        )
        .where(QualityIssue.resolved_at.is_(None))
        .group_by(
            QualityIssue.department_code,
            QualityIssue.record_type,
            QualityIssue.field,
            QualityIssue.rule,
        )
        .order_by(QualityIssue.department_code, QualityIssue.record_type, QualityIssue.field)
    )
    rows = (await session.execute(query)).all()
    names = await department_names(session, {r[0] for r in rows})
    return [
        ReportRow(code, names.get(code, code), record_type, field, rule, int(n))
        for code, record_type, field, rule, n in rows
    ]


async def list_quality_issues(
    session: AsyncSession,
    principal: Principal,
    *,
    department: str | None = None,
    rule: str | None = None,
    record_type: str | None = None,
    resolved: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QualityIssue], int]:
    """Open (or resolved) issues the caller may see, newest first, with the total."""
    authorize(principal, "registry.quality.read")
    if rule and rule not in RULES_BY_NAME:
        raise InvalidInput(_("Unknown rule {rule}.").format(rule=rule), field="rule")
    query = readable_quality_issues(principal)
    query = query.where(
        QualityIssue.resolved_at.is_not(None) if resolved else QualityIssue.resolved_at.is_(None)
    )
    if department:
        query = query.where(QualityIssue.department_code == department)
    if rule:
        query = query.where(QualityIssue.rule == rule)
    if record_type:
        query = query.where(QualityIssue.record_type == record_type)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    page = query.order_by(QualityIssue.detected_at.desc(), QualityIssue.id.desc())
    items = (await session.execute(page.limit(limit).offset(offset))).scalars().all()
    return list(items), int(total)
