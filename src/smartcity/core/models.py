"""Tables of the foundation: departments, accounts, credentials, audit, outbox, calendar, keys."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, Timestamps, UUIDPk


class PrincipalKind(StrEnum):
    """Who is calling. Staff and supervisors belong to a department."""

    citizen = "citizen"
    enterprise = "enterprise"
    staff = "staff"
    supervisor = "supervisor"
    admin = "admin"
    system = "system"  # a department's machine account (系统账号)
    device = "device"


# Kinds that must sign in with a second factor (等保 level 3 identity authentication).
TWO_FACTOR_KINDS = frozenset({PrincipalKind.staff, PrincipalKind.supervisor, PrincipalKind.admin})
# Kinds that authenticate with API keys, never passwords.
MACHINE_KINDS = frozenset({PrincipalKind.system, PrincipalKind.device})


class Department(UUIDPk, Timestamps, Base):
    """A city bureau (委办局), e.g. 公安局."""

    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)


class Division(Base):
    """An administrative division (行政区划): GB/T 2260 codes down to the district, then the
    city's own codes for 街道, 社区 and 网格. ``gb_code`` is False for codes the standard does
    not have, such as 大鹏新区, a functional area that legally lies in 龙岗区 (``within``)."""

    __tablename__ = "division"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    # province, prefecture, county, functional_area, then street, community, grid
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"), index=True)
    gb_code: Mapped[bool] = mapped_column(default=True)
    # For a functional area: the GB/T 2260 district its territory belongs to in law.
    within_code: Mapped[str | None] = mapped_column(String(20))
    established: Mapped[int | None] = mapped_column(Integer)


class Account(UUIDPk, Timestamps, Base):
    """A person's or a machine's account on the platform."""

    __tablename__ = "account"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT"), index=True
    )
    # Extra roles beyond the kind, e.g. "auditor" or "security" (三权分立 duties of admins).
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # Encrypted at rest with the instance key (see core.secrets).
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # The last TOTP time step accepted, so a code cannot be replayed.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)


class ApiKey(UUIDPk, Timestamps, Base):
    """A key for a system or device account. Only a hash is kept; the key is shown once."""

    __tablename__ = "api_key"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class WebSession(Timestamps, Base):
    """A signed-in browser. The cookie holds a random token; only its hash is kept."""

    __tablename__ = "web_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # False between the password and the second factor: such a session can only finish
    # signing in or enrol TOTP.
    second_factor_done: Mapped[bool] = mapped_column(default=False)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    ip: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit trail (安全审计)."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    actor_kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The newest entry's seq and hash, sealed with an HMAC of the instance secret.

    A hash chain alone cannot show that its newest entries were cut off; the sealed head can,
    because whoever edits the table without the secret cannot seal a new head.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(64))


class OutboxEvent(Base):
    """An event written in the same transaction as the change it reports; relayed after commit."""

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_event_pending", "published_at", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    topic: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    published_at: Mapped[datetime | None]


class ProcessedEvent(Base):
    """Which handler has already handled which event: makes at-least-once delivery idempotent."""

    __tablename__ = "processed_event"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=clock.now)


class CalendarYear(Base):
    """A year whose official holidays were entered by an admin (国务院办公厅 notice)."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(primary_key=True)
    notice: Mapped[str] = mapped_column(String(200), default="")
    entered_by: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[datetime] = mapped_column(default=clock.now)


class CalendarDay(Base):
    """A day that differs from the plain weekend rule: a holiday, or a make-up workday (调休)."""

    __tablename__ = "calendar_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year", ondelete="CASCADE"))
    is_workday: Mapped[bool]
    name: Mapped[str] = mapped_column(String(100), default="")


class SigningKey(UUIDPk, Timestamps, Base):
    """A platform signing key. The private key is kept only encrypted (PKCS#8, instance key)."""

    __tablename__ = "signing_key"
    __table_args__ = (UniqueConstraint("fingerprint"),)

    algorithm: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))
    public_key_pem: Mapped[str] = mapped_column(Text)
    private_key_enc: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    retired_at: Mapped[datetime | None]


class Notification(UUIDPk, Base):
    """A message to one account (站内消息), with where else it was sent (SMS, e-mail, ...)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_inbox", "account_id", "read_at", "created_at"),)

    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Dotted topic it reports, e.g. services.application.accepted; and the page it points to.
    topic: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="")
    read_at: Mapped[datetime | None]
    # Outside channels it went to: [{"channel", "status": sent|failed, "at", "error"}].
    deliveries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {"title": {"msgid", "params"}, "body": ...}: the texts to read in the reader's language
    # (core.notifications.Text); NULL for messages stored only as written (title, body).
    texts: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AccountContact(Base):
    """A verified phone or e-mail address of an account (self-registration, recovery)."""

    __tablename__ = "account_contact"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))  # email, sms
    address: Mapped[str] = mapped_column(String(254))
    verified_at: Mapped[datetime]


class OneTimeCode(Base):
    """A short code sent to a phone or e-mail address (验证码). Only an HMAC of it is kept;
    it expires, and it dies after a few wrong tries."""

    __tablename__ = "one_time_code"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(16))  # register, recover
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(254), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    # What the code stands for once verified (the registration's name and ID number).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class IdentityLink(Base):
    """An account's identity at the city's identity provider (统一身份认证): the issuer and
    the provider's subject for the person. Made only by a proven sign-in (an account signed
    in here linking itself, or a citizen account made from the provider's real-name claims),
    never by matching names or addresses."""

    __tablename__ = "identity_link"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class OidcLogin(Base):
    """A sign-in sent to the identity provider and not yet back: what the callback must see
    again (state), what the ID token must carry (nonce), the PKCE verifier, and a hash of the
    browser cookie that started it, so a callback in another browser is refused. Used once."""

    __tablename__ = "oidc_login"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(300), default="/")
    # Set when a signed-in account asked to link itself to the provider.
    link_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
