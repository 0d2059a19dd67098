"""Traffic detectors in the sensing engine (交通检测器), made by the convention of types.py:
their ObservedProperties and Sensors (idempotent), and many detectors at once with their
history (the demo city, the benchmarks) through ``sensing.create_things``. A client's own
detectors go through the SensorThings API with the same ``properties``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.core.schemas import AccountCreate
from smartcity.sensing import contract as sensing
from smartcity.traffic.types import (
    DETECTOR_STREAMS,
    FLOW_DEFINITION,
    FREE_DEFINITION,
    OCCUPANCY_DEFINITION,
    SPEED_DEFINITION,
    UNITS,
    DetectorKind,
    detector_properties,
)

PROPERTY_NAMES = {
    FLOW_DEFINITION: ("流量", "车流量（辆/小时）"),
    SPEED_DEFINITION: ("车速", "区间平均车速（公里/小时）"),
    OCCUPANCY_DEFINITION: ("占有率", "时间占有率（%）"),
    FREE_DEFINITION: ("空余泊位", "停车场空余泊位数"),
}
SENSOR_NAMES = {
    "loop": "地磁/线圈检测器",
    "camera": "视频检测器",
    "floating": "浮动车数据",
    "parking": "泊位检测器",
}
OWNER_USERNAME = "traffic-detectors"


@dataclass(frozen=True)
class DetectorPlan:
    """One detector to make: ``code`` is its segment's (or facility's) code; ``history``
    per definition (time, value) pairs."""

    name: str
    kind: DetectorKind
    code: str
    lon: float
    lat: float
    history: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)


async def ensure_properties(session: AsyncSession) -> dict[str, int]:
    ids = {}
    for definition, (name, description) in PROPERTY_NAMES.items():
        ids[definition], _ = await sensing.ensure_observed_property(
            session, definition, name=name, description=description
        )
    return ids


async def ensure_sensors(session: AsyncSession) -> dict[str, int]:
    return {
        kind: await sensing.ensure_sensor(
            session,
            name=name,
            description=name,
            encoding_type="text/plain",
            metadata="",
        )
        for kind, name in SENSOR_NAMES.items()
    }


async def ensure_owner(session: AsyncSession, principal: Principal) -> Account:
    """The device account (设备账号) that owns the platform's own detectors."""
    found = await session.scalar(select(Account).where(Account.username == OWNER_USERNAME))
    if found is not None:
        return found
    account, _ = await accounts.create_account(
        session,
        principal,
        AccountCreate(username=OWNER_USERNAME, display_name="交通检测器接入", kind="device"),
    )
    return account


async def create_detectors(
    session: AsyncSession, principal: Principal, plans: list[DetectorPlan]
) -> sensing.Created:
    props = await ensure_properties(session)
    sensors = await ensure_sensors(session)
    owner = await ensure_owner(session, principal)
    things = []
    for plan in plans:
        streams = []
        for suffix, definition in DETECTOR_STREAMS[plan.kind]:
            unit = UNITS[definition]
            history = [
                sensing.NewReading(at, None, at, value)
                for at, value in plan.history.get(definition, [])
            ]
            streams.append(
                sensing.NewDatastream(
                    name=plan.name + suffix,
                    description=PROPERTY_NAMES[definition][1],
                    observation_type=sensing.OM_COUNT
                    if definition == FREE_DEFINITION
                    else sensing.OM_MEASUREMENT,
                    unit_of_measurement=dict(unit),
                    properties={"reportingIntervalSeconds": 30},
                    sensor_id=sensors[plan.kind],
                    observed_property_id=props[definition],
                    history=history,
                )
            )
        things.append(
            sensing.NewThing(
                name=plan.name,
                description=SENSOR_NAMES[plan.kind],
                properties=detector_properties(plan.kind, plan.code),
                owner_account_id=owner.id,
                location_name=plan.name,
                location_description="",
                encoding_type="application/geo+json",
                location={"type": "Point", "coordinates": [plan.lon, plan.lat]},
                datastreams=streams,
            )
        )
    return await sensing.create_things(session, principal, things)
