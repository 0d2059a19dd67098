"""Topics the foundation publishes, each with its payload; publishers and subscribers import
them from here, so no topic name is written twice."""

from __future__ import annotations

from typing import Any

from smartcity.core.bus import Payload, Topic


class DepartmentCreated(Payload):
    id: str
    code: str


class AccountCreated(Payload):
    id: str
    kind: str


class AccountActiveChanged(Payload):
    """An account was deactivated or activated again (a device's broker login follows)."""

    id: str
    active: bool


class ApiKeyChanged(Payload):
    """An API key was issued to or revoked from a system or device account."""

    account_id: str
    prefix: str


class YearEntered(Payload):
    """The working-day calendar of a year was entered (or changed): clocks that counted it
    provisionally are recomputed."""

    year: int


class ChainCheckpointed(Payload):
    """A signed checkpoint of the audit trail and the exchange message log was written; the
    payload is the checkpoint line exactly as the file holds it, so a subscriber off the
    platform (a NATS stream, another city system) keeps a copy that a rollback of this
    database and of its checkpoint directory cannot reach."""

    checkpoint: dict[str, Any]
    signature: dict[str, Any]


class BackupWritten(Payload):
    path: str
    manifest: str
    at: str
    database: str
    checkpoint: int


DEPARTMENT_CREATED = Topic("core.department.created", DepartmentCreated)
ACCOUNT_CREATED = Topic("core.account.created", AccountCreated)
ACCOUNT_ACTIVE_CHANGED = Topic("core.account.active_changed", AccountActiveChanged)
API_KEY_ISSUED = Topic("core.api_key.issued", ApiKeyChanged)
API_KEY_REVOKED = Topic("core.api_key.revoked", ApiKeyChanged)
YEAR_ENTERED = Topic("core.calendar.year_entered", YearEntered)
CHAIN_CHECKPOINTED = Topic("core.chain.checkpointed", ChainCheckpointed)
BACKUP_WRITTEN = Topic("core.backup.written", BackupWritten)
