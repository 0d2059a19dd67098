"""The demo's simulated city of sensors (demo/sensing.py): what it seeds, that it seeds once,
that air stations follow the environment module's contract, that the rows are those the
SensorThings API would make, and that the back-filled history is readable through the API."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.ids import SHENZHEN_DISTRICTS
from smartcity.core.models import Account, AuditEntry
from smartcity.demo import sensing as demo
from smartcity.demo.simulate_profiles import PROFILES
from smartcity.environment.aqi import Pollutant, check_unit
from smartcity.environment.stations import AIR_STATION_KIND, POLLUTANT_DEFINITIONS, POLLUTANT_UCUM
from smartcity.registry.contract import DISTRICT_BOXES
from smartcity.sensing import models as m
from smartcity.sensing.sta import service
from smartcity.sensing.sta.entities import TYPES
from smartcity.sensing.sta.serialize import plain
from tests.core.factories import ROOT, create_account

NOW = datetime(2026, 11, 20, 3, 7, 30, tzinfo=UTC)  # 11:07 in Shenzhen


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_demo_city_is_seeded_once_by_the_contract_and_readable(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    with clock.frozen(NOW):
        started = time.perf_counter()
        counts = await demo.seed_demo_city(session, ROOT)
        took = time.perf_counter() - started
        again = await demo.seed_demo_city(session, ROOT)

    # 10 districts x (2 air stations x 6 + 12 detectors x 2 + 16 meters x 2 streams).
    assert (counts.gateways, counts.things, counts.datastreams) == (10, 300, 680)
    assert counts.observations == 120 * 192 + 240 * 96 + 320 * 96
    assert took < 30, f"seeding took {took:.1f} s"
    assert again == demo.CityCounts()  # idempotent: the second run creates nothing
    assert await _count(session, m.StaThing) == 300
    assert await _count(session, m.StaObservation) == counts.observations
    # Sensors and ObservedProperties are shared, not one per Thing.
    assert await _count(session, m.StaSensor) == len(demo.SENSORS)
    assert await _count(session, m.StaObservedProperty) == 10
    audit = await session.scalar(
        select(func.count()).where(AuditEntry.action == "sensing.demo.seed")
    )
    assert audit == 10

    gateways = {
        a.username: a
        for a in (
            await session.execute(select(Account).where(Account.username.startswith("gateway.")))
        ).scalars()
    }
    assert sorted(gateways) == sorted(demo.gateway_username(d.code) for d in SHENZHEN_DISTRICTS)
    assert {a.kind for a in gateways.values()} == {"device"}
    assert gateways["gateway.440304"].display_name == "福田区区级物联网关"

    things = list((await session.execute(select(m.StaThing).order_by(m.StaThing.id))).scalars())
    for thing in things:
        props = thing.properties or {}
        code = props["districtCode"]
        assert thing.owner_account_id == gateways[demo.gateway_username(code)].id
        assert props["simulated"] is True and props["reportingIntervalSeconds"] > 0
        location = (
            await session.execute(
                select(m.StaLocation)
                .join(m.thing_location, m.thing_location.c.location_id == m.StaLocation.id)
                .where(m.thing_location.c.thing_id == thing.id)
            )
        ).scalar_one()
        lon, lat = location.location["coordinates"]
        x0, y0, x1, y1 = DISTRICT_BOXES[code]
        assert x0 < lon < x1 and y0 < lat < y1, thing.name
    kinds = [t.properties["kind"] for t in things if t.properties]
    assert kinds.count(AIR_STATION_KIND) == 20
    assert kinds.count("traffic-detector") == 120 and kinds.count("water-meter") == 160

    # An air station by the contract of environment/stations.py.
    station = next(t for t in things if t.name == "福田区 莲花站")
    assert station.properties is not None
    assert station.properties["kind"] == AIR_STATION_KIND
    assert station.properties["stationCode"] == "440304-AQ01"
    assert station.properties["districtCode"] == "440304"
    streams = (
        await session.execute(
            select(m.StaDatastream, m.StaObservedProperty.definition)
            .join(
                m.StaObservedProperty,
                m.StaObservedProperty.id == m.StaDatastream.observed_property_id,
            )
            .where(m.StaDatastream.thing_id == station.id)
        )
    ).all()
    by_definition = {definition: stream for stream, definition in streams}
    assert set(by_definition) == set(POLLUTANT_DEFINITIONS.values())
    for pollutant in Pollutant:
        stream = by_definition[POLLUTANT_DEFINITIONS[pollutant]]
        unit = stream.unit_of_measurement
        check_unit(pollutant, unit["symbol"])  # raises on a wrong unit
        assert unit["symbol"] == POLLUTANT_UCUM[pollutant][0]
        assert unit["definition"] == f"ucum:{POLLUTANT_UCUM[pollutant][1]}"
        assert stream.observation_type.endswith("OM_Measurement")

    # The history through the SensorThings API: hourly, the newest at the last whole hour.
    pm25 = by_definition[POLLUTANT_DEFINITIONS[Pollutant.PM2_5]]
    response = await client.get(
        f"/sta/v1.1/Datastreams({pm25.id})/Observations",
        params={"$top": "1", "$orderby": "phenomenonTime desc", "$count": "true"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@iot.count"] == 192
    assert body["value"][0]["phenomenonTime"] == "2026-11-20T03:00:00Z"
    assert isinstance(body["value"][0]["result"], float)
    stream_json = (await client.get(f"/sta/v1.1/Datastreams({pm25.id})")).json()
    assert stream_json["phenomenonTime"] == "2026-11-12T04:00:00Z/2026-11-20T03:00:00Z"
    assert stream_json["observedArea"]["type"] == "Point"
    latest = await client.get("/api/v1/sensing/latest", params={"datastream": str(pm25.id)})
    assert latest.status_code == 200, latest.text
    assert latest.json()["value"][0]["observation"]["phenomenon_time"].startswith("2026-11-20T03")

    # Traffic counts are integers over their one-minute interval, every 15 minutes for a day.
    detector = next(t for t in things if (t.properties or {}).get("kind") == "traffic-detector")
    count_stream = (
        await session.execute(
            select(m.StaDatastream).where(
                m.StaDatastream.thing_id == detector.id,
                m.StaDatastream.observation_type.endswith("OM_CountObservation"),
            )
        )
    ).scalar_one()
    rows = (
        await client.get(
            f"/sta/v1.1/Datastreams({count_stream.id})/Observations",
            params={"$orderby": "phenomenonTime desc", "$top": "2"},
        )
    ).json()["value"]
    assert rows[0]["phenomenonTime"] == "2026-11-20T02:59:00Z/2026-11-20T03:00:00Z"
    assert rows[1]["phenomenonTime"] == "2026-11-20T02:44:00Z/2026-11-20T02:45:00Z"
    assert all(isinstance(r["result"], int) for r in rows)

    # The pinned episode: PM2.5 above 115 µg/m³ for hours in 宝安 (so categories turn red).
    baoan_pm25 = select(m.StaDatastream.id).where(
        m.StaDatastream.thing_id.in_(
            select(m.StaThing.id).where(m.StaThing.name.startswith("宝安区 "))
        ),
        m.StaDatastream.name.endswith(" PM2.5"),
    )
    high = await session.scalar(
        select(func.count()).where(
            m.StaObservation.datastream_id.in_(baoan_pm25), m.StaObservation.result_number > 115
        )
    )
    assert high is not None and high >= 6

    # A live reading without a FeatureOfInterest gets the one the history used: the seeding
    # derived it exactly as ingestion does.
    history_feature = await session.scalar(
        select(m.StaObservation.feature_of_interest_id)
        .where(m.StaObservation.datastream_id == pm25.id)
        .limit(1)
    )
    with clock.frozen(NOW):
        created = await service.create_observations(
            session,
            ROOT,
            [
                {
                    "Datastream": {"@iot.id": pm25.id},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [["2026-11-20T03:07:00Z", 30.5]],
                }
            ],
        )
    assert isinstance(created[0], int)
    live = await session.get(m.StaObservation, created[0])
    assert live is not None and live.feature_of_interest_id == history_feature


async def test_rows_are_those_a_deep_insert_makes(session: AsyncSession) -> None:
    """The bulk creation writes what POST /Things with the same body would."""
    plan = demo.plan_district(SHENZHEN_DISTRICTS[1], random.Random(5))[0]
    owner = await create_account(session, kind="device")
    with clock.frozen(NOW):
        await demo.create_devices(session, ROOT, [(plan, owner)])
    bulk = (
        await session.execute(select(m.StaThing).where(m.StaThing.name == plan.body["name"]))
    ).scalar_one()
    sensors = {s.name: s.id for s in (await session.execute(select(m.StaSensor))).scalars()}
    properties = {
        p.definition: p.id for p in (await session.execute(select(m.StaObservedProperty))).scalars()
    }
    body = {
        **plan.body,
        "name": "API " + plan.body["name"],
        "Datastreams": [
            {
                "name": f"API {plan.body['name']} {PROFILES[d].title}",
                "description": PROFILES[d].description,
                "unitOfMeasurement": PROFILES[d].unit,
                "observationType": PROFILES[d].observation_type,
                "properties": {"reportingIntervalSeconds": demo.INTERVALS[plan.kind]},
                "Sensor": {"@iot.id": sensors[demo.SENSORS[s]["name"]]},
                "ObservedProperty": {"@iot.id": properties[d]},
            }
            for d, s in plan.streams
        ],
    }
    with clock.frozen(NOW):
        api = await service.create_entity(session, ROOT, TYPES["Thing"], body)

    def same(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in a.items() if k != "@iot.id" and a.get(k) != b.get(k)}

    thing_type = TYPES["Thing"]
    a, b = plain(thing_type, bulk), plain(thing_type, api)
    assert {k: v for k, v in same(a, b).items() if k != "name"} == {}
    for thing in (bulk, api):
        links = (
            await session.execute(
                select(func.count()).where(m.thing_location.c.thing_id == thing.id)
            )
        ).scalar_one()
        history = (
            await session.execute(
                select(m.StaHistoricalLocation).where(m.StaHistoricalLocation.thing_id == thing.id)
            )
        ).scalar_one()
        assert links == 1 and history.time == NOW
    ds_type = TYPES["Datastream"]
    bulk_streams = (
        await session.execute(
            select(m.StaDatastream)
            .where(m.StaDatastream.thing_id == bulk.id)
            .order_by(m.StaDatastream.id)
        )
    ).scalars()
    api_streams = (
        await session.execute(
            select(m.StaDatastream)
            .where(m.StaDatastream.thing_id == api.id)
            .order_by(m.StaDatastream.id)
        )
    ).scalars()
    for x, y in zip(bulk_streams, api_streams, strict=True):
        assert {
            k: v for k, v in same(plain(ds_type, x), plain(ds_type, y)).items() if k != "name"
        } == {}
        assert (x.sensor_id, x.observed_property_id) == (y.sensor_id, y.observed_property_id)


def test_history_times_are_aligned_and_end_now() -> None:
    now = datetime(2026, 11, 20, 3, 7, 30, tzinfo=UTC)
    air = demo.history_times(demo.AIR_STATION, now)
    assert len(air) == 192 and air[-1] == datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert air[0] == air[-1] - timedelta(hours=191)
    water = demo.history_times(demo.WATER_METER, now)
    assert len(water) == 96 and water[-1] == datetime(2026, 11, 20, 3, tzinfo=UTC)
    assert water[-2] == datetime(2026, 11, 20, 2, 45, tzinfo=UTC)


def test_district_plans_are_deterministic() -> None:
    first = demo.plan_district(SHENZHEN_DISTRICTS[0], random.Random(1))
    second = demo.plan_district(SHENZHEN_DISTRICTS[0], random.Random(1))
    assert [p.body for p in first] == [p.body for p in second]
    assert [p.body["name"] for p in first[:3]] == [
        "罗湖区 洪湖站",
        "罗湖区 东门站",
        "罗湖区 深南东路 车辆检测器 01",
    ]
