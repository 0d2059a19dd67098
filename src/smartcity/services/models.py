"""Tables of the online service hall (网上办事大厅): items, applications, materials, licences,
ratings and subscriptions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core import clock
from smartcity.core.db import Base, Timestamps, UUIDPk


class ServiceItem(UUIDPk, Timestamps, Base):
    """A service item (政务服务事项) people may apply for, with its limits, fees and materials."""

    __tablename__ = "service_item"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The item's name on English pages; None: shown in Chinese, marked (web.render.data_name).
    name_en: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("department.id", ondelete="RESTRICT"), index=True
    )
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    # Working days (工作日): 法定办结时限 and the shorter 承诺办结时限.
    statutory_days: Mapped[int] = mapped_column(Integer)
    promised_days: Mapped[int] = mapped_column(Integer)
    # Money in integer fen (分), never floats; 0 is free of charge (不收费).
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)
    # "citizen" and/or "enterprise"
    applicant_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Life events (主题服务), e.g. 生育, 就业, 开办企业, 住房
    life_events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{"name", "required": bool, "from_registry": registry field or null}]
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # [{"name", "label", "type", "required": bool, "prefill": registry field or null}]
    form_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)


class Application(UUIDPk, Timestamps, Base):
    """An online application (网上申报): a draft until submitted, then the case it opened."""

    __tablename__ = "application"

    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_item.id", ondelete="RESTRICT"), index=True
    )
    applicant_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # The form's answers by field name; prefilled fields (免提交) are not stored here but
    # read from the registries at submission and kept in the case's data with their source.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # draft, submitted
    status: Mapped[str] = mapped_column(String(16), default="draft")
    submitted_at: Mapped[datetime | None]
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("case_file.id", ondelete="SET NULL"), unique=True
    )


class Material(UUIDPk, Base):
    """An uploaded material (申请材料), stored with its content hash; never changed after."""

    __tablename__ = "material"

    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    # Which of the item's materials it is (its name in ServiceItem.materials).
    name: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    # Set when uploaded during 补正 (supplement), so staff see what is new.
    supplement: Mapped[bool] = mapped_column(default=False)
    withdrawn_at: Mapped[datetime | None]


class Licence(UUIDPk, Base):
    """A licence or certificate (证照) issued on approval, signed with the platform's key."""

    __tablename__ = "licence"

    number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("case_file.id", ondelete="RESTRICT"), unique=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("service_item.id", ondelete="RESTRICT"))
    holder_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL"), index=True
    )
    # The signed content (canonical JSON): number, item, holder (name, masked identifier),
    # department, issued and valid dates. What the signature covers, byte for byte.
    document: Mapped[str] = mapped_column(Text)
    # core.signing.DetachedSignature as JSON
    signature: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=clock.now)
    valid_until: Mapped[date | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(Text, default="")
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class ItemSubscription(Base):
    """An account following a service item (订阅事项): told when the item changes."""

    __tablename__ = "item_subscription"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("service_item.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
