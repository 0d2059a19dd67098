"""Notifications (消息通知): an in-app inbox per account, and outside channels (SMS, e-mail
gateways) behind one small interface. The default outside channel only logs.

``notify`` stores the message and hands it to every configured channel in the same
transaction; a channel that fails is recorded on the message and never undoes the change
that caused it. The inbox (站内消息) is read only by its owner: another account's message is
a 404, like any unreadable row.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import Select, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account, Notification, PrincipalKind
from smartcity.settings import get_settings

log = logging.getLogger("smartcity.notifications")

TITLE_MAX = 200
BODY_MAX = 2000
INBOX_MAX = 200

ACTIONS: dict[str, frozenset[str]] = {
    # Everyone with an account has an inbox; the rows themselves are filtered by owner.
    "core.notification.mark_read": frozenset(k.value for k in PrincipalKind),
}


# --- texts read in the reader's language ---------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A value that is itself a msgid (a step's title, a role): translated when read."""

    msgid: str


@dataclass(frozen=True)
class Name:
    """A data name with its English where the data has one (a service item, a department)."""

    zh: str
    en: str | None = None


Value = str | int | float | date | Term | Name


@dataclass(frozen=True)
class Text:
    """A message text kept as a msgid and its values, so it reads in the language of whoever
    reads it, when they read it (站内消息 are read days later, by people of either language).
    Values are plain (a case number, a reason someone typed), a ``Term``, a ``Name`` or a
    ``date`` (written as the reader's locale writes days)."""

    msgid: str
    params: Mapping[str, Value] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        return {"msgid": self.msgid, "params": {k: _store(v) for k, v in self.params.items()}}


def _store(value: Value) -> Any:
    if isinstance(value, Term):
        return {"term": value.msgid}
    if isinstance(value, Name):
        return {"zh": value.zh, "en": value.en}
    if isinstance(value, date):
        return {"day": value.isoformat()}
    return value


def _resolve(value: Any, locale: str) -> str:
    if isinstance(value, dict):
        if "term" in value:
            return i18n.translations(locale).gettext(str(value["term"]))
        if "day" in value:
            return i18n.format_day(date.fromisoformat(str(value["day"])), locale)
        if "zh" in value:
            return i18n.pick(str(value["zh"]), value.get("en"), locale)
    return str(value)


def render_text(
    stored: Mapping[str, Any],
    locale: str,
    *,
    escape: Callable[[str], str] = str,
    mark: Callable[[str], str] | None = None,
) -> str:
    """A stored text in ``locale``. Pages pass ``escape`` (HTML) and ``mark`` (a value left in
    Chinese on an English page is marked lang="zh"); plain text needs neither."""
    template = i18n.translations(locale).gettext(str(stored.get("msgid", "")))
    values = {}
    for key, value in (stored.get("params") or {}).items():
        text = _resolve(value, locale)
        values[key] = mark(text) if mark is not None else text
    try:
        return escape(template) % values
    except (KeyError, ValueError, TypeError):
        # A text stored under an older msgid whose placeholders changed: the msgid as is.
        return escape(template)


def _written(text: str | Text, locale: str = i18n.DEFAULT_LOCALE) -> str:
    return text if isinstance(text, str) else render_text(text.stored(), locale)


def message_part(
    note: Notification,
    part: str,
    locale: str | None = None,
    *,
    escape: Callable[[str], str] = str,
    mark: Callable[[str], str] | None = None,
) -> str:
    """A message's ``"title"`` or ``"body"`` in the reader's language; a message stored only
    as written (before texts were kept, or from a caller that gave plain text) as written."""
    stored = (note.texts or {}).get(part)
    if not stored:
        return escape(note.title if part == "title" else note.body)
    return render_text(stored, locale or i18n.current_locale.get(), escape=escape, mark=mark)


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
    title: str | Text,
    body: str | Text = "",
    link: str = "",
) -> Notification | None:
    """Put a message in the account's inbox and send it through the outside channels.
    A ``Text`` is kept as msgid + values (read in the reader's language) and written out in
    the city's language for the channels and the stored title and body.

    Returns None when the account is gone or inactive (nothing to tell)."""
    account = await session.get(Account, account_id)
    if account is None or not account.active:
        return None
    note = Notification(
        id=uuid.uuid4(),
        account_id=account.id,
        created_at=clock.now(),
        topic=topic[:100],
        title=_written(title)[:TITLE_MAX],
        body=_written(body)[:BODY_MAX],
        link=link[:300],
        deliveries=[],
        texts={
            part: text.stored()
            for part, text in (("title", title), ("body", body))
            if isinstance(text, Text)
        }
        or None,
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


# --- the inbox (站内消息) ----------------------------------------------------------------


def readable_notifications(principal: Principal) -> Select[Notification]:
    """Only the owner reads a message; nobody else, administrators included (least
    privilege: a message may carry a case's details)."""
    query = select(Notification)
    if principal.id is None:
        return query.where(false())
    return query.where(Notification.account_id == principal.id)


async def inbox(
    session: AsyncSession,
    principal: Principal,
    *,
    unread_only: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[Notification]:
    """The principal's messages, newest first; ``unread_only`` leaves out those read."""
    if not 1 <= limit <= INBOX_MAX:
        raise InvalidInput(
            _("Ask for 1 to %(max)s messages at a time.") % {"max": INBOX_MAX}, field="limit"
        )
    if offset < 0:
        raise InvalidInput(_("The offset cannot be negative."), field="offset")
    query = readable_notifications(principal)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    return list((await session.execute(query.limit(limit).offset(offset))).scalars())


async def unread_count(session: AsyncSession, principal: Principal) -> int:
    """How many of the principal's messages are unread (未读)."""
    query = (
        readable_notifications(principal)
        .where(Notification.read_at.is_(None))
        .with_only_columns(func.count())
        .order_by(None)
    )
    return int((await session.execute(query)).scalar_one())


async def get_notification(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID
) -> Notification:
    """One of the principal's own messages, else 404."""
    found = (
        await session.execute(
            readable_notifications(principal).where(Notification.id == notification_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no such message."))
    return found


async def mark_read(
    session: AsyncSession, principal: Principal, notification_id: uuid.UUID
) -> Notification:
    """Mark one message read (已读); marking it again keeps the first time."""
    authorize(principal, "core.notification.mark_read")
    note = await get_notification(session, principal, notification_id)
    if note.read_at is None:
        note.read_at = clock.now()
        await session.flush()
    return note


async def mark_all_read(session: AsyncSession, principal: Principal) -> int:
    """Mark every unread message of the principal read; returns how many were unread."""
    authorize(principal, "core.notification.mark_read")
    if principal.id is None:
        return 0
    result = await session.execute(
        update(Notification)
        .where(Notification.account_id == principal.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


# --- messages to an address (验证码 before there is an account) ----------------------------


@dataclass(frozen=True)
class AddressMessage:
    """A message to a phone number or e-mail address rather than to an account."""

    address: str
    subject: str
    body: str


class AddressChannel(Protocol):
    """Delivers to an address of one kind: ``"email"`` or ``"sms"``. An SMS gateway of the
    city plugs in with ``register_address_channel``. ``deliver`` raises on failure."""

    kind: str

    async def deliver(self, message: AddressMessage) -> None: ...


class LoggingAddressChannel:
    """Logs that a message went out (never its body: it may hold a code)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def deliver(self, message: AddressMessage) -> None:
        log.info("deliver %s to %s: %s", self.kind, message.address, message.subject)


class SmtpChannel:
    """E-mail over SMTP (smtplib in a worker thread), STARTTLS and login when configured."""

    kind = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    def _send(self, message: AddressMessage) -> None:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(mail)

    async def deliver(self, message: AddressMessage) -> None:
        await asyncio.to_thread(self._send, message)


def smtp_from_settings() -> SmtpChannel | None:
    settings = get_settings()
    if not settings.smtp_host:
        return None
    return SmtpChannel(
        settings.smtp_host,
        settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )


_ADDRESS_CHANNELS: dict[str, AddressChannel] = {}


def register_address_channel(channel: AddressChannel) -> None:
    """Use ``channel`` for its kind of address (replaces the one before)."""
    _ADDRESS_CHANNELS[channel.kind] = channel


def unregister_address_channel(kind: str) -> None:
    _ADDRESS_CHANNELS.pop(kind, None)


def address_channel(kind: str) -> AddressChannel:
    """The registered channel of the kind; else SMTP when configured (e-mail); else the log."""
    found = _ADDRESS_CHANNELS.get(kind)
    if found is not None:
        return found
    if kind == "email":
        smtp = smtp_from_settings()
        if smtp is not None:
            return smtp
    return LoggingAddressChannel(kind)


async def deliver(kind: str, message: AddressMessage) -> None:
    await address_channel(kind).deliver(message)
