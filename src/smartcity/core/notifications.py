"""Notifications (消息通知): an in-app inbox per account, and outside channels (SMS, e-mail
gateways) behind one small interface. The default outside channel only logs.

``notify`` stores the message and hands it to every configured channel in the same
transaction; a channel that fails is recorded on the message and never undoes the change
that caused it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.models import Account, Notification

log = logging.getLogger("smartcity.notifications")

TITLE_MAX = 200
BODY_MAX = 2000


@dataclass(frozen=True)
class Outgoing:
    """What a channel is given: the recipient account and the message."""

    account_id: uuid.UUID
    username: str
    display_name: str
    topic: str
    title: str
    body: str
    link: str


class Channel(Protocol):
    """An outside channel (短信, 邮件, 政务微信...). ``send`` raises on failure."""

    name: str

    async def send(self, message: Outgoing) -> None: ...


class LoggingChannel:
    """Writes each message to the log: the default until a gateway is configured."""

    name = "log"

    async def send(self, message: Outgoing) -> None:
        log.info("notify %s [%s] %s", message.username, message.topic, message.title)


_CHANNELS: dict[str, Channel] = {"log": LoggingChannel()}


def register_channel(channel: Channel) -> None:
    """Add or replace an outside channel (by its name)."""
    _CHANNELS[channel.name] = channel


def unregister_channel(name: str) -> None:
    _CHANNELS.pop(name, None)


def channels() -> list[Channel]:
    return list(_CHANNELS.values())


async def notify(
    session: AsyncSession,
    account_id: uuid.UUID,
    *,
    topic: str,
    title: str,
    body: str = "",
    link: str = "",
) -> Notification | None:
    """Put a message in the account's inbox and send it through the outside channels.

    Returns None when the account is gone or inactive (nothing to tell)."""
    account = await session.get(Account, account_id)
    if account is None or not account.active:
        return None
    note = Notification(
        id=uuid.uuid4(),
        account_id=account.id,
        created_at=clock.now(),
        topic=topic[:100],
        title=title[:TITLE_MAX],
        body=body[:BODY_MAX],
        link=link[:300],
        deliveries=[],
    )
    outgoing = Outgoing(
        account.id,
        account.username,
        account.display_name,
        note.topic,
        note.title,
        note.body,
        note.link,
    )
    deliveries = []
    for channel in channels():
        try:
            await channel.send(outgoing)
        except Exception as exc:  # a gateway's failure must not undo the change it reports
            log.warning("channel %s failed for %s: %s", channel.name, account.username, exc)
            deliveries.append(
                {
                    "channel": channel.name,
                    "status": "failed",
                    "at": clock.now().isoformat(),
                    "error": str(exc)[:200],
                }
            )
        else:
            deliveries.append(
                {"channel": channel.name, "status": "sent", "at": clock.now().isoformat()}
            )
    note.deliveries = deliveries
    session.add(note)
    await session.flush()
    return note
