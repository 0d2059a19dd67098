"""The environment module's own tables: its facts about the sensing engine's objects live
here, never in their rows (a SensorThings client reads a Datastream's ``properties``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.core.db import Base

# The type of a SensorThings @iot.id (integer on SQLite so the rowid is the id).
_STA_ID = BigInteger().with_variant(Integer(), "sqlite")


class AqiWatermark(Base):
    """How far the periodic job computed an AQI Datastream (计算进度): the last hour (ISO
    instant) or day (ISO date) it computed, so an hour without any AQI (no valid data) is not
    tried again. One row per AQI-1h or AQI-24h Datastream; gone with the Datastream."""

    __tablename__ = "environment_aqi_watermark"

    datastream_id: Mapped[int] = mapped_column(
        _STA_ID, ForeignKey("sta_datastream.id", ondelete="CASCADE"), primary_key=True
    )
    computed_through: Mapped[str] = mapped_column(String(40))
