"""Persons (人口库): masked reads, the access log, 我的数据 and reads for the exchange (交换)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account
from smartcity.registry import records
from smartcity.registry.history import (
    VersionView,
    _version_views,
    _versions,
    record_created,
    record_updated,
    version_as_of,
)
from smartcity.registry.models import AccessLog, Organization, Person, Place
from smartcity.registry.records import PERSONAL_FIELDS, data_fields, mask_person, snapshot
from smartcity.registry.schemas import PersonCreate
from smartcity.registry.sources import group_of_field, groups_of
from smartcity.registry.stewardship import (
    _groups_of_fields,
    department_code_of,
    department_names,
    require_one_source,
    require_source,
)
from smartcity.registry.validation import (
    PERSON_STATUSES,
    _choice,
    _limits,
    _require_place,
    check_district,
    check_known_fields,
    check_resident_id,
    check_uscc,
    clean_person_fields,
    name_prefix_filter,
)

# Department people read everything (masked); citizens read only their own record.
READERS = frozenset({"staff", "supervisor", "admin", "system"})
# Who may write at all; the 一数一源 source check then narrows it to the source department.
WRITERS = frozenset({"staff", "system", "admin"})
ACTIONS: dict[str, frozenset[str]] = {
    "registry.person.create": WRITERS,
    "registry.person.update": WRITERS,
    "registry.person.read": READERS | {"citizen"},
    "registry.person.link_account": frozenset({"staff", "admin"}),
    "registry.organization.create": WRITERS,
    "registry.organization.update": WRITERS,
    "registry.organization.read": READERS,
}


# Stored in the access log and shown to the person: Chinese, as the citizen reads it.
PURPOSE_SEARCH = "查询"
PURPOSE_VIEW = "查看"
PURPOSE_MY_DATA = "本人查看"


@dataclass(frozen=True)
class PersonView:
    """A person as one caller may see them: ``data`` has personal fields masked."""

    id: uuid.UUID
    version: int
    data: dict[str, Any]
    visible: frozenset[str]
    masked: frozenset[str]
    as_of: datetime | None = None


@dataclass(frozen=True)
class AccessEntry:
    """One read of a person's record as the person sees it (个人信息访问记录)."""

    at: datetime
    department_code: str
    department_name: str
    actor_kind: str
    purpose: str
    via: str
    fields: list[str]
    case_number: str
    actor_name: str = ""
    grant_name: str = ""
    reads: int = 1
    last_at: datetime | None = None


@dataclass(frozen=True)
class Reader:
    """Who a read is logged as, when it is not simply the signed-in caller: a system reading
    on someone's behalf (the service hall's 免提交 prefill, an exchange subscription push).
    ``actor`` is a stable id, ``name`` what the person is told, ``department_code`` the
    department the data goes to."""

    kind: str
    actor: str
    name: str
    department_code: str


# --- persons: reading, masking and the access log ------------------------------------------


def readable_persons(principal: Principal) -> Select[Person]:
    """Department people read every person (masked); a citizen only their own record."""
    query = select(Person)
    if principal.is_(*READERS):
        return query
    if principal.kind == "citizen" and principal.id is not None:
        return query.where(Person.account_id == principal.id)
    return query.where(false())


@dataclass(frozen=True)
class FieldGrants:
    """A module that grants departments fields of registry records (the exchange's 共享授权),
    declared in its MODULE.extends. ``granted(session, department_id, record_type)`` answers
    the fields the department's grants in force name; the registry shows those unmasked."""

    name: str
    granted: Callable[[AsyncSession, uuid.UUID, str], Awaitable[set[str]]]


_FIELD_GRANTS: list[FieldGrants] = []


def install_field_grants(declared: Sequence[FieldGrants]) -> None:
    """The registry's extension point for FieldGrants (see core.module.ExtensionPoint)."""
    _FIELD_GRANTS[:] = declared


async def _granted_person_fields(session: AsyncSession, department_id: uuid.UUID) -> set[str]:
    """Fields of persons named by the department's grants in force (共享授权)."""
    granted: set[str] = set()
    for source in _FIELD_GRANTS:
        granted.update(await source.granted(session, department_id, "person"))
    return granted & set(data_fields("person"))


async def _department_visible(session: AsyncSession, principal: Principal) -> set[str]:
    # Admins are deliberately not here: administering the platform is no reason to read
    # anyone's personal data (least privilege).
    if not principal.is_("staff", "supervisor", "system") or principal.department_id is None:
        return set()
    code = await department_code_of(session, principal)
    visible = {f for g in groups_of("person") if g.department_code == code for f in g.fields}
    return visible | await _granted_person_fields(session, principal.department_id)


def _own(principal: Principal, person: Person) -> bool:
    return (
        principal.kind == "citizen"
        and principal.id is not None
        and person.account_id == principal.id
    )


async def visible_fields(session: AsyncSession, principal: Principal, person: Person) -> set[str]:
    """The person's fields this caller sees unmasked: all of them on their own record; the
    fields of groups their department is the source of; fields an exchange grant names."""
    if _own(principal, person):
        return set(data_fields("person"))
    return await _department_visible(session, principal)


def _view(
    person_id: uuid.UUID,
    version: int,
    data: dict[str, Any],
    visible: Iterable[str],
    as_of: datetime | None = None,
) -> PersonView:
    shown = frozenset(visible)
    masked = frozenset(f for f in PERSONAL_FIELDS - shown if data.get(f) not in (None, ""))
    return PersonView(person_id, version, mask_person(data, shown), shown, masked, as_of)


async def present_person(session: AsyncSession, principal: Principal, person: Person) -> PersonView:
    """A person masked for the caller, without an access-log row: for the answer to a
    write, which shows the writer what they wrote."""
    return _view(
        person.id,
        person.version,
        snapshot("person", person),
        await visible_fields(session, principal, person),
    )


def _disclosed(view: PersonView) -> list[str]:
    return sorted(f for f in PERSONAL_FIELDS & view.visible if view.data.get(f) not in (None, ""))


def _purpose(purpose: str, default: str) -> str:
    return (purpose or "").strip()[:200] or default


# Repeats fold: a read with the same reader (kind, actor, department), purpose, case number,
# grant and way (page, api, exchange...) of the same person on the same city day (Asia/
# Shanghai) adds to that day's row (reads + 1, last_at, the fields shown) instead of a new
# row. An officer who opens one application ten times in an afternoon is one line in the
# person's log; the next day, or another purpose, or another officer, is a new line.
_FOLD_KEY = (
    "actor_kind",
    "actor",
    "department_code",
    "purpose",
    "case_number",
    "via",
    "grant_name",
)


def city_day_start(instant: datetime) -> datetime:
    """The instant the city day (Asia/Shanghai) holding ``instant`` began."""
    local = clock.to_city(instant)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


async def _reader_of(
    session: AsyncSession, principal: Principal | Reader, actor_name: str | None
) -> Reader:
    if isinstance(principal, Reader):
        return principal
    name = actor_name
    if name is None:
        account = await session.get(Account, principal.id) if principal.id else None
        name = account.display_name if account is not None else principal.name
    code = await department_code_of(session, principal)
    return Reader(principal.kind, principal.name, name, code)


async def log_reads(
    session: AsyncSession,
    principal: Principal | Reader,
    reads: Sequence[tuple[uuid.UUID, Sequence[str]]],
    *,
    purpose: str,
    via: str,
    case_number: str = "",
    grant_name: str = "",
    actor_name: str | None = None,
) -> None:
    """Log reads of persons' records: one row per person, reader, purpose, case, grant and
    way per city day (repeats fold into it, see _FOLD_KEY). ``principal`` is the caller, or
    a Reader for a system reading on someone's behalf; ``actor_name`` overrides the name
    the person is told (default: the caller's display name)."""
    if not reads:
        return
    reader = await _reader_of(session, principal, actor_name)
    now = clock.now()
    key = {
        "actor_kind": reader.kind[:16],
        "actor": reader.actor[:100],
        "department_code": reader.department_code[:32],
        "purpose": purpose[:200],
        "case_number": case_number[:64],
        "via": via[:16],
        "grant_name": grant_name[:200],
    }
    wanted: dict[uuid.UUID, set[str]] = {}
    for person_id, fields in reads:
        wanted.setdefault(person_id, set()).update(fields)
    existing = (
        await session.execute(
            select(AccessLog)
            .where(
                AccessLog.person_id.in_(list(wanted)),
                AccessLog.at >= city_day_start(now),
                *(getattr(AccessLog, column) == key[column] for column in _FOLD_KEY),
            )
            .order_by(AccessLog.id)
        )
    ).scalars()
    folded: dict[uuid.UUID, AccessLog] = {}
    for row in existing:
        folded.setdefault(row.person_id, row)
    for person_id, row in folded.items():
        row.reads = (row.reads or 1) + 1
        row.last_at = now
        row.fields = sorted(set(row.fields or []) | wanted[person_id])
    new = [p for p in wanted if p not in folded]
    if new:
        await session.execute(
            insert(AccessLog),
            [
                {
                    **key,
                    "at": now,
                    "person_id": person_id,
                    "actor_name": reader.name[:100],
                    "fields": sorted(wanted[person_id]),
                    "reads": 1,
                }
                for person_id in new
            ],
        )
    await session.flush()


async def _logged_view(
    session: AsyncSession, principal: Principal, view: PersonView, *, purpose: str, via: str
) -> PersonView:
    """A viewed record (查看), with its access-log row naming the personal fields shown."""
    await log_reads(
        session,
        principal,
        [(view.id, _disclosed(view))],
        purpose=_purpose(purpose, PURPOSE_VIEW),
        via=via,
    )
    return view


async def _readable_person(
    session: AsyncSession, principal: Principal, person_id: uuid.UUID
) -> Person:
    authorize(principal, "registry.person.read")
    person = (
        await session.execute(readable_persons(principal).where(Person.id == person_id))
    ).scalar_one_or_none()
    if person is None:
        raise NotFound(_("There is no such person in the population registry."))
    return person


async def get_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    purpose: str = "",
    via: str = "api",
) -> PersonView:
    """A person's current record, masked for the caller; the read is logged."""
    person = await _readable_person(session, principal, person_id)
    view = _view(
        person.id,
        person.version,
        snapshot("person", person),
        await visible_fields(session, principal, person),
    )
    return await _logged_view(session, principal, view, purpose=purpose, via=via)


async def get_person_as_of(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    at: datetime,
    *,
    purpose: str = "",
    via: str = "api",
) -> PersonView:
    """The person's record as it was at the instant ``at`` (404 if not registered yet)."""
    if at.tzinfo is None:
        raise InvalidInput(_("Give the instant with its time zone."), field="as_of")
    person = await _readable_person(session, principal, person_id)
    version = await version_as_of(session, "person", person.id, at)
    if version is None:
        raise NotFound(
            _("This person was not yet in the population registry at {at}.").format(
                at=clock.to_city(at).strftime("%Y-%m-%d %H:%M")
            ),
            field="as_of",
        )
    view = _view(
        person.id,
        version.version,
        dict(version.data),
        await visible_fields(session, principal, person),
        as_of=at,
    )
    return await _logged_view(session, principal, view, purpose=purpose, via=via)


async def person_history(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    purpose: str = "",
    via: str = "api",
) -> list[VersionView]:
    """Every version of a person's record, newest first; personal values masked; logged."""
    person = await _readable_person(session, principal, person_id)
    visible = frozenset(await visible_fields(session, principal, person))
    views = await _version_views(session, await _versions(session, "person", person.id), visible)
    disclosed = sorted(PERSONAL_FIELDS & visible)
    await log_reads(
        session,
        principal,
        [(person.id, disclosed)],
        purpose=_purpose(purpose, PURPOSE_VIEW),
        via=via,
    )
    return views


async def get_person_record(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    at: datetime | None = None,
    purpose: str = "",
    via: str = "page",
) -> tuple[PersonView, list[VersionView]]:
    """The record page: the person now (or as of ``at``) with the history, one logged read."""
    if at is not None:
        view = await get_person_as_of(session, principal, person_id, at, purpose=purpose, via=via)
    else:
        view = await get_person(session, principal, person_id, purpose=purpose, via=via)
    history = await _version_views(
        session, await _versions(session, "person", person_id), view.visible
    )
    return view, history


async def search_persons(
    session: AsyncSession,
    principal: Principal,
    *,
    id_number: str | None = None,
    name_prefix: str | None = None,
    district: str | None = None,
    status: str | None = None,
    limit: int = 50,
    offset: int = 0,
    purpose: str = "",
    via: str = "api",
) -> tuple[list[PersonView], bool]:
    """Persons by exact ID number, name prefix, district (户籍地 or residence) and status,
    ordered by name; returns the page and whether more follow. Every row read is logged."""
    authorize(principal, "registry.person.read")
    _limits(limit, offset)
    query = readable_persons(principal)
    if not (id_number or name_prefix or district) and not principal.is_("citizen"):
        # No dragnet over personal data: a search names whom it looks for.
        raise InvalidInput(_("Search by ID number, name or district."), field="id_number")
    if id_number:
        query = query.where(Person.id_number == check_resident_id(id_number).number)
    if name_prefix and name_prefix.strip():
        query = query.where(name_prefix_filter(Person.name, name_prefix.strip()))
    if district:
        code = check_district(district)
        places = select(Place.code).where(Place.district_code == code)
        query = query.where(
            or_(Person.hukou_division_code == code, Person.residence_place_code.in_(places))
        )
    if status:
        query = query.where(Person.status == _choice(status, "status", PERSON_STATUSES))
    query = query.order_by(Person.name, Person.id_number).limit(limit + 1).offset(offset)
    found = list((await session.execute(query)).scalars().all())
    more = len(found) > limit
    found = found[:limit]
    base = await _department_visible(session, principal)
    views = [
        _view(
            p.id,
            p.version,
            snapshot("person", p),
            set(data_fields("person")) if _own(principal, p) else base,
        )
        for p in found
    ]
    await log_reads(
        session,
        principal,
        [(v.id, _disclosed(v)) for v in views],
        purpose=_purpose(purpose, PURPOSE_SEARCH),
        via=via,
    )
    return views, more


# --- persons: writing ----------------------------------------------------------------------


async def _id_number_taken(session: AsyncSession, number: str) -> None:
    if (await session.execute(select(Person.id).where(Person.id_number == number))).first():
        raise Conflict(_("A person with this ID number is already registered."), field="id_number")


async def create_person(
    session: AsyncSession, principal: Principal, data: PersonCreate, *, reason: str = ""
) -> Person:
    """Register a person (人口登记): the identity source (公安局) or an admin; any other
    field given must also be the caller's to write."""
    authorize(principal, "registry.person.create")
    given = {k for k, v in data.model_dump(exclude_unset=True).items() if v not in (None, "")}
    groups = _groups_of_fields("person", {"id_number", "status", *given} - {"sex", "birth_date"})
    await require_source(session, principal, groups)
    values = clean_person_fields(data.model_dump(), None)
    await _id_number_taken(session, values["id_number"])
    await _require_place(session, values.get("residence_place_code"), "residence_place_code")
    person = Person(**values, version=1, updated_at=clock.now())
    await record_created(
        session,
        principal,
        "person",
        person,
        source_department_code=group_of_field("person", "id_number").department_code,
        reason=reason,
    )
    return person


async def update_person(
    session: AsyncSession,
    principal: Principal,
    person_id: uuid.UUID,
    *,
    fields: Mapping[str, Any],
    reason: str = "",
) -> Person:
    """Change some fields of a person; every group they belong to must be the caller's
    department's (一数一源). Writes a new version with the old and new values."""
    person = await _readable_person(session, principal, person_id)
    authorize(principal, "registry.person.update", person)
    if not fields:
        raise InvalidInput(_("Name at least one field to change."), field="fields")
    check_known_fields(fields, data_fields("person"))
    groups = await require_one_source(session, principal, "person", fields)
    values = clean_person_fields(fields, snapshot("person", person))
    if values.get("id_number", person.id_number) != person.id_number:
        await _id_number_taken(session, values["id_number"])
    if values.get("residence_place_code") != person.residence_place_code:
        await _require_place(session, values.get("residence_place_code"), "residence_place_code")
    await record_updated(session, principal, "person", person, values, groups=groups, reason=reason)
    return person


async def account_to_link(
    session: AsyncSession,
    username: str,
    *,
    kind: str,
    linked_elsewhere: Select[Any],
    owner_column: Any,
    unknown: str,
    taken: str,
) -> Account:
    """The account of ``kind`` a registry record may be linked to (账户绑定): it exists, and no
    other record (``linked_elsewhere``, a select of the other records' ids) is linked to it.
    ``unknown`` and ``taken`` are the refusals, with ``{username}`` in them."""
    account = (
        await session.execute(select(Account).where(Account.username == username.strip()))
    ).scalar_one_or_none()
    if account is None or account.kind != kind:
        raise InvalidInput(unknown.format(username=username), field="username")
    other = (
        await session.execute(linked_elsewhere.where(owner_column == account.id).limit(1))
    ).scalar_one_or_none()
    if other is not None:
        raise Conflict(taken.format(username=username), field="username")
    return account


async def link_account(
    session: AsyncSession,
    principal: Principal,
    *,
    person_id: uuid.UUID,
    username: str | None,
) -> Person:
    """Link a citizen's platform account to their person record (for 我的数据), or unlink
    with None. The identity source (公安局) or an admin does it, after checking identity."""
    authorize(principal, "registry.person.link_account")
    await require_source(session, principal, [group_of_field("person", "id_number")])
    person = await _readable_person(session, principal, person_id)
    if username is None:
        person.account_id = None
        await audit.log(session, principal, "registry.person.unlink_account", str(person.id))
        return person
    account = await account_to_link(
        session,
        username,
        kind="citizen",
        linked_elsewhere=select(Person.id).where(Person.id != person.id),
        owner_column=Person.account_id,
        unknown=_("There is no citizen account {username}."),
        taken=_("The account {username} is already linked to another person."),
    )
    person.account_id = account.id
    await session.flush()
    await audit.log(
        session, principal, "registry.person.link_account", str(person.id), account=username
    )
    return person


# --- 我的数据: a citizen's own record and who read it ------------------------------------------


async def my_person(session: AsyncSession, principal: Principal) -> Person | None:
    """The person record linked to the citizen's account, if any (reading it is not logged;
    use get_my_record to show it)."""
    if principal.kind != "citizen" or principal.id is None:
        return None
    return (
        await session.execute(readable_persons(principal).where(Person.account_id == principal.id))
    ).scalar_one_or_none()


async def get_my_record(
    session: AsyncSession, principal: Principal, *, via: str = "api"
) -> PersonView:
    """The citizen's own record, unmasked to them; 404 if their account is not linked."""
    person = await my_person(session, principal)
    if person is None:
        raise NotFound(
            _(
                "Your account is not linked to a record in the population registry. The "
                "public security bureau links it when you show your ID card at a service hall."
            )
        )
    return await get_person(session, principal, person.id, purpose=PURPOSE_MY_DATA, via=via)


# Paging deeper than this is no person reading their log (and keeps the offset in range of
# every database's integers).
MAX_ACCESS_LOG_OFFSET = 100_000


async def my_access_log(
    session: AsyncSession, principal: Principal, *, limit: int = 50, offset: int = 0
) -> tuple[list[AccessEntry], bool]:
    """Who read the citizen's record, newest first (their own views left out; reads the
    platform made for them, like the service hall's prefill, are listed)."""
    _limits(limit, offset)
    if offset > MAX_ACCESS_LOG_OFFSET:
        raise InvalidInput(
            _("offset must be at most {n}.").format(n=MAX_ACCESS_LOG_OFFSET), field="offset"
        )
    person = await my_person(session, principal)
    if person is None:
        raise NotFound(_("Your account is not linked to a record in the population registry."))
    query = (
        select(AccessLog)
        .where(
            AccessLog.person_id == person.id,
            or_(AccessLog.actor_kind != "citizen", AccessLog.actor != principal.name),
        )
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
        .limit(limit + 1)
        .offset(offset)
    )
    rows = list((await session.execute(query)).scalars().all())
    more = len(rows) > limit
    rows = rows[:limit]
    names = await department_names(session, {r.department_code for r in rows})
    entries = [
        AccessEntry(
            at=r.at,
            department_code=r.department_code,
            department_name=names.get(r.department_code, ""),
            actor_kind=r.actor_kind,
            purpose=r.purpose,
            via=r.via,
            fields=list(r.fields or []),
            case_number=r.case_number,
            actor_name=r.actor_name,
            grant_name=r.grant_name,
            reads=r.reads or 1,
            last_at=r.last_at,
        )
        for r in rows
    ]
    return entries, more


# --- reads for the data exchange (交换) --------------------------------------------------------

EXCHANGE_FILTERS: dict[str, frozenset[str]] = {
    "person": frozenset({"id", "id_number", "name_prefix"}),
    "organization": frozenset({"id", "uscc", "name_prefix"}),
    "place": frozenset({"id", "code", "name_prefix"}),
}
MAX_EXCHANGE_ROWS = 1000


def _exchange_query(record_type: str, filters: Mapping[str, str]) -> Select[Any]:
    model = records.MODELS[record_type]
    query: Select[Any] = select(model)
    for name, value in filters.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                _("The filter {filter} needs a value.").format(filter=name), field=name
            )
        value = value.strip()
        if name == "id":
            try:
                query = query.where(model.id == uuid.UUID(value))
            except ValueError:
                raise InvalidInput(_("id must be a UUID."), field="id") from None
        elif name == "id_number":
            query = query.where(Person.id_number == check_resident_id(value).number)
        elif name == "uscc":
            query = query.where(Organization.uscc == check_uscc(value))
        elif name == "code":
            query = query.where(Place.code == value)
        elif name == "name_prefix":
            query = query.where(name_prefix_filter(model.name, value))
    order = {"person": (Person.name, Person.id_number), "organization": (Organization.name,)}
    return query.order_by(*order.get(record_type, (Place.code,)))


async def exchange_read(
    session: AsyncSession,
    consumer: Principal,
    *,
    record_type: str,
    filters: dict[str, str],
    fields: list[str],
    purpose: str,
    case_number: str = "",
    grant_name: str = "",
    actor_name: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Records for the exchange engine, reduced to exactly ``fields`` and unmasked: the
    exchange has checked the grant. Reads of persons go to their access log (via exchange)
    naming the grant and the reader (``actor_name``, default the caller's display name)."""
    if record_type not in EXCHANGE_FILTERS:
        raise InvalidInput(
            _("Unknown record type {record_type}.").format(record_type=record_type),
            field="record_type",
        )
    allowed_fields = {"id", *data_fields(record_type)}
    unknown = [f for f in fields if f not in allowed_fields]
    if unknown or not fields:
        raise InvalidInput(
            _("Unknown fields: {fields}.").format(fields=", ".join(unknown) or "—"),
            field="fields",
        )
    bad_filters = sorted(set(filters) - EXCHANGE_FILTERS[record_type])
    if bad_filters:
        raise InvalidInput(
            _("Unknown filters for {record_type}: {filters}. Known: {known}.").format(
                record_type=record_type,
                filters=", ".join(bad_filters),
                known=", ".join(sorted(EXCHANGE_FILTERS[record_type])),
            ),
            field="filters",
        )
    if record_type == "person" and not filters:
        raise InvalidInput(_("A read of persons must name whom it is for."), field="filters")
    if not 1 <= limit <= MAX_EXCHANGE_ROWS:
        raise InvalidInput(
            _("limit must be between 1 and {n}.").format(n=MAX_EXCHANGE_ROWS), field="limit"
        )
    query = _exchange_query(record_type, filters).limit(limit)
    found = list((await session.execute(query)).scalars().all())
    answer = []
    for record in found:
        data = snapshot(record_type, record)
        data["id"] = str(record.id)
        answer.append({f: data[f] for f in fields})
    if record_type == "person":
        await log_reads(
            session,
            consumer,
            [(r.id, [f for f in fields if f != "id"]) for r in found],
            purpose=_purpose(purpose, PURPOSE_VIEW),
            via="exchange",
            case_number=case_number,
            grant_name=grant_name,
            actor_name=actor_name,
        )
    return answer


async def record_batch(
    session: AsyncSession, record_type: str, *, after: uuid.UUID | None, size: int = 1000
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """The next batch of organizations or places (public records) in id order, each as its
    data fields: for open data, keyset-paged so each transaction stays short."""
    if record_type not in ("organization", "place"):
        return []
    model = records.MODELS[record_type]
    query: Select[Any] = select(model).order_by(model.id).limit(size)
    if after is not None:
        query = query.where(model.id > after)
    found = list((await session.execute(query)).scalars())
    return [(record.id, snapshot(record_type, record)) for record in found]
