"""REST API of the inbox (站内消息): one's own messages, the unread count, marking read."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from smartcity.core import notifications
from smartcity.core.security import AnyPrincipal
from smartcity.core.uow import DbSession, UnitOfWorkRoute

router = APIRouter(prefix="/api/v1/messages", route_class=UnitOfWorkRoute, tags=["messages"])


class MessageRead(BaseModel):
    """A message in the inbox, with where else it was sent."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    topic: str
    title: str
    body: str
    link: str
    read_at: datetime | None
    deliveries: list[dict[str, Any]]


def _read(note: Any) -> MessageRead:
    # The title and body in the caller's language (Accept-Language), where the message
    # kept its texts; otherwise as written.
    found = MessageRead.model_validate(note)
    found.title = notifications.message_part(note, "title")
    found.body = notifications.message_part(note, "body")
    return found


class MessagePage(BaseModel):
    items: list[MessageRead]
    unread: int


class MarkedRead(BaseModel):
    marked: int
    unread: int


@router.get("", response_model=MessagePage)
async def list_messages(
    session: DbSession,
    principal: AnyPrincipal,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=notifications.INBOX_MAX)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MessagePage:
    """The caller's messages, newest first, and how many are unread."""
    rows = await notifications.inbox(
        session, principal, unread_only=unread, limit=limit, offset=offset
    )
    return MessagePage(
        items=[_read(r) for r in rows],
        unread=await notifications.unread_count(session, principal),
    )


@router.post("/read", response_model=MarkedRead)
async def mark_all_read(session: DbSession, principal: AnyPrincipal) -> MarkedRead:
    """Mark every unread message read."""
    marked = await notifications.mark_all_read(session, principal)
    return MarkedRead(marked=marked, unread=await notifications.unread_count(session, principal))


@router.get("/{message_id}", response_model=MessageRead)
async def get_message(
    session: DbSession, principal: AnyPrincipal, message_id: uuid.UUID
) -> MessageRead:
    """One of the caller's messages; another account's is a 404."""
    return _read(await notifications.get_notification(session, principal, message_id))


@router.post("/{message_id}/read", response_model=MessageRead)
async def mark_read(
    session: DbSession, principal: AnyPrincipal, message_id: uuid.UUID
) -> MessageRead:
    """Mark one message read (idempotent)."""
    return MessageRead.model_validate(await notifications.mark_read(session, principal, message_id))
