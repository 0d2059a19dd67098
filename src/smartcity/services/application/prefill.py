"""免提交: what the registries already hold about the applicant fills the form, with the source
department of each value (一数一源).

What the registries hold about the applicant (a citizen's person record, an enterprise's
organization) is filled in and not asked again: the form shows it read-only with the source
department named, and the submitted case keeps exactly the values and sources used. Reading
a person's record for this goes through the registry service and is access-logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.registry import contract as registry
from smartcity.registry.contract import (
    PERSONAL_FIELDS,
    department_names,
    department_names_en,
    source_of,
)
from smartcity.services.models import Material, ServiceItem

# Stored in the person's access log and shown to them: Chinese, as the citizen reads it.
PURPOSE = "网上办事申请（免提交）"
# The prefill is the platform reading for the applicant, for the item's department: the log
# names this system as the reader (the applicant's own views of their record are not listed).
PREFILL_ACTOR = "services.prefill"
PREFILL_ACTOR_NAME = "网上办事大厅（免提交预填）"

NOT_LINKED_PERSON = N_(
    "Your account is not linked to your record in the population registry, so the form "
    "cannot fill in what the city already knows about you: fill it in yourself. The public "
    "security bureau links your account when you show your ID card at a service hall."
)
NOT_LINKED_ORGANIZATION = N_(
    "Your enterprise account is not linked to your organization's record in the legal-person "
    "registry, so the form cannot fill in your registration details: fill them in yourself. "
    "The market regulation bureau links the account on request."
)
NOTE_NOT_LINKED = N_("Not filled in for you: your account is not linked to the city's records.")
NOTE_NO_VALUE = N_("Not filled in for you: the city's records hold no value for this.")


# --- what the registries hold -----------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a prefilled value comes from: the registry field and its source department
    (一数一源)."""

    registry: str  # person, organization
    field: str
    department_code: str
    department_name: str
    # For pages only (records keep the Chinese name): the department's English name.
    department_name_en: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "registry": self.registry,
            "field": self.field,
            "department_code": self.department_code,
            "department_name": self.department_name,
        }


@dataclass(frozen=True)
class RegistryRecord:
    """The applicant's own registry record, as far as the form needs it, or why there is none."""

    record_type: str
    record_id: uuid.UUID | None
    values: Mapping[str, Any]
    sources: Mapping[str, Source]
    note: str = ""

    @property
    def linked(self) -> bool:
        return self.record_id is not None

    def value(self, name: str) -> str:
        found = self.values.get(name)
        return "" if found is None else str(found)

    def provides(self, name: str | None) -> Source | None:
        """The source of a registry field if the record holds a value for it."""
        if not name or not self.linked or not self.value(name):
            return None
        return self.sources.get(name)


def _wanted_fields(item: ServiceItem) -> set[str]:
    wanted = {str(f["prefill"]) for f in item.form_fields if f.get("prefill")}
    return wanted | {str(m["from_registry"]) for m in item.materials if m.get("from_registry")}


async def registry_record(
    session: AsyncSession, principal: Principal, item: ServiceItem
) -> RegistryRecord:
    """The record the applicant's account is linked to; reading it here is not logged (the
    caller logs what it shows or uses)."""
    wanted = _wanted_fields(item)
    record_type = "organization" if principal.kind == "enterprise" else "person"
    own = await registry.own_record(session, principal)
    if own is None:
        note = NOT_LINKED_ORGANIZATION if record_type == "organization" else NOT_LINKED_PERSON
        return RegistryRecord(record_type, None, {}, {}, _(note))
    record_id, values = own.record_id, own.values
    codes: dict[str, str] = {}
    for name in wanted:
        try:
            codes[name] = source_of(record_type, name)
        except KeyError:
            continue  # this registry does not hold the field (e.g. an ID number of a company)
    names = await department_names(session, codes.values())
    names_en = await department_names_en(session, codes.values())
    sources = {
        n: Source(record_type, n, code, names[code], names_en.get(code, ""))
        for n, code in codes.items()
    }
    return RegistryRecord(record_type, record_id, values, sources)


async def log_prefill(
    session: AsyncSession,
    principal: Principal,
    record: RegistryRecord,
    used: Iterable[str],
    *,
    item: ServiceItem,
    via: str,
    case_number: str = "",
) -> None:
    """An access-log row for the person's fields the form showed or the case took, read by
    the service hall (a system) for the item's department; with the case number once
    submitted. Showing the same draft again that day folds into the same row."""
    used = sorted(set(used))
    if record.record_type != "person" or record.record_id is None or not used:
        return
    department = await session.get(Department, item.department_id)
    reader = registry.Reader(
        kind="system",
        actor=PREFILL_ACTOR,
        name=PREFILL_ACTOR_NAME,
        department_code=department.code if department is not None else "",
    )
    await registry.log_reads(
        session,
        reader,
        [(record.record_id, [f for f in used if f in PERSONAL_FIELDS])],
        purpose=f"{PURPOSE}：{item.name}",
        via=via,
        case_number=case_number,
    )


# --- the form as the registries fill it ------------------------------------------------------


@dataclass(frozen=True)
class FieldState:
    """One field of the form as the applicant sees it: prefilled (read-only, with its source)
    or an input with the answer so far."""

    name: str
    label: str
    type: str
    required: bool
    value: str
    source: Source | None = None
    note: str = ""
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class MaterialState:
    """One of the item's materials: provided by the registries (免提交) or uploaded files."""

    index: int
    name: str
    required: bool
    source: Source | None
    registry_value: str
    files: tuple[Material, ...]
    note: str = ""

    @property
    def provided(self) -> bool:
        return self.source is not None or bool(self.files)


@dataclass(frozen=True)
class Missing:
    """A required field or material not yet given (kind ``field`` or ``material``)."""

    kind: str
    name: str
    label: str

    @property
    def key(self) -> str:
        return self.name


def field_states(
    item: ServiceItem, answers: Mapping[str, Any], record: RegistryRecord
) -> list[FieldState]:
    """The item's form with the answers so far; a field the record provides shows its value
    and source instead, one it should but cannot says why."""
    states = []
    for f in item.form_fields:
        name, prefill = str(f["name"]), f.get("prefill")
        value, source, note = str(answers.get(name, "") or ""), None, ""
        if prefill:
            source = record.provides(prefill)
            if source is not None:
                value = record.value(prefill)
            else:
                note = _(NOTE_NOT_LINKED) if not record.linked else _(NOTE_NO_VALUE)
        states.append(
            FieldState(
                name=name,
                label=str(f.get("label") or name),
                type=str(f.get("type") or "text"),
                required=bool(f.get("required", True)),
                value=value,
                source=source,
                note=note,
                options=tuple(str(o) for o in f.get("options") or ()),
            )
        )
    return states


def material_states(
    item: ServiceItem, files: Sequence[Material], record: RegistryRecord
) -> list[MaterialState]:
    """The item's materials: provided by the record (免提交) or the draft's files for each."""
    states = []
    for index, m in enumerate(item.materials):
        name, from_registry = str(m["name"]), m.get("from_registry")
        source = record.provides(from_registry)
        note = ""
        if from_registry and source is None:
            note = _(NOTE_NOT_LINKED) if not record.linked else _(NOTE_NO_VALUE)
        states.append(
            MaterialState(
                index=index,
                name=name,
                required=bool(m.get("required", True)),
                source=source,
                registry_value=record.value(str(from_registry)) if source else "",
                files=tuple(f for f in files if f.name == name and not f.supplement),
                note=note,
            )
        )
    return states


def what_is_missing(
    fields: Sequence[FieldState], materials: Sequence[MaterialState]
) -> list[Missing]:
    """The required fields and materials not yet given, fields first."""
    missing = [Missing("field", f.name, f.label) for f in fields if f.required and not f.value]
    return missing + [
        Missing("material", m.name, m.name) for m in materials if m.required and not m.provided
    ]
