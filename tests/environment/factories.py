"""Air stations made as the contract of smartcity.environment.stations says, through the
sensing service (deep insert), and hourly readings fed through the real ingestion path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM
from smartcity.environment.aqi import Pollutant
from smartcity.environment.stations import (
    POLLUTANT_DEFINITIONS,
    POLLUTANT_UCUM,
    station_properties,
)
from smartcity.sensing import models as m
from smartcity.sensing.sta import ingest
from smartcity.sensing.sta.entities import OM_MEASUREMENT, TYPES
from smartcity.sensing.sta.service import create_entity
from smartcity.sensing.sta.times import Interval


@dataclass(frozen=True)
class AirStation:
    thing: int
    streams: dict[Pollutant, int]


async def _property(session: AsyncSession, pollutant: Pollutant) -> dict[str, Any]:
    """A link to the pollutant's ObservedProperty, or the entity to create."""
    definition = POLLUTANT_DEFINITIONS[pollutant]
    found = await session.scalar(
        select(m.StaObservedProperty.id).where(m.StaObservedProperty.definition == definition)
    )
    if found is not None:
        return {"@iot.id": found}
    return {
        "name": pollutant.value,
        "definition": definition,
        "description": f"{pollutant.name_zh}浓度",
    }


async def air_station(
    session: AsyncSession,
    name: str = "福田监测站",
    *,
    code: str = "1355A",
    district: str = "440304",
    lon: float = 114.05,
    lat: float = 22.54,
    public: bool = True,
    pollutants: Iterable[Pollutant] = tuple(Pollutant),
) -> AirStation:
    datastreams = []
    for pollutant in pollutants:
        symbol, ucum = POLLUTANT_UCUM[pollutant]
        datastreams.append(
            {
                "name": f"{name} {pollutant.value}",
                "description": f"{pollutant.name_zh}小时值",
                "observationType": OM_MEASUREMENT,
                "unitOfMeasurement": {
                    "name": symbol,
                    "symbol": symbol,
                    "definition": f"ucum:{ucum}",
                },
                "Sensor": {
                    "name": f"{name} {pollutant.value} 分析仪",
                    "description": "",
                    "encodingType": "text/plain",
                    "metadata": "",
                },
                "ObservedProperty": await _property(session, pollutant),
            }
        )
    thing = await create_entity(
        session,
        SYSTEM,
        TYPES["Thing"],
        {
            "name": name,
            "description": "空气质量监测站",
            "properties": station_properties(code, district),
            "Locations": [
                {
                    "name": name,
                    "description": "站点位置",
                    "encodingType": "application/geo+json",
                    "location": {"type": "Point", "coordinates": [lon, lat]},
                }
            ],
            "Datastreams": datastreams,
        },
    )
    thing.public = public
    await session.flush()
    rows = await session.execute(
        select(m.StaDatastream.id, m.StaObservedProperty.definition)
        .join(
            m.StaObservedProperty, m.StaObservedProperty.id == m.StaDatastream.observed_property_id
        )
        .where(m.StaDatastream.thing_id == thing.id)
    )
    of_definition = {d: p for p, d in POLLUTANT_DEFINITIONS.items()}
    return AirStation(thing.id, {of_definition[d]: i for i, d in rows.all() if d in of_definition})


async def report(
    session: AsyncSession,
    station: AirStation,
    readings: Mapping[Pollutant, Iterable[tuple[datetime, float]]],
) -> None:
    """Ingest readings (time, value) per pollutant as the platform."""
    rows = [
        ingest.ObservationRow(
            datastream_id=station.streams[pollutant],
            phenomenon_time=Interval(at),
            result=value,
            has_result=True,
        )
        for pollutant, series in readings.items()
        for at, value in series
    ]
    outcomes = await ingest.ingest_observations(session, SYSTEM, rows)
    assert all(isinstance(o, int) for o in outcomes), outcomes


def steady(
    first: datetime, hours: int, values: Mapping[Pollutant, float], *, per_hour: int = 1
) -> dict[Pollutant, list[tuple[datetime, float]]]:
    """Constant readings: ``per_hour`` per hour (evenly spaced) for ``hours`` hours."""
    from datetime import timedelta

    step = timedelta(hours=1) / per_hour
    return {p: [(first + i * step, v) for i in range(hours * per_hour)] for p, v in values.items()}
