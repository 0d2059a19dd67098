"""What the Open311 tests share: a registered client application's key, a tiny PNG, the
lifecycle of an order taken through the hotline's service, and the XML checks per spec."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from lxml import etree
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.hotline import service
from smartcity.hotline.models import WorkOrder
from tests.core.factories import ROOT, create_account
from tests.hotline.factories import HANDLER, People

# Fields of a request record (GeoReport v2 "GET Service Requests"), in the standard's order.
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
UPDATE_FIELDS = (
    "update_id",
    "service_request_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
)


async def client_key(session: AsyncSession, kind: str = "system") -> str:
    """The API key of a client application (a system account), or of another kind."""
    account = await create_account(session, kind=kind)
    if kind not in ("system", "device"):
        from smartcity.core.models import ApiKey
        from smartcity.core.secrets import token_hash
        from smartcity.core.security import new_api_key

        prefix, key = new_api_key()
        session.add(
            ApiKey(account_id=account.id, name="open311", prefix=prefix, key_hash=token_hash(key))
        )
        await session.flush()
        return key
    _row, key = await accounts.issue_api_key(
        session, ROOT, username=account.username, name="open311 app"
    )
    return key


def png(size: int = 0) -> bytes:
    """A valid 1x1 PNG, padded with a text chunk to about ``size`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    image = chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    image += chunk(b"IDAT", zlib.compress(b"\x00\x00"))
    padding = chunk(b"tEXt", b"c\x00" + b"x" * max(0, size - 80)) if size else b""
    return b"\x89PNG\r\n\x1a\n" + image + padding + chunk(b"IEND", b"")


async def order_by_number(session: AsyncSession, number: str) -> WorkOrder:
    from sqlalchemy import select

    found = (
        await session.execute(select(WorkOrder).where(WorkOrder.number == number))
    ).scalar_one()
    return found


async def handle_with_one_rework(session: AsyncSession, who: People, number: str) -> WorkOrder:
    """派单, 签收, 答复; 回访 不满意 (重办); 答复 again; 回访 满意: the order closes."""
    order = await order_by_number(session, number)
    await service.dispatch(session, who.agent, order.id, HANDLER)
    await service.sign(session, who.officer, order.id)
    await service.reply(session, who.officer, order.id, "已安排执法队员清理。")
    await service.visit(session, who.agent, order.id, "dissatisfied", "摊贩晚上又回来了")
    await service.reply(session, who.officer, order.id, "已设置固定岗，每晚巡查。")
    return await service.visit(session, who.agent, order.id, "satisfied", "")


def xml_of(body: bytes, root: str) -> Any:
    """The document parsed (well-formed, UTF-8) with the root element the standard names."""
    document = etree.fromstring(body)
    assert document.tag == root, document.tag
    return document


def check_records(document: Any, item: str, fields: tuple[str, ...]) -> list[dict[str, str]]:
    """Each item element holds exactly the standard's fields, once each, as text."""
    records = []
    for element in document:
        assert element.tag == item
        tags = [child.tag for child in element]
        assert tags == list(fields), tags
        assert all(len(child) == 0 for child in element)
        records.append({child.tag: child.text or "" for child in element})
    return records
