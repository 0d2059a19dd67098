"""The demo's simulated city of sensors (模拟城市感知设备): per district of Shenzhen a
district IoT gateway (区级物联网关, a ``device`` account) owning two air stations, twelve
traffic detectors and sixteen water meters, about 300 Things, with their history back-filled
so charts and the air quality index have data at once.

Everything goes through the sensing contract: Sensors and ObservedProperties are ensured
(shared, one per instrument and phenomenon), and the Things with their Locations,
HistoricalLocations, Datastreams and history are made by ``contract.create_things``
(sensing/bulk.py: the rows and ``sensing.entity.created`` events a deep insert makes, the
tens of thousands of Observations of history in bulk rather than as bus events, which would
flood the outbox). Idempotent: a district whose gateway exists is skipped.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts, audit, clock
from smartcity.core.authz import Principal, authorize
from smartcity.core.ids import SHENZHEN_DISTRICTS, DivisionInfo
from smartcity.core.models import Account
from smartcity.core.schemas import AccountCreate
from smartcity.demo.simulate_profiles import (
    DEFAULT_SEED,
    MEAN_SPEED,
    PROFILES,
    VEHICLE_COUNT,
    WATER_FLOW,
    WATER_PRESSURE,
    Context,
    Episode,
    Series,
)
from smartcity.environment.aqi import Pollutant
from smartcity.environment.stations import POLLUTANT_DEFINITIONS, station_properties
from smartcity.registry.contract import DISTRICT_BOXES
from smartcity.sensing import contract as sensing

AIR_STATION, TRAFFIC_DETECTOR, WATER_METER = "air-station", "traffic-detector", "water-meter"
GATEWAY_PREFIX = "gateway."
GEOJSON = "application/geo+json"

# How often each kind reports live (the demo feed's rate) and how densely its history is
# back-filled: the air index needs a week of hours; traffic and water a day to draw.
INTERVALS = {AIR_STATION: 60, TRAFFIC_DETECTOR: 60, WATER_METER: 300}
HISTORY = {
    AIR_STATION: (timedelta(days=8), timedelta(hours=1)),
    TRAFFIC_DETECTOR: (timedelta(hours=24), timedelta(minutes=15)),
    WATER_METER: (timedelta(hours=24), timedelta(minutes=15)),
}
PER_DISTRICT = {AIR_STATION: 2, TRAFFIC_DETECTOR: 12, WATER_METER: 16}

# Two national-network-style stations per district, named after where they stand.
STATION_SITES: dict[str, tuple[str, str]] = {
    "440303": ("洪湖", "东门"),
    "440304": ("莲花", "香蜜湖"),
    "440305": ("华侨城", "西丽"),
    "440306": ("西乡", "福永"),
    "440307": ("横岗", "龙城"),
    "440308": ("盐田", "梅沙"),
    "440309": ("观澜", "民治"),
    "440310": ("坪山", "坑梓"),
    "440311": ("光明", "公明"),
    "4403DP": ("葵涌", "南澳"),
}
ROADS: dict[str, tuple[str, ...]] = {
    "440303": ("深南东路", "人民南路", "宝安南路", "东门路", "笋岗路", "泥岗路"),
    "440304": ("深南中路", "滨河大道", "北环大道", "红荔路", "彩田路", "皇岗路"),
    "440305": ("深南大道", "滨海大道", "南海大道", "沙河西路", "科苑路", "留仙大道"),
    "440306": ("宝安大道", "广深公路", "新安六路", "航城大道", "福永大道", "松福大道"),
    "440307": ("龙岗大道", "深惠路", "布吉路", "坂雪岗大道", "龙翔大道", "横坪公路"),
    "440308": ("盐田路", "沙头角路", "深盐路", "海景二路", "梅沙路", "北山道"),
    "440309": ("梅龙大道", "民治大道", "人民路", "观澜大道", "布龙路", "华荣路"),
    "440310": ("坪山大道", "深汕路", "金牛路", "龙兴路", "坑梓大道", "东纵路"),
    "440311": ("光明大道", "华夏路", "松白路", "公明北环大道", "光侨路", "观光路"),
    "4403DP": ("葵涌路", "鹏飞路", "南澳路", "大鹏中心路", "迎宾路", "坝光路"),
}

# The instruments, shared by every Datastream that uses them.
SENSORS: dict[str, dict[str, str]] = {
    "particles": {
        "name": "颗粒物监测仪（β射线法）",
        "description": "PM2.5/PM10 自动监测仪，β射线吸收法，符合 HJ 653",
    },
    "so2": {"name": "二氧化硫分析仪（紫外荧光法）", "description": "SO2 自动监测仪，符合 HJ 654"},
    "no2": {"name": "氮氧化物分析仪（化学发光法）", "description": "NO2 自动监测仪，符合 HJ 654"},
    "co": {"name": "一氧化碳分析仪（红外吸收法）", "description": "CO 自动监测仪，符合 HJ 654"},
    "o3": {"name": "臭氧分析仪（紫外光度法）", "description": "O3 自动监测仪，符合 HJ 654"},
    "traffic": {
        "name": "微波交通检测器",
        "description": "侧装微波雷达，按断面统计车流量与平均车速",
    },
    "flow": {"name": "电磁流量计", "description": "供水管道电磁流量计（分区计量）"},
    "pressure": {"name": "压力变送器", "description": "供水管网压力变送器"},
}
AIR_SENSOR = {
    Pollutant.PM2_5: "particles",
    Pollutant.PM10: "particles",
    Pollutant.SO2: "so2",
    Pollutant.NO2: "no2",
    Pollutant.CO: "co",
    Pollutant.O3: "o3",
}
STREAMS: dict[str, tuple[tuple[str, str], ...]] = {
    AIR_STATION: tuple((POLLUTANT_DEFINITIONS[p], AIR_SENSOR[p]) for p in Pollutant),
    TRAFFIC_DETECTOR: ((VEHICLE_COUNT, "traffic"), (MEAN_SPEED, "traffic")),
    WATER_METER: ((WATER_FLOW, "flow"), (WATER_PRESSURE, "pressure")),
}


def gateway_username(district_code: str) -> str:
    return f"{GATEWAY_PREFIX}{district_code.lower()}"


@dataclass(frozen=True)
class CityCounts:
    """What one seeding created (all zero when the city was already there)."""

    gateways: int = 0
    things: int = 0
    datastreams: int = 0
    observations: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        return (
            f"Sensing: {self.gateways} district gateways, {self.things} devices, "
            f"{self.datastreams} datastreams, {self.observations:,} observations of history "
            f"({self.seconds:.1f} s)."
        )


@dataclass
class ThingPlan:
    """One device to create: the Thing's JSON for the deep insert, and what to simulate."""

    kind: str
    code: str  # deviceCode: the stable key of its simulated series
    district: DivisionInfo
    body: dict[str, Any]
    scale: float
    streams: list[tuple[str, str]] = field(default_factory=list)  # (definition, sensor)


def point_inside(rng: random.Random, code: str) -> tuple[float, float]:
    x0, y0, x1, y1 = DISTRICT_BOXES[code]
    # A margin so a point never sits on the box's edge (point-in-polygon stays unambiguous).
    mx, my = (x1 - x0) * 0.08, (y1 - y0) * 0.08
    return round(rng.uniform(x0 + mx, x1 - mx), 6), round(rng.uniform(y0 + my, y1 - my), 6)


def thing_body(
    name: str, description: str, properties: dict[str, Any], lon: float, lat: float
) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "properties": properties,
        "Locations": [
            {
                "name": name,
                "description": f"{name} 安装位置",
                "encodingType": GEOJSON,
                "location": {"type": "Point", "coordinates": [lon, lat]},
            }
        ],
    }


def plan_district(district: DivisionInfo, rng: random.Random) -> list[ThingPlan]:
    """The devices of one district, deterministic for a given random generator."""
    code, short = district.code, district.name
    plans: list[ThingPlan] = []
    for n, site in enumerate(STATION_SITES[code], start=1):
        device = f"{code}-AQ{n:02d}"
        name = f"{short} {site}站"
        properties: dict[str, Any] = {
            **station_properties(device, code),
            "deviceCode": device,
            "reportingIntervalSeconds": INTERVALS[AIR_STATION],
            "operator": "生态环境局",
            "simulated": True,
        }
        lon, lat = point_inside(rng, code)
        body = thing_body(name, "空气质量自动监测站（模拟）", properties, lon, lat)
        plans.append(ThingPlan(AIR_STATION, device, district, body, 1.0))
    roads = ROADS[code]
    for n in range(1, PER_DISTRICT[TRAFFIC_DETECTOR] + 1):
        device = f"{code}-TD{n:02d}"
        road = roads[(n - 1) % len(roads)]
        lanes = rng.choice((2, 3, 4, 4, 5, 6))
        name = f"{short} {road} 车辆检测器 {n:02d}"
        properties = {
            "kind": TRAFFIC_DETECTOR,
            "deviceCode": device,
            "districtCode": code,
            "road": road,
            "lanes": lanes,
            "reportingIntervalSeconds": INTERVALS[TRAFFIC_DETECTOR],
            "operator": "交通运输局",
            "simulated": True,
        }
        lon, lat = point_inside(rng, code)
        body = thing_body(name, f"{road}断面交通流检测（模拟）", properties, lon, lat)
        plans.append(ThingPlan(TRAFFIC_DETECTOR, device, district, body, float(lanes)))
    for n in range(1, PER_DISTRICT[WATER_METER] + 1):
        device = f"{code}-WM{n:02d}"
        diameter, nominal = rng.choice(((200, 120.0), (300, 260.0), (400, 450.0), (600, 900.0)))
        name = f"{short} 供水分区计量表 {n:02d}"
        properties = {
            "kind": WATER_METER,
            "deviceCode": device,
            "districtCode": code,
            "pipeDiameter": f"DN{diameter}",
            "nominalFlow": nominal,
            "reportingIntervalSeconds": INTERVALS[WATER_METER],
            "operator": "水务局",
            "simulated": True,
        }
        lon, lat = point_inside(rng, code)
        body = thing_body(name, f"DN{diameter} 供水管道计量点（模拟）", properties, lon, lat)
        plans.append(ThingPlan(WATER_METER, device, district, body, nominal))
    for plan in plans:
        plan.streams = list(STREAMS[plan.kind])
    return plans


def demo_episodes(last_hour: datetime) -> tuple[Episode, ...]:
    """Episodes the history always has, whatever the date: one in 宝安 that ended yesterday
    evening, a weaker one in 龙岗 three days ago, so the index shows non-green categories."""
    first = last_hour - timedelta(hours=30)
    second = last_hour - timedelta(hours=80)
    return (
        Episode("440306", first, first + timedelta(hours=7), 165.0),
        Episode("440307", second, second + timedelta(hours=5), 130.0),
    )


def history_times(kind: str, now: datetime) -> list[datetime]:
    """Back-fill instants, oldest first, aligned to the step and not after ``now``."""
    span, step = HISTORY[kind]
    seconds = step.total_seconds()
    last = datetime.fromtimestamp(math.floor(now.timestamp() / seconds) * seconds, tz=now.tzinfo)
    count = int(span / step)
    return [last - step * k for k in range(count - 1, -1, -1)]


# --- the catalogue ------------------------------------------------------------------------------


async def _sensor_ids(session: AsyncSession, principal: Principal) -> dict[str, int]:
    ids: dict[str, int] = {}
    for key, info in SENSORS.items():
        ids[key] = await sensing.ensure_sensor(
            session,
            name=info["name"],
            description=info["description"],
            encoding_type="text/html",
            metadata=f"https://smartcity.invalid/sensors/{key}",
            same_encoding=True,
            principal=principal,
        )
    return ids


async def _observed_property_ids(session: AsyncSession, principal: Principal) -> dict[str, int]:
    ids: dict[str, int] = {}
    for definition, profile in PROFILES.items():
        ids[definition], _made = await sensing.ensure_observed_property(
            session,
            definition,
            name=profile.name,
            description=profile.description,
            principal=principal,
        )
    return ids


# --- seeding ------------------------------------------------------------------------------------


async def _gateway(session: AsyncSession, principal: Principal, district: DivisionInfo) -> Account:
    account, _password = await accounts.create_account(
        session,
        principal,
        AccountCreate(
            username=gateway_username(district.code),
            display_name=f"{district.name}区级物联网关",
            kind="device",
        ),
    )
    return account


def _history(
    plan: ThingPlan, definition: str, context: Context, now: datetime
) -> list[sensing.NewReading]:
    """The back-filled Observations of one stream."""
    profile = PROFILES[definition]
    series = Series(f"{plan.code}/{profile.key}", plan.district.code, plan.scale)
    interval = timedelta(seconds=INTERVALS[plan.kind])
    readings = []
    for at in history_times(plan.kind, now):
        value = profile.value(context, series, at)
        start, end = (at - interval, at) if profile.over_interval else (at, None)
        readings.append(sensing.NewReading(start, end, at, value))
    return readings


def _new_thing(
    plan: ThingPlan,
    owner: Account,
    sensors: dict[str, int],
    properties: dict[str, int],
    context: Context | None,
    now: datetime,
) -> sensing.NewThing:
    location = plan.body["Locations"][0]
    return sensing.NewThing(
        name=plan.body["name"],
        description=plan.body["description"],
        properties=plan.body["properties"],
        owner_account_id=owner.id,
        location_name=location["name"],
        location_description=location["description"],
        encoding_type=location["encodingType"],
        location=location["location"],
        datastreams=[
            sensing.NewDatastream(
                name=f"{plan.body['name']} {PROFILES[definition].title}",
                description=PROFILES[definition].description,
                observation_type=PROFILES[definition].observation_type,
                unit_of_measurement=PROFILES[definition].unit,
                properties={"reportingIntervalSeconds": INTERVALS[plan.kind]},
                sensor_id=sensors[sensor],
                observed_property_id=properties[definition],
                history=_history(plan, definition, context, now) if context else (),
            )
            for definition, sensor in plan.streams
        ],
    )


async def create_devices(
    session: AsyncSession,
    principal: Principal,
    plans: list[tuple[ThingPlan, Account]],
    *,
    context: Context | None = None,
    now: datetime | None = None,
) -> sensing.Created:
    """Create the planned Things (each owned by its device account) in bulk, with the rows a
    deep insert makes; with a ``context``, also their back-filled history up to ``now``."""
    authorize(principal, "sensing.entity.write")
    now = now or clock.now()
    sensors = await _sensor_ids(session, principal)
    properties = await _observed_property_ids(session, principal)
    things = [_new_thing(p, owner, sensors, properties, context, now) for p, owner in plans]
    return await sensing.create_things(session, principal, things, now=now)


async def seed_demo_city(
    session: AsyncSession, principal: Principal, *, seed: int = DEFAULT_SEED
) -> CityCounts:
    """Seed the districts not seeded yet (their gateway account is the mark); returns what
    was created. Flushes, never commits."""
    started = time.perf_counter()
    authorize(principal, "sensing.entity.write")
    now = clock.now()
    existing = set(
        (
            await session.execute(
                select(Account.username).where(Account.username.startswith(GATEWAY_PREFIX))
            )
        ).scalars()
    )
    todo = [d for d in SHENZHEN_DISTRICTS if gateway_username(d.code) not in existing]
    if not todo:
        return CityCounts()
    rng = random.Random(seed)  # noqa: S311 - a demo's layout, not a secret
    plans: list[tuple[ThingPlan, Account]] = []
    for district in SHENZHEN_DISTRICTS:
        district_plans = plan_district(district, rng)  # always drawn: layouts never shift
        if district in todo:
            gateway = await _gateway(session, principal, district)
            plans += [(plan, gateway) for plan in district_plans]
    context = Context(seed, demo_episodes(history_times(AIR_STATION, now)[-1]))
    created = await create_devices(session, principal, plans, context=context, now=now)
    for district in todo:
        mine = [p for p, _g in plans if p.district.code == district.code]
        await audit.log(
            session,
            principal,
            "sensing.demo.seed",
            gateway_username(district.code),
            things=len(mine),
            datastreams=sum(len(p.streams) for p in mine),
        )
    return CityCounts(
        gateways=len(todo),
        things=created.things,
        datastreams=created.datastreams,
        observations=created.observations,
        seconds=time.perf_counter() - started,
    )
