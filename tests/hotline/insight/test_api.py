"""The insight over HTTP: the API's answers and its 422/403 problems, the pages, the CSV and
the hotline's panel on the supervision board."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from tests.hotline.factories import HANDLER, T0, people
from tests.hotline.insight.factories import LUOHU, month
from tests.hotline.test_api import auth, problem
from tests.hotline.test_pages import as_

BASE = "/api/v1/hotline/insight"
NOVEMBER = {"period": "month", "date": "2026-11-20"}


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    yield


async def test_hotspots_topics_and_kpis(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await month(session)
    a = m.who.accounts
    r = await client.get(f"{BASE}/hotspots", params=NOVEMBER, headers=auth(a["agent"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["window"] == {"period": "month", "first": "2026-11-01", "last": "2026-11-30"}
    assert body["total"] == 6 and body["places"][0] == {
        "code": LUOHU,
        "district_code": LUOHU,
        "count": 3,
    }
    assert body["categories"][0]["name_en"] == "City management"
    r = await client.get(
        f"{BASE}/kpis", params={**NOVEMBER, "by": "department"}, headers=auth(a["officer"])
    )
    rows = r.json()["rows"]
    assert [(x["key"], x["received"], x["on_time_rate"]) for x in rows] == [(HANDLER, 5, 0.75)]
    r = await client.get(
        f"{BASE}/topics",
        params={"date": "2026-11-04", "min_count": 2},
        headers=auth(a["supervisor"]),
    )
    assert r.status_code == 200
    assert "地铁站" in [t["term"] for t in r.json()["topics"]]


@pytest.mark.parametrize(
    ("path", "params", "type_"),
    [
        ("hotspots", {"period": "year"}, "/problems/invalid-input"),
        ("hotspots", {"level": "grid"}, "/problems/invalid-input"),
        ("hotspots", {"date": "2026-13-01"}, "/problems/invalid-input"),
        ("hotspots", {"first": "2025-01-01", "last": "2026-06-01"}, "/problems/insight-bad-range"),
        ("hotspots", {"first": "2026-01-01"}, "/problems/insight-bad-range"),
        ("hotspots", {"date": "1999-01-01"}, "/problems/insight-date-out-of-range"),
        ("hotspots", {"category": "99"}, "/problems/unknown-category"),
        ("hotspots", {"category": "x" * 40}, "/problems/invalid-input"),
        ("hotspots", {"depth": "4"}, "/problems/invalid-input"),
        ("topics", {"min_count": "0"}, "/problems/invalid-input"),
        ("topics", {"limit": "500"}, "/problems/invalid-input"),
        ("kpis", {"by": "grid"}, "/problems/invalid-input"),
        ("kpis", {"department": "<script>"}, "/problems/invalid-input"),
    ],
)
async def test_bad_parameters(
    client: httpx.AsyncClient,
    session: AsyncSession,
    path: str,
    params: dict[str, str],
    type_: str,
) -> None:
    who = await people(session)  # no orders needed to refuse a parameter
    r = await client.get(f"{BASE}/{path}", params=params, headers=auth(who.accounts["agent"]))
    problem(r, 422, type_)


async def test_citizens_and_strangers_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    m = await month(session)
    for path in ("hotspots", "topics", "kpis"):
        r = await client.get(f"{BASE}/{path}", headers=auth(m.who.accounts["citizen"]))
        problem(r, 403, "/problems/insight-forbidden")
        problem(await client.get(f"{BASE}/{path}"), 401, "/problems/unauthenticated")
    r = await client.get("/hotline/insight", headers=as_(m.who.accounts["citizen"]))
    assert r.status_code == 403


async def test_pages_csv_and_board(client: httpx.AsyncClient, session: AsyncSession) -> None:
    m = await month(session)
    a = m.who.accounts
    with clock.frozen(T0):
        r = await client.get(
            "/hotline/insight", params={**NOVEMBER, "level": "street"}, headers=as_(a["agent"])
        )
        assert r.status_code == 200, r.text
        assert "Rising topics" in r.text and 'id="hi-series"' in r.text
        r = await client.get(
            "/hotline/insight", params={"date": "someday"}, headers=as_(a["agent"])
        )
        assert r.status_code == 422 and 'id="date-error"' in r.text
        r = await client.get(
            "/hotline/insight/kpis", params={**NOVEMBER, "by": "street"}, headers=as_(a["agent"])
        )
        assert r.status_code == 200 and "Return rate" in r.text
        r = await client.get(
            "/hotline/insight/kpis.csv", params=NOVEMBER, headers=as_(a["officer"])
        )
        assert r.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert [(row["key"], row["received"], row["on_time_rate"]) for row in table] == [
            (HANDLER, "5", "0.7500"),
            ("total", "5", "0.7500"),
        ]
        r = await client.get(
            "/supervision",
            params={"from": "2026-11", "to": "2026-11"},
            headers=as_(a["supervisor"]),
        )
        assert r.status_code == 200, r.text
        assert "12345 hotline work orders" in r.text and 'href="/hotline/insight/kpis"' in r.text
        # A citizen is not on the board at all; the page says so before any panel is drawn.
        r = await client.get("/supervision", headers=as_(a["citizen"]))
        assert r.status_code == 403
