"""The traffic pages: the public page in Chinese and English with the map's data, the
districts, corridors and parking near a place; the staff pages of a segment and an
intersection; unknown codes and anonymous callers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.models import Account
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from smartcity.traffic import service, state
from smartcity.traffic.netimport import Intersection as NewIntersection
from smartcity.traffic.netimport import Network, RoadSegment
from tests.core import factories
from tests.traffic.road import LAST, NOW, Road, feed, make_road


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def road(session: AsyncSession) -> Road:
    road = await make_road(session)
    await service.import_network(
        session,
        SYSTEM,
        Network(
            [
                RoadSegment(
                    "XZ-1",
                    "新洲路",
                    "Xinzhou Road",
                    "arterial",
                    2,
                    500.0,
                    50.0,
                    50.0,
                    ((114.04, 22.52), (114.04, 22.54)),
                    "440304",
                    "J-A",
                    "J-B",
                )
            ],
            [NewIntersection("J-B", "新洲路/深南大道", 114.04, 22.54, ("0",), "Xinzhou / Shennan")],
        ),
    )
    await feed(session, road.speed["SN-1-L1"], LAST + timedelta(seconds=5), 20.0)
    await state.compute_state(session, NOW)
    return road


def as_(account: Account | None, lang: str = "zh-CN") -> dict[str, str]:
    headers = {"accept": "text/html", "accept-language": lang}
    if account is not None:
        long_lived = get_settings().model_copy(update={"access_token_minutes": 10**7})
        token = issue_access_token(long_lived, account, amr=["pwd", "otp"])
        headers["Authorization"] = f"Bearer {token}"
    return headers


def chart_of(html: str, element: str) -> dict:
    match = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', html)
    assert match
    return json.loads(match.group(1))


async def test_public_page_in_chinese(client: httpx.AsyncClient, road: Road) -> None:
    response = await client.get("/traffic", headers=as_(None))
    assert response.status_code == 200, response.text
    html = response.text
    assert "交通运行指数" in html and "严重拥堵" in html and "市民中心停车场" in html
    assert "深南—北环" in html  # the corridor
    chart = chart_of(html, "traffic-data")
    levels = {s["name"]: s["level"] for s in chart["segments"]}
    assert levels["深南大道"] == "severe" and levels["滨河大道"] == "no_data"
    assert 'href="/traffic/segments/' not in html  # staff pages are not linked for visitors


async def test_public_page_in_english_and_parking_near(
    client: httpx.AsyncClient, road: Road
) -> None:
    response = await client.get("/traffic?near=north", headers=as_(None, "en"))
    html = response.text
    assert "Traffic in" in html and "Civic Centre Car Park" in html
    assert "Shenzhen North Station" in html
    assert '<option value="north" selected>' in html
    # an unknown place falls back to the first one
    assert (await client.get("/traffic?near=../x", headers=as_(None))).status_code == 200


async def test_staff_pages(client: httpx.AsyncClient, session: AsyncSession, road: Road) -> None:
    staff = await factories.create_account(session, kind="staff")
    page = await client.get("/traffic", headers=as_(staff))
    assert page.status_code == 200, page.headers.get("location")
    assert 'href="/traffic/segments/SN-1"' in page.text
    assert 'href="/traffic/intersections/J-B"' in page.text
    segment = await client.get("/traffic/segments/SN-1", headers=as_(staff))
    assert segment.status_code == 200
    assert "SN-1-L1" in segment.text and "SN-1-C1" in segment.text
    assert chart_of(segment.text, "segment-data")["speed"] == [20.0]
    node = await client.get("/traffic/intersections/J-B", headers=as_(staff))
    assert node.status_code == 200 and 'href="/traffic/segments/XZ-1"' in node.text
    assert "信号配时方案" in node.text
    missing = await client.get("/traffic/segments/NOPE", headers=as_(staff))
    assert missing.status_code == 404
    missing_node = await client.get("/traffic/intersections/NOPE", headers=as_(staff))
    assert missing_node.status_code == 404


async def test_staff_pages_need_staff(
    client: httpx.AsyncClient, session: AsyncSession, road: Road
) -> None:
    anonymous = await client.get("/traffic/segments/SN-1", headers=as_(None))
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    citizen = await factories.create_account(session, kind="citizen")
    refused = await client.get("/traffic/segments/SN-1", headers=as_(citizen))
    assert refused.status_code == 403
