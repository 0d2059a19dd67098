"""The AQI Datastreams are written by the platform only, and one unreadable stored report
never takes the air pages or the API down: it is skipped, the rest shows, and it is marked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.environment import service
from smartcity.environment.models import AqiWatermark
from smartcity.sensing import models as m
from smartcity.sensing.mqtt.bridge import MqttBridge
from smartcity.settings import Settings
from tests.environment.city import NOW, City, make_city
from tests.problems import assert_problem
from tests.sensing.factories import ROOT_URL, caller

BASE = "/api/v1/environment/air"
HTML = {"Accept": "text/html", "Accept-Language": "zh-CN"}


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def city(session: AsyncSession) -> City:
    return await make_city(session)


async def _hourly_stream(session: AsyncSession, thing_id: int) -> m.StaDatastream:
    station = await service.get_station(session, SYSTEM, thing_id)
    assert station.hourly is not None
    stream = await session.get(m.StaDatastream, station.hourly.id)
    assert stream is not None
    return stream


async def _count(session: AsyncSession, stream_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(m.StaObservation.datastream_id == stream_id)
        )
        or 0
    )


def _forbidden(response: httpx.Response) -> None:
    assert_problem(response, 403, "computed-datastream")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/computed-datastream"


class TestTheWatermarkIsTheModulesOwn:
    async def test_sensorthings_clients_do_not_see_it(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        hourly = await _hourly_stream(session, city.clean.thing)
        mark = await session.get(AqiWatermark, hourly.id)
        assert mark is not None and mark.computed_through  # the job did run
        _system, headers = await caller(session, "system")
        response = await client.get(f"{ROOT_URL}/Datastreams({hourly.id})", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["properties"] == {"aqi": "1h"}
        assert "aqiComputedThrough" not in response.text


class TestNoClientWritesAComputedStream:
    async def test_the_aqi_streams_are_marked_computed(
        self, session: AsyncSession, city: City
    ) -> None:
        station = await service.get_station(session, SYSTEM, city.clean.thing)
        assert station.hourly is not None and station.hourly.computed
        assert station.daily is not None and station.daily.computed
        pollutant_stream = await session.get(m.StaDatastream, min(city.clean.streams.values()))
        assert pollutant_stream is not None and not pollutant_stream.computed

    async def test_a_gateway_cannot_post_an_observation(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        stream = await _hourly_stream(session, city.clean.thing)
        before = await _count(session, stream.id)
        _account, gateway = await caller(session, "system")
        body = {"result": 5, "phenomenonTime": "2026-03-05T03:00:00Z"}
        _forbidden(
            await client.post(
                f"{ROOT_URL}/Datastreams({stream.id})/Observations", json=body, headers=gateway
            )
        )
        _forbidden(
            await client.post(
                f"{ROOT_URL}/Observations",
                json={**body, "Datastream": {"@iot.id": stream.id}},
                headers=gateway,
            )
        )
        assert await _count(session, stream.id) == before

    async def test_nor_through_create_observations(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        stream = await _hourly_stream(session, city.clean.thing)
        _account, admin = await caller(session, "system")
        body = [
            {
                "Datastream": {"@iot.id": stream.id},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-03-05T03:00:00Z", 5]],
            }
        ]
        _forbidden(await client.post(f"{ROOT_URL}/CreateObservations", json=body, headers=admin))

    async def test_its_observations_cannot_be_changed_or_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        stream = await _hourly_stream(session, city.clean.thing)
        obs_id = await session.scalar(
            select(func.max(m.StaObservation.id)).where(m.StaObservation.datastream_id == stream.id)
        )
        _account, gateway = await caller(session, "system")
        url = f"{ROOT_URL}/Observations({obs_id})"
        _forbidden(await client.patch(url, json={"result": 1}, headers=gateway))
        _forbidden(
            await client.put(
                url,
                json={"result": 1, "phenomenonTime": "2026-03-05T03:00:00Z"},
                headers=gateway,
            )
        )
        _forbidden(await client.delete(url, headers=gateway))
        assert await session.get(m.StaObservation, obs_id) is not None

    async def test_the_stream_itself_cannot_be_changed_or_deleted(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        stream = await _hourly_stream(session, city.clean.thing)
        name = stream.name
        _account, gateway = await caller(session, "system")
        url = f"{ROOT_URL}/Datastreams({stream.id})"
        _forbidden(await client.patch(url, json={"name": "改名"}, headers=gateway))
        _forbidden(
            await client.patch(
                url,
                content=b'[{"op": "replace", "path": "/name", "value": "x"}]',
                headers={**gateway, "Content-Type": "application/json-patch+json"},
            )
        )
        _forbidden(await client.delete(url, headers=gateway))
        await session.refresh(stream)
        assert stream.name == name
        # An ordinary pollutant Datastream of the same station stays the owner's to change.
        pm25 = min(city.clean.streams.values())
        response = await client.patch(
            f"{ROOT_URL}/Datastreams({pm25})",
            json={"description": "PM2.5 (校准后)"},
            headers=gateway,
        )
        assert response.status_code == 200, response.text

    async def test_an_observation_cannot_be_moved_into_it(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        stream = await _hourly_stream(session, city.clean.thing)
        pm25 = min(city.clean.streams.values())
        obs_id = await session.scalar(
            select(func.max(m.StaObservation.id)).where(m.StaObservation.datastream_id == pm25)
        )
        _account, gateway = await caller(session, "system")
        response = await client.patch(
            f"{ROOT_URL}/Observations({obs_id})",
            json={"Datastream": {"@iot.id": stream.id}},
            headers=gateway,
        )
        _forbidden(response)

    async def test_nor_through_mqtt(
        self, settings: Settings, database: Any, session: AsyncSession, city: City
    ) -> None:
        stream = await _hourly_stream(session, city.clean.thing)
        before = await _count(session, stream.id)
        bridge = MqttBridge(
            settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1883"}), database
        )
        payload = orjson.dumps({"result": 5, "phenomenonTime": "2026-03-05T03:00:00Z"})
        [outcome] = await bridge.store([(f"v1.1/Datastreams({stream.id})/Observations", payload)])
        assert outcome.observation_id is None
        assert outcome.reason is not None and "computed" in outcome.reason
        assert await _count(session, stream.id) == before

    async def test_a_client_made_aqi_stream_is_not_the_stations(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        # A Datastream made by a client with the AQI's ObservedProperty is that client's,
        # and the station's pages keep reading the platform's own.
        own = await _hourly_stream(session, city.clean.thing)
        _account, gateway = await caller(session, "system")
        response = await client.post(
            f"{ROOT_URL}/Things({city.clean.thing})/Datastreams",
            json={
                "name": "fake AQI",
                "description": "",
                "observationType": own.observation_type,
                "unitOfMeasurement": own.unit_of_measurement,
                "Sensor": {"@iot.id": own.sensor_id},
                "ObservedProperty": {"@iot.id": own.observed_property_id},
            },
            headers=gateway,
        )
        assert response.status_code == 201, response.text
        assert (await _hourly_stream(session, city.clean.thing)).id == own.id


async def _bad_row(session: AsyncSession, stream: m.StaDatastream, **columns: Any) -> None:
    """An Observation as an old bug or a hand edit could have left it, past every check."""
    template = await session.scalar(
        select(m.StaObservation)
        .where(m.StaObservation.datastream_id == stream.id)
        .order_by(m.StaObservation.id)
        .limit(1)
    )
    assert template is not None
    values: dict[str, Any] = {
        "phenomenon_time_start": datetime(2026, 3, 5, 4, tzinfo=UTC),
        "phenomenon_time_end": datetime(2026, 3, 5, 5, tzinfo=UTC),
        "result_kind": m.RESULT_NUMBER,
        "result_number": 42.0,
        "parameters": {},
        "datastream_id": stream.id,
        "feature_of_interest_id": template.feature_of_interest_id,
    }
    session.add(m.StaObservation(**(values | columns)))
    await session.flush()


BAD_ROWS = {
    "year 1": {
        "phenomenon_time_start": datetime(1, 1, 1, tzinfo=UTC),
        "phenomenon_time_end": datetime(1, 1, 1, 1, tzinfo=UTC),
        "result_number": 42.0,
    },
    "far future": {
        "phenomenon_time_start": datetime(9999, 12, 31, 22, tzinfo=UTC),
        "phenomenon_time_end": datetime(9999, 12, 31, 23, tzinfo=UTC),
    },
    "negative index": {"result_number": -5.0},
    "huge index": {"result_number": 1e300},
    "text result": {"result_kind": m.RESULT_STRING, "result_number": None, "result_string": "x"},
    "parameters a list": {"parameters": ["x"]},
    "iaqi not numbers": {"parameters": {"iaqi": {"PM2.5_1h": "high"}}},
    "figures not objects": {"parameters": {"figures": [1, 2]}},
    "primary pollutants a number": {"parameters": {"primaryPollutants": 3}},
}


@dataclass(frozen=True)
class Broken(City):
    bad: str  # which of BAD_ROWS the clean station's AQI stream holds


class TestOneBadRowDoesNotBreakThePublicPages:
    @pytest.fixture(params=sorted(BAD_ROWS))
    async def broken(
        self, request: pytest.FixtureRequest, session: AsyncSession, city: City
    ) -> Broken:
        stream = await _hourly_stream(session, city.clean.thing)
        await _bad_row(session, stream, **BAD_ROWS[request.param])
        return Broken(city.clean, city.polluted, city.private, city.silent, request.param)

    async def test_the_summary_api(self, client: httpx.AsyncClient, broken: Broken) -> None:
        response = await client.get(f"{BASE}/summary")
        assert response.status_code == 200, response.text
        body = response.json()
        # The other stations' reports still make the city's figure.
        assert body["aqi"] is not None
        assert body["stations_reporting"] >= 1

    async def test_the_stations_api_marks_the_station(
        self, client: httpx.AsyncClient, broken: Broken
    ) -> None:
        response = await client.get(f"{BASE}/stations")
        assert response.status_code == 200, response.text
        stations = {s["id"]: s for s in response.json()}
        clean = stations[broken.clean.thing]
        # The readable report before the bad one is shown, marked (year 1 sorts first and is
        # not the newest, so that one is simply never reached).
        assert clean["aqi"] == 40 and clean["time"] == "2026-03-05T03:00:00Z"
        assert clean["unreadable"] is (broken.bad != "year 1")
        assert stations[broken.polluted.thing]["aqi"] == 119
        assert not stations[broken.polluted.thing]["unreadable"]
        detail = await client.get(f"{BASE}/stations/{broken.clean.thing}")
        assert detail.status_code == 200, detail.text
        assert detail.json()["unreadable"] == clean["unreadable"]
        series = await client.get(
            f"{BASE}/stations/{broken.clean.thing}/hourly",
            params={"from": "2026-03-04", "to": "2026-03-06"},
        )
        assert series.status_code == 200, series.text
        assert all(0 <= p["aqi"] <= 500 for p in series.json()["points"])

    async def test_the_pages(self, client: httpx.AsyncClient, broken: Broken) -> None:
        air = await client.get("/air", headers=HTML)
        assert air.status_code == 200, air.text
        assert "西乡监测站" in air.text
        station = await client.get(f"/air/stations/{broken.clean.thing}", headers=HTML)
        assert station.status_code == 200, station.text


async def test_the_newest_unreadable_report_is_marked_and_the_one_before_shown(
    client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    stream = await _hourly_stream(session, city.clean.thing)
    before = {s["id"]: s for s in (await client.get(f"{BASE}/stations")).json()}
    assert before[city.clean.thing]["unreadable"] is False
    await _bad_row(session, stream, result_number=float("inf"))
    stations = {s["id"]: s for s in (await client.get(f"{BASE}/stations")).json()}
    assert stations[city.clean.thing]["unreadable"] is True
    assert stations[city.clean.thing]["aqi"] == before[city.clean.thing]["aqi"]
    assert stations[city.clean.thing]["time"] == before[city.clean.thing]["time"]
    assert stations[city.polluted.thing]["unreadable"] is False
    summary = (await client.get(f"{BASE}/summary")).json()
    assert summary["stations_unreadable"] == 1
    air = await client.get("/air", headers=HTML)
    assert air.text.count("data-unreadable") == 1
    assert "最新报告无法读取" in air.text
    page = await client.get(f"/air/stations/{city.clean.thing}", headers=HTML)
    assert "本站最新一条已存报告无法读取" in page.text


async def test_an_absurd_concentration_is_left_out_of_the_citys_mean(
    client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    from smartcity.environment.aqi import Pollutant

    pm25 = city.polluted.streams[Pollutant.PM2_5]
    stream = await session.get(m.StaDatastream, pm25)
    assert stream is not None
    await _bad_row(
        session,
        stream,
        phenomenon_time_start=datetime(2026, 3, 5, 3, 10, tzinfo=UTC),
        phenomenon_time_end=None,
        result_number=1e308,
    )
    await _bad_row(
        session,
        stream,
        phenomenon_time_start=datetime(2026, 3, 5, 3, 20, tzinfo=UTC),
        phenomenon_time_end=None,
        result_number=1e308,
    )
    response = await client.get(f"{BASE}/summary")
    assert response.status_code == 200, response.text
    assert response.json()["aqi"] is not None
