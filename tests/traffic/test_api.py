"""The public feeds: valid GeoJSON, CORS, caching headers and ETags, the index and
corridors, parking near a place, the incidents' Atom feed, bad input as problems."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from xml.etree import ElementTree as ET

import httpx
import pytest
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.traffic import feeds, state
from tests.problems import assert_problem
from tests.traffic.road import LAST, NOW, Road, feed, make_road

BASE = "/api/v1/traffic"


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    feeds.forget()
    with clock.frozen(NOW):
        yield
    feeds.forget()


@pytest.fixture
async def road(session: AsyncSession) -> Road:
    road = await make_road(session)
    for k in range(5):  # 55 km/h in the five minutes before LAST
        at = LAST - timedelta(minutes=5 - k) + timedelta(seconds=10)
        await feed(session, road.speed["SN-1-L1"], at, 55.0)
        await feed(session, road.speed["BH-1-L1"], at, 55.0)
    await state.compute_state(session, LAST - timedelta(minutes=4))
    await feed(session, road.speed["BH-1-L1"], LAST + timedelta(seconds=30), 10.0)
    await feed(session, road.flow["SN-1-L1"], LAST + timedelta(seconds=30), 1800.0)
    await feed(session, road.speed["P-1-B1"], LAST + timedelta(seconds=30), 321.0)
    await state.compute_state(session, NOW)
    await session.flush()
    return road


def _valid_feature_collection(doc: dict) -> None:
    assert doc["type"] == "FeatureCollection"
    for feature in doc["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = shape(feature["geometry"])
        assert geometry.is_valid and not geometry.is_empty
        for lon, lat in list(geometry.coords):
            assert -180 <= lon <= 180 and -90 <= lat <= 90


async def test_segments_geojson(client: httpx.AsyncClient, road: Road) -> None:
    response = await client.get(f"{BASE}/segments.geojson")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "max-age" in response.headers["cache-control"]
    doc = response.json()
    _valid_feature_collection(doc)
    by_code = {f["properties"]["code"]: f["properties"] for f in doc["features"]}
    # SN-1 sent only a flow in the last minute: its speed is carried, its flow is new
    assert by_code["SN-1"]["level"] == "smooth" and by_code["SN-1"]["carried_minutes"] == 1
    assert by_code["SN-1"]["flow_vph"] == 1800.0
    assert by_code["BH-1"]["level"] == "severe" and by_code["BH-1"]["speed_kmh"] == 10.0
    assert by_code["BH-2"]["level"] == "no_data" and by_code["BH-2"]["colour"] == "#9a9a9a"
    assert doc["minute"] == "2026-03-05T04:29:00Z"
    again = await client.get(
        f"{BASE}/segments.geojson", headers={"If-None-Match": response.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


async def test_index_and_corridors(client: httpx.AsyncClient, road: Road) -> None:
    index = (await client.get(f"{BASE}/index")).json()
    assert index["city"]["segments"] == 2
    assert {d["scope"] for d in index["districts"]} == {"440304"}
    assert index["today"] and 0 <= index["city"]["tpi"] <= 10
    corridors = (await client.get(f"{BASE}/corridors")).json()["corridors"]
    (c1,) = corridors
    assert c1["segments"] == 2 and c1["segments_without_data"] == 0
    # 1 km at 55 km/h and 1 km at 10 km/h
    assert c1["travel_s"] == pytest.approx(1000 / (55 / 3.6) + 1000 / (10 / 3.6), abs=0.2)
    assert c1["free_flow_s"] == pytest.approx(120.0)


async def test_parking_near_a_place(client: httpx.AsyncClient, road: Road) -> None:
    doc = (await client.get(f"{BASE}/parking.geojson")).json()
    _valid_feature_collection(doc)
    assert doc["features"][0]["properties"]["free"] == 321
    near = (await client.get(f"{BASE}/parking.geojson?near=114.06,22.545&radius_m=1000")).json()
    assert near["features"][0]["properties"]["distance_m"] < 1000
    far = (await client.get(f"{BASE}/parking.geojson?near=113.8,22.7&radius_m=1000")).json()
    assert far["features"] == []


async def test_incidents_atom(client: httpx.AsyncClient, road: Road) -> None:
    response = await client.get(f"{BASE}/incidents.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1  # BH-1 fell from 55 to 10 km/h
    assert "BH-1" in (entries[0].findtext("a:title", namespaces=ns) or "")


async def test_segment_detail_and_unknown(client: httpx.AsyncClient, road: Road) -> None:
    detail = (await client.get(f"{BASE}/segments/BH-1")).json()
    assert detail["states"][-1]["speed_kmh"] == 10.0
    missing = await client.get(f"{BASE}/segments/NOPE")
    assert_problem(missing, 404, "traffic-unknown-segment")
    too_long = await client.get(f"{BASE}/segments/{'x' * 300}")
    assert_problem(too_long, 404, "traffic-unknown-segment")


@pytest.mark.parametrize("near", ["abc", "114", "114,95", "114,22,1", "nan,nan"])
async def test_bad_places(client: httpx.AsyncClient, road: Road, near: str) -> None:
    response = await client.get(f"{BASE}/parking.geojson", params={"near": near})
    assert_problem(response, 422, "traffic-bad-place")


async def test_bad_radius(client: httpx.AsyncClient, road: Road) -> None:
    response = await client.get(f"{BASE}/parking.geojson?near=114,22.5&radius_m=999999")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_feeds_before_any_state(client: httpx.AsyncClient) -> None:
    doc = (await client.get(f"{BASE}/segments.geojson")).json()
    assert doc == {"type": "FeatureCollection", "minute": None, "features": []}
    assert (await client.get(f"{BASE}/index")).json()["city"] is None
