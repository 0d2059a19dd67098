"""The public air quality API: shapes, anonymous access, private stations, bad ranges."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from tests.environment.city import NOW, City, make_city
from tests.problems import assert_problem
from tests.sensing.factories import caller

BASE = "/api/v1/environment/air"


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def city(session: AsyncSession) -> City:
    return await make_city(session)


async def test_stations_list_for_anyone(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get(f"{BASE}/stations")
    assert response.status_code == 200, response.text
    stations = {s["id"]: s for s in response.json()}
    assert city.private.thing not in stations
    polluted = stations[city.polluted.thing]
    assert polluted["aqi"] == 119
    assert polluted["category"] == {
        "code": "lightly-polluted",
        "level": 3,
        "name_zh": "轻度污染",
        "name_en": "Lightly polluted",
        "colour": "#FF7E00",
    }
    assert polluted["primary_pollutants"] == [{"code": "PM2.5_1h", "name_zh": "细颗粒物"}]
    assert polluted["district"] == {"code": "440306", "name": "宝安区"}
    assert polluted["location"] == {"lon": 113.87, "lat": 22.58}
    assert polluted["time"] == "2026-03-05T03:00:00Z"
    assert polluted["edition"] == "HJ 633-2026"
    assert polluted["reporting"] is True
    silent = stations[city.silent.thing]
    assert silent["aqi"] is None and silent["category"] is None and silent["reporting"] is False
    assert stations[city.clean.thing]["category"]["level"] == 1


async def test_station_detail(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get(f"{BASE}/stations/{city.polluted.thing}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["hourly"]["aqi"] == 119
    assert body["hourly"]["iaqi"]["PM10_1h"] == 108
    pm25 = next(
        f for f in body["hourly"]["figures"] if f["pollutant"] == "PM2.5" and f["measure"] == "1h"
    )
    assert pm25 == {
        "pollutant": "PM2.5",
        "name_zh": "细颗粒物",
        "measure": "1h",
        "value": 80,
        "unit": "µg/m³",
        "indicator": "PM2.5_1h",
        "iaqi": 119,
        "valid": 1,
        "needed": 1,
        "out_of": 1,
        "reason": None,
        "explanation": None,
    }
    assert body["daily"]["start"] == "2026-03-03T16:00:00Z"  # 4 March, Asia/Shanghai
    assert body["daily"]["aqi"] == 119


async def test_private_and_unknown_stations_are_404(
    client: httpx.AsyncClient, session: AsyncSession, city: City
) -> None:
    for path in ("", "/hourly", "/daily"):
        response = await client.get(f"{BASE}/stations/{city.private.thing}{path}")
        assert_problem(response, 404, "not-found")
        assert response.headers["content-type"].startswith("application/problem+json")
    assert_problem(await client.get(f"{BASE}/stations/999999"), 404, "not-found")
    # The departments' accounts see the private station (sensing.access).
    _account, headers = await caller(session, "system")
    seen = await client.get(f"{BASE}/stations/{city.private.thing}", headers=headers)
    assert seen.status_code == 200
    listed = await client.get(f"{BASE}/stations", headers=headers)
    assert city.private.thing in {s["id"] for s in listed.json()}


async def test_hourly_and_daily_series(client: httpx.AsyncClient, city: City) -> None:
    hourly = await client.get(f"{BASE}/stations/{city.polluted.thing}/hourly")
    assert hourly.status_code == 200, hourly.text
    body = hourly.json()
    assert body["kind"] == "hourly"
    # Default: the last 24 hours up to the current hour.
    assert (body["start"], body["end"]) == ("2026-03-04T05:00:00Z", "2026-03-05T05:00:00Z")
    assert len(body["points"]) == 23  # 13:00 on the 4th … 11:00 on the 5th; 12:00 is not due
    assert body["points"][-1]["start"] == "2026-03-05T03:00:00Z"
    ranged = await client.get(
        f"{BASE}/stations/{city.polluted.thing}/hourly",
        params={"from": "2026-03-04", "to": "2026-03-04"},
    )
    assert len(ranged.json()["points"]) == 24
    daily = await client.get(
        f"{BASE}/stations/{city.polluted.thing}/daily", params={"from": "2026-03-01"}
    )
    assert daily.status_code == 200, daily.text
    assert [p["start"] for p in daily.json()["points"]] == ["2026-03-03T16:00:00Z"]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"to": "2026-13-01"},
        {"from": "2026-03-04T00:00:00"},  # no offset
        {"from": "2026-03-05", "to": "2026-03-04"},
        {"from": "2026-01-01", "to": "2026-03-01"},  # longer than 31 days
    ],
)
async def test_bad_ranges_are_400(
    client: httpx.AsyncClient, city: City, params: dict[str, str]
) -> None:
    response = await client.get(f"{BASE}/stations/{city.polluted.thing}/hourly", params=params)
    assert_problem(response, 400, "bad-range")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] in ("from", "to")


async def test_daily_range_limit(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get(
        f"{BASE}/stations/{city.polluted.thing}/daily",
        params={"from": "2024-01-01", "to": "2026-01-01"},
    )
    assert_problem(response, 400, "bad-range")


async def test_city_summary(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get(f"{BASE}/summary")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["time"] == "2026-03-05T03:00:00Z"
    # The mean of the two public stations: PM2.5 (20+80)/2 = 50 → 2026 IAQI 80 (良).
    assert body["aqi"] == 80
    assert body["category"]["level"] == 2
    assert body["primary_pollutants"] == [{"code": "PM2.5_1h", "name_zh": "细颗粒物"}]
    assert body["stations"] == 3 and body["stations_reporting"] == 2
    counts = {c["category"]["level"]: c["stations"] for c in body["per_category"]}
    assert counts == {1: 1, 2: 0, 3: 1, 4: 0, 5: 0, 6: 0}
    assert body["best"]["id"] == city.clean.thing
    assert body["worst"] == {"id": city.polluted.thing, "name": "西乡监测站", "aqi": 119}
    assert body["edition_in_force"] == "HJ 633-2026"


async def test_summary_without_stations(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{BASE}/summary")
    assert response.status_code == 200
    assert response.json()["aqi"] is None
    assert (await client.get(f"{BASE}/stations")).json() == []
