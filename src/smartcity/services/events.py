"""The service hall's topics (网上办事事件), each with its payload. Publishers and subscribers
import the topic from here, so no topic string is written twice. The same names serve as the
audit actions and notification topics of these changes."""

from __future__ import annotations

from smartcity.core.bus import Payload, Topic


class ApplicationSubmitted(Payload):
    """An application was handed in and its case opened (申请已提交)."""

    application_id: str
    case_id: str
    number: str  # the case's number
    item_code: str
    department: str  # the department's code


class LicenceIssued(Payload):
    """A licence was issued and signed for an approved case (发证)."""

    number: str
    case_id: str
    item: str  # the item's code


class LicenceRevoked(Payload):
    """A licence was revoked (撤销证照), with the reason given."""

    number: str
    case_id: str
    reason: str


class ItemUpdated(Payload):
    """A service item changed what matters to applicants, or was withdrawn or restored."""

    code: str
    fields: list[str]
    active: bool


SUBMITTED = Topic("services.application.submitted", ApplicationSubmitted)
LICENCE_ISSUED = Topic("services.licence.issued", LicenceIssued)
LICENCE_REVOKED = Topic("services.licence.revoked", LicenceRevoked)
ITEM_UPDATED = Topic("services.item.updated", ItemUpdated)
