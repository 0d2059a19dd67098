"""A small road network with detectors, for the state, API and page tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM, Principal
from smartcity.sensing import contract as sensing
from smartcity.traffic import detectors, netimport, service, state
from smartcity.traffic.types import FLOW_DEFINITION, SPEED_DEFINITION

NOW = datetime(2026, 3, 5, 4, 30, 20, tzinfo=UTC)  # 12:30 in Shenzhen
MINUTE = timedelta(minutes=1)
ADMIN = Principal(id=None, kind="admin", name="traffic-test", via="cli")
LAST = NOW.replace(second=0) - MINUTE  # the minute the job computes at NOW


def network_doc() -> bytes:
    def feature(code: str, name: str, en: str, ff: float, district: str, lat: float) -> dict:
        return {
            "type": "Feature",
            "properties": {
                "code": code,
                "name": name,
                "name_en": en,
                "road_class": "arterial",
                "lanes": 3,
                "free_flow_kmh": ff,
                "length_m": 1000,
                "district_code": district,
            },
            "geometry": {"type": "LineString", "coordinates": [[114.0, lat], [114.01, lat]]},
        }

    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                feature("SN-1", "深南大道", "Shennan Boulevard", 60, "440304", 22.54),
                feature("BH-1", "北环大道", "Beihuan Avenue", 60, "440304", 22.56),
                feature("BH-2", "滨河大道", "Binhe Avenue", 60, "440303", 22.52),
            ],
        }
    ).encode()


@dataclass(frozen=True)
class Road:
    speed: dict[str, int]  # detector name -> its speed Datastream id
    flow: dict[str, int]


async def make_road(session: AsyncSession) -> Road:
    state.forget_detectors()
    await service.import_network(session, SYSTEM, netimport.parse_geojson(network_doc()))
    plans = [
        detectors.DetectorPlan("SN-1-L1", "loop", "SN-1", 114.0, 22.54),
        detectors.DetectorPlan("SN-1-C1", "camera", "SN-1", 114.005, 22.54),
        detectors.DetectorPlan("BH-1-L1", "loop", "BH-1", 114.0, 22.56),
        detectors.DetectorPlan("P-1-B1", "parking", "P-1", 114.0, 22.55),
    ]
    await detectors.create_detectors(session, ADMIN, plans)
    await service.set_parking(
        session,
        SYSTEM,
        code="P-1",
        name="市民中心停车场",
        name_en="Civic Centre Car Park",
        lon=114.06,
        lat=22.54,
        capacity=500,
        district_code="440304",
    )
    await service.set_corridor(
        session,
        SYSTEM,
        code="C1",
        name="深南—北环",
        name_en="Shennan to Beihuan",
        segment_codes=["SN-1", "BH-1"],
    )
    streams = await sensing.streams_of_definitions(session, [SPEED_DEFINITION, FLOW_DEFINITION])
    speed = {s.thing_name: s.datastream_id for s in streams if s.definition == SPEED_DEFINITION}
    flow = {s.thing_name: s.datastream_id for s in streams if s.definition == FLOW_DEFINITION}
    free = await sensing.streams_of_definitions(session, [detectors.FREE_DEFINITION])
    return Road(speed | {"P-1-B1": free[0].datastream_id}, flow)


async def feed(session: AsyncSession, stream: int, at: datetime, value: float) -> None:
    result = await sensing.ingest_observations(
        session,
        SYSTEM,
        [
            sensing.ObservationRow(
                datastream_id=stream,
                phenomenon_time=sensing.Interval(at),
                result_time=at,
                result=value,
                has_result=True,
            )
        ],
    )
    assert isinstance(result[0], int), result
