"""The public air quality pages: Chinese first, no JavaScript, map dots in the category
colours, a station's chart and tables, 404 for what a visitor may not see."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from tests.environment.city import NOW, City, make_city

HTML = {"Accept": "text/html"}


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
async def city(session: AsyncSession) -> City:
    return await make_city(session)


def dots(html: str) -> dict[str, str]:
    """Station link → fill colour of its circle on the map."""
    found = re.findall(
        r'<a class="dot" href="(/air/stations/\d+)"[^>]*>.*?<circle [^>]*fill="(#[0-9A-Fa-f]{6})"',
        html,
        re.S,
    )
    return dict(found)


async def test_air_page_in_chinese_with_map_and_table(
    client: httpx.AsyncClient, city: City
) -> None:
    response = await client.get("/air", headers=HTML)
    assert response.status_code == 200, response.text
    html = response.text
    assert "空气质量" in html and "<script" not in html
    assert 'id="city-aqi">80<' in html and "良" in html
    coloured = dots(html)
    assert coloured[f"/air/stations/{city.polluted.thing}"] == "#FF7E00"
    assert coloured[f"/air/stations/{city.clean.thing}"] == "#00E400"
    assert coloured[f"/air/stations/{city.silent.thing}"] == "#b1b4b6"  # no readings: grey
    assert f"/air/stations/{city.private.thing}" not in html
    assert "内部测试站" not in html
    # The legend names all six categories with their colours; the edition in force.
    for name, colour in [("优", "#00E400"), ("严重污染", "#7E0023"), ("重度污染", "#99004C")]:
        assert name in html and colour in html
    assert "HJ 633-2026" in html
    assert "西乡监测站" in html and "宝安区" in html and "细颗粒物" in html


async def test_air_page_without_any_station(client: httpx.AsyncClient) -> None:
    response = await client.get("/air", headers=HTML)
    assert response.status_code == 200
    assert "尚无监测数据" in response.text or "No readings yet" in response.text


async def test_air_page_in_english(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get("/air", headers={**HTML, "Accept-Language": "en"})
    assert response.status_code == 200
    assert "Air quality in" in response.text and "Lightly polluted" in response.text


async def test_station_page_with_chart_and_tables(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get(f"/air/stations/{city.polluted.thing}", headers=HTML)
    assert response.status_code == 200, response.text
    html = response.text
    assert "西乡监测站" in html and 'id="station-aqi">119<' in html
    assert "<script" not in html
    bars = re.findall(r'<rect class="aqi-bar" [^>]*fill="(#[0-9A-Fa-f]{6})"', html)
    assert len(bars) == 24 and set(bars) == {"#FF7E00"}  # the 24 hours up to the newest
    assert 'aria-current="page">' in html and "?view=week" in html
    # The figures per pollutant, and the hourly table next to the chart.
    assert "可吸入颗粒物" in html and "108" in html
    assert html.count('<tr><th scope="row">2026-03-05 11:00–12:00</th>') == 1
    week = await client.get(f"/air/stations/{city.polluted.thing}?view=week", headers=HTML)
    assert week.status_code == 200
    week_bars = re.findall(r'<rect class="aqi-bar" ', week.text)
    assert len(week_bars) == 36
    assert 'class="aqi-step"' in week.text  # the daily AQI of 4 March over its hours


async def test_station_without_readings(client: httpx.AsyncClient, city: City) -> None:
    response = await client.get(f"/air/stations/{city.silent.thing}", headers=HTML)
    assert response.status_code == 200
    assert "尚无监测数据" in response.text or "No readings yet" in response.text
    assert '<rect class="aqi-bar"' not in response.text


async def test_unknown_and_private_stations_are_404_pages(
    client: httpx.AsyncClient, city: City
) -> None:
    for station_id in (city.private.thing, 999999):
        response = await client.get(f"/air/stations/{station_id}", headers=HTML)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
