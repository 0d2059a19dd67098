"""Tables of the data exchange (政务信息资源共享目录体系和交换体系): the catalog, grants, the
exchange message log, subscriptions and webhook deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, Timestamps, UUIDPk

_BIGINT_PK = BigInteger().with_variant(Integer(), "sqlite")


class Resource(UUIDPk, Timestamps, Base):
    """A data resource in the catalog (资源目录)."""

    __tablename__ = "exchange_resource"

    code: Mapped[str] = mapped_column(String(64), unique=True)  # also the CKAN dataset name
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    publisher_department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT"), index=True
    )
    # Where the data comes from: a base registry (person, organization, place), or "" for a
    # resource whose rows the publisher pushes in (later modules).
    source_registry: Mapped[str] = mapped_column(String(16), default="")
    # [{"name", "title", "type", "personal": bool}]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    update_cycle: Mapped[str] = mapped_column(String(16), default="realtime")
    # unconditional 无条件共享 / conditional 有条件共享 / none 不予共享
    sharing_class: Mapped[str] = mapped_column(String(16))
    open_data: Mapped[bool] = mapped_column(default=False)
    license_id: Mapped[str] = mapped_column(String(64), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


class Grant(UUIDPk, Timestamps, Base):
    """A department's request for a resource and the publisher's decision (共享授权)."""

    __tablename__ = "exchange_grant"
    __table_args__ = (Index("ix_exchange_grant_consumer", "consumer_department_id", "status"),)

    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exchange_resource.id", ondelete="CASCADE"), index=True
    )
    consumer_department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT")
    )
    purpose: Mapped[str] = mapped_column(String(500))
    legal_basis: Mapped[str] = mapped_column(String(300), default="")
    requested_fields: Mapped[list[str]] = mapped_column(JSON)
    granted_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    # requested, approved, refused, revoked
    status: Mapped[str] = mapped_column(String(16), default="requested", index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class ExchangeMessage(Base):
    """The exchange message log: every call through a grant, hash-chained like the audit
    trail, with the request hash and the platform's signature over the answer (as X-Road's
    security servers keep), so a department can later prove what it was given and when."""

    __tablename__ = "exchange_message"
    __table_args__ = (
        Index("ix_exchange_message_resource", "resource_id", "at"),
        Index("ix_exchange_message_consumer", "consumer_department_id", "at"),
    )

    seq: Mapped[int] = mapped_column(_BIGINT_PK, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    at: Mapped[datetime]
    grant_id: Mapped[uuid.UUID | None]
    resource_id: Mapped[uuid.UUID]
    consumer_department_id: Mapped[uuid.UUID | None]
    consumer: Mapped[str] = mapped_column(String(100))  # the system account
    end_user: Mapped[str] = mapped_column(String(100), default="")
    case_number: Mapped[str] = mapped_column(String(64), default="")  # 办件号
    purpose: Mapped[str] = mapped_column(String(500), default="")
    query: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    record_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[str] = mapped_column(String(16))  # answered, refused
    request_hash: Mapped[str] = mapped_column(String(128))
    response_hash: Mapped[str] = mapped_column(String(128), default="")
    signature: Mapped[str] = mapped_column(Text, default="")  # detached signature JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Subscription(UUIDPk, Timestamps, Base):
    """A consumer's subscription to changes of a resource: bus events and a signed webhook."""

    __tablename__ = "exchange_subscription"

    grant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exchange_grant.id", ondelete="CASCADE"), index=True
    )
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    # HMAC key for the webhook signature header, encrypted at rest (core.secrets).
    secret_enc: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(100))


class WebhookDelivery(Base):
    """One change to deliver to one webhook: retried with backoff, dead after N tries."""

    __tablename__ = "exchange_webhook_delivery"
    __table_args__ = (Index("ix_exchange_webhook_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(_BIGINT_PK, primary_key=True, autoincrement=True)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exchange_subscription.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/delivered/dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    delivered_at: Mapped[datetime | None]
