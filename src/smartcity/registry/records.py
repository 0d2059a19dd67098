"""What the registries' records look like outside the database: snapshots for history, and
masking of personal data (ID number 4403**********123X, phone 138****1234, address to the
community)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from smartcity.registry.models import Organization, Person, Place

RecordModel = Person | Organization | Place
MODELS: dict[str, type[Person] | type[Organization] | type[Place]] = {
    "person": Person,
    "organization": Organization,
    "place": Place,
}
# Bookkeeping columns that are not data of the record itself.
_NOT_DATA = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "version",
        "account_id",
        "min_lon",
        "min_lat",
        "max_lon",
        "max_lat",
    }
)
# Fields of a person that are personal data and masked unless the caller may see them.
PERSONAL_FIELDS = frozenset(
    {"id_number", "phone", "residence_address", "residence_lon", "residence_lat", "birth_date"}
)


def data_fields(record_type: str) -> list[str]:
    model = MODELS[record_type]
    return [c.key for c in model.__table__.columns if c.key not in _NOT_DATA]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def column_type(record_type: str, name: str) -> str:
    """The SQLAlchemy type name of a data field's column (``String``, ``Date``, ...)."""
    return type(MODELS[record_type].__table__.columns[name].type).__name__


def snapshot(record_type: str, record: RecordModel) -> dict[str, Any]:
    """The record's data as JSON-ready values: what a history version stores."""
    return {name: _plain(getattr(record, name)) for name in data_fields(record_type)}


def mask_id_number(value: str) -> str:
    if len(value) != 18:
        return "*" * len(value)
    return value[:4] + "*" * 10 + value[-4:]


def mask_phone(value: str) -> str:
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_address(value: str) -> str:
    """Keep the address down to the community (社区/村), hide the rest."""
    for marker in ("社区", "村委会", "村"):
        cut = value.find(marker)
        if cut != -1:
            return value[: cut + len(marker)] + "****"
    for marker in ("街道", "镇"):
        cut = value.find(marker)
        if cut != -1:
            return value[: cut + len(marker)] + "****"
    return value[:6] + "****" if len(value) > 6 else "****"


def mask_person(data: dict[str, Any], visible: frozenset[str] | set[str]) -> dict[str, Any]:
    """A person's snapshot with every personal field not in ``visible`` masked."""
    masked = dict(data)
    for name in PERSONAL_FIELDS - set(visible):
        value = masked.get(name)
        if value in (None, ""):
            continue
        if name == "id_number":
            masked[name] = mask_id_number(str(value))
        elif name == "phone":
            masked[name] = mask_phone(str(value))
        elif name == "residence_address":
            masked[name] = mask_address(str(value))
        elif name == "birth_date":
            masked[name] = str(value)[:4] + "-**-**"
        else:
            masked[name] = None
    return masked
