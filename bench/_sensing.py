"""What the sensing benchmarks share: a fresh migrated database (PostgreSQL or a temporary
SQLite file), a city of N Datastreams on one Thing, and the machine line."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_import import fresh_postgres
from smartcity.core import migrate

MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"


def prepare(database_url: str, name: str, *, keep: bool = False) -> str:
    """A migrated database: a fresh PostgreSQL database ``name`` next to ``database_url``
    (kept as it is when ``keep`` and it exists), or a new SQLite file."""
    if database_url:
        if keep:
            from sqlalchemy.engine import make_url

            return make_url(database_url).set(database=name).render_as_string(False)
        url = asyncio.run(fresh_postgres(database_url, name))
    else:
        var = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        url = f"sqlite+aiosqlite:///{var / 'bench.db'}"
    migrate.upgrade(url)
    return url


@dataclass
class City:
    datastreams: list[int]
    feature_id: int
    thing_id: int


async def seed_city(url: str, streams: int) -> City:
    """One Thing with a Location, ``streams`` OM_Measurement Datastreams, one feature."""
    from smartcity.core.db import Database, make_engine
    from smartcity.sensing import models as m
    from smartcity.sensing.sta.ingest import feature_hash

    point = {"type": "Point", "coordinates": [114.06, 22.54]}
    db = Database(make_engine(url))
    try:
        async with db.session_scope() as session:
            thing = m.StaThing(name="bench station", description="benchmark", properties=None)
            sensor = m.StaSensor(
                name="bench sensor",
                description="benchmark",
                encoding_type="application/pdf",
                sensor_metadata="",
                properties=None,
            )
            prop = m.StaObservedProperty(
                name="PM2.5", definition="urn:pm25", description="PM2.5", properties=None
            )
            location = m.StaLocation(
                name="here",
                description="benchmark",
                encoding_type="application/geo+json",
                location=point,
                properties=None,
            )
            feature = m.StaFeatureOfInterest(
                name="here",
                description="benchmark",
                encoding_type="application/geo+json",
                feature=point,
                properties=None,
                feature_hash=feature_hash("application/geo+json", point),
            )
            session.add_all([thing, sensor, prop, location, feature])
            await session.flush()
            await session.execute(
                m.thing_location.insert().values(thing_id=thing.id, location_id=location.id)
            )
            rows = [
                m.StaDatastream(
                    name=f"stream {i}",
                    description="benchmark",
                    observation_type=MEASUREMENT,
                    unit_of_measurement={"name": "ug/m3", "symbol": "µg/m³", "definition": ""},
                    thing_id=thing.id,
                    sensor_id=sensor.id,
                    observed_property_id=prop.id,
                    properties=None,
                )
                for i in range(streams)
            ]
            session.add_all(rows)
            await session.flush()
            return City([r.id for r in rows], feature.id, thing.id)
    finally:
        await db.dispose()
