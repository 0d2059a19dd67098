"""The AQI Datastreams of an air station (AQI-1h, AQI-24h), made on first need through the
sensing contract as the platform, so they are ordinary SensorThings entities (created events,
audit) that any client can read, and the rules engine sees their Observations."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM
from smartcity.environment.service import Station
from smartcity.environment.stations import AQI_DAILY_DEFINITION, AQI_HOURLY_DEFINITION
from smartcity.sensing import contract as sensing
from smartcity.sensing.contract import Datastream

AQI_SENSOR_NAME = "HJ 633 AQI calculation"
"""The Sensor of the AQI Datastreams: the platform's calculation, not an instrument."""
AQI_UNIT = {"name": "dimensionless index", "symbol": "1", "definition": "ucum:1"}

_PROPERTIES = {
    AQI_HOURLY_DEFINITION: (
        "空气质量指数（小时）",
        "Air quality index of the real-time report (实时报), HJ 633, by hour",
    ),
    AQI_DAILY_DEFINITION: (
        "空气质量指数（日）",
        "Air quality index of the daily report (日报), HJ 633, by natural day",
    ),
}


async def observed_property_id(session: AsyncSession, definition: str) -> int | None:
    return await sensing.observed_property_id(session, definition)


async def ensure_observed_property(session: AsyncSession, definition: str) -> int:
    """The AQI ObservedProperty of the definition; made (with the alert rules on the hourly
    one, alert_rules.py) when it does not exist yet."""
    name, description = _PROPERTIES[definition]
    prop_id, made = await sensing.ensure_observed_property(
        session, definition, name=name, description=description
    )
    if made and definition == AQI_HOURLY_DEFINITION:
        from smartcity.environment.alert_rules import ensure_alert_rules

        await ensure_alert_rules(session, SYSTEM)
    return prop_id


async def _sensor_id(session: AsyncSession) -> int:
    return await sensing.ensure_sensor(
        session,
        name=AQI_SENSOR_NAME,
        description="环境空气质量指数计算（HJ 633-2012 / HJ 633-2026）",
        encoding_type="text/html",
        metadata="/docs/environment",
    )


async def _datastream(session: AsyncSession, station: Station, definition: str) -> Datastream:
    prop_id = await ensure_observed_property(session, definition)
    hourly = definition == AQI_HOURLY_DEFINITION
    data: dict[str, Any] = {
        "name": f"{station.name} {'AQI 小时' if hourly else 'AQI 日'}",
        "description": (
            "实时报空气质量指数（HJ 633），每小时"
            if hourly
            else "日报空气质量指数（HJ 633），每自然日"
        ),
        "observationType": sensing.OM_MEASUREMENT,
        "unitOfMeasurement": AQI_UNIT,
        "properties": {"aqi": "1h" if hourly else "24h"},
        "Thing": {"@iot.id": station.id},
        "Sensor": {"@iot.id": await _sensor_id(session)},
        "ObservedProperty": {"@iot.id": prop_id},
    }
    # Computed: no gateway's key may write an AQI beside the platform's own.
    return await sensing.create_computed_datastream(session, data)


async def ensure_aqi_streams(
    session: AsyncSession, station: Station
) -> tuple[Datastream, Datastream]:
    """The station's AQI-1h and AQI-24h Datastreams, made when missing."""
    if station.hourly is None:
        station.hourly = await _datastream(session, station, AQI_HOURLY_DEFINITION)
    if station.daily is None:
        station.daily = await _datastream(session, station, AQI_DAILY_DEFINITION)
    return station.hourly, station.daily
