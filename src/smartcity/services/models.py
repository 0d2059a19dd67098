"""Tables of the online service hall (网上办事大厅): the service item catalog (事项目录)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base, Timestamps, UUIDPk


class ServiceItem(UUIDPk, Timestamps, Base):
    """A service item (政务服务事项) people may apply for, with its limits, fees and materials."""

    __tablename__ = "service_item"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
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
