"""The real PyPI Open311 clients against a live server of the app: ``three`` posts (form and
multipart ``media``) and reads with its quirks (``page_size``, US dates), ``georeport`` reads in
JSON and XML; between them the order is handled through the hotline, called back, re-handled
once and closed, and the clients see each step."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.db import Database, make_engine
from smartcity.settings import Settings, configure
from tests.cases.factories import department
from tests.core.test_bus import BACKENDS, migrated_url
from tests.hotline.factories import CENTRE, HANDLER, People, people
from tests.hotline.open311_support import (
    REQUEST_FIELDS,
    client_key,
    handle_with_one_rework,
    order_by_number,
    png,
)

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Live:
    url: str
    key: str
    who: People
    run: Callable[[Callable[[AsyncSession], Coroutine[Any, Any, Any]]], Any]


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[Live]:
    import uvicorn

    from smartcity.app import create_app, modules
    from smartcity.core.module import install

    url = migrated_url(request.param, tmp_path_factory.mktemp(request.param), "open311")
    configure(settings)
    install(modules())

    def run(work: Callable[[AsyncSession], Coroutine[Any, Any, T]]) -> T:
        """Work in a committed transaction of the live server's database, on its own loop."""

        async def go() -> T:
            db = Database(make_engine(url))
            try:
                async with db.session_scope() as session:
                    return await work(session)
            finally:
                await db.dispose()

        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, go()).result()

    async def seed(session: AsyncSession) -> tuple[People, str]:
        who = await people(session)
        await department(session, HANDLER)
        return who, await client_key(session)

    who, key = run(seed)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings.model_copy(update={"database_url": url})),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield Live(f"http://127.0.0.1:{port}/open311/v2", key, who, run)
    server.should_exit = True
    thread.join(timeout=10)


def three_client(live: Live, fmt: str = "json") -> Any:
    """three 0.8.0 as published: a Python 2 package that imports ``itertools.ifilter``."""
    if not hasattr(itertools, "ifilter"):
        itertools.ifilter = filter  # type: ignore[attr-defined]
    from three import Three

    return Three(live.url, api_key=live.key, format=fmt)


def test_three_posts_and_follows_the_whole_lifecycle(live: Live, tmp_path: Path) -> None:
    three = three_client(live)
    assert three.discovery()["endpoints"][0]["url"] == live.url
    services = three.services()
    assert "01.01.01" in {s["service_code"] for s in services}
    assert three.services("01.01.01")["attributes"][0]["code"] == "kind"

    photo = tmp_path / "stall.png"
    photo.write_bytes(png(1500))
    with photo.open("rb") as media:
        posted = three.post(
            "01.01.01",
            address="罗湖区东门中路1号",
            name="Wei Zhang",
            phone="13800138000",
            description="东门中路人行道上每晚有流动摊贩占道经营。",
            lat="22.55",
            long="114.12",
            media=media,
        )
    assert three.post_response.status_code == 201, posted
    number = posted[0]["service_request_id"]
    assert posted[0]["token"]
    order = live.run(lambda s: order_by_number(s, number))
    assert (order.channel, order.state, order.department_code) == ("open311", "accepted", CENTRE)
    assert (order.caller_name, order.anonymous) == ("Wei Zhang", False)
    # A plain form-encoded post (no media).
    plain = three.post("01.03.01", address="福田区深南大道", description="路灯不亮。")
    assert three.post_response.status_code == 201, plain

    (read,) = three.request(number)
    assert list(read) == list(REQUEST_FIELDS)
    assert (read["status"], read["service_code"]) == ("open", "01.01.01")
    assert three._request.status_code == 200
    photo_back = three.session.get(read["media_url"])
    assert photo_back.content == photo.read_bytes()
    assert three.token(posted[0]["token"]) == [
        {"service_request_id": number, "token": posted[0]["token"]}
    ]

    live.run(lambda s: handle_with_one_rework(s, live.who, number))

    (closed,) = three.request(number)
    assert closed["status"] == "closed"
    assert "已设置固定岗，每晚巡查。" in closed["status_notes"]
    # three's quirks: count becomes page_size, dates go as month-day-year and come back as Z.
    today = date.today()
    window = (
        (today - timedelta(days=1)).strftime("%m-%d-%Y"),
        (today + timedelta(days=1)).strftime("%m-%d-%Y"),
    )
    assert len(three.requests(count=1)) == 1
    listed = three.requests("01.01.01", between=window)
    assert [r["service_request_id"] for r in listed] == [number]
    assert three.requests(status="closed", between=window)[0]["service_request_id"] == number
    updates = three.get("servicerequestupdates")
    steps = [u for u in updates if u["service_request_id"] == number]
    assert [u["status"] for u in steps] == ["open"] * 6 + ["closed"]
    assert "已安排执法队员清理。" in steps[3]["description"]

    # Bad input reaches three as the standard's error list.
    refused = three.post("01.01.01", address="x", description="y", api_key="sck_nope")
    assert three.post_response.status_code == 403
    assert refused[0]["code"] == 403
    unknown = three.post("99.99.99", address="x", description="y")
    assert (three.post_response.status_code, unknown[0]["code"]) == (400, 400)
    nowhere = three.post("01.01.01", description="y")
    assert three.post_response.status_code == 400
    assert nowhere[0]["type"] == "/problems/open311-location-required"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads(live: Live, fmt: str) -> None:
    from georeport import GeoReport

    three = three_client(live)
    number = three.post("01.02.01", address="南山区深圳湾公园", description="大树倒在步道上。")[0][
        "service_request_id"
    ]
    client = GeoReport(live.url, output_format=fmt)
    services = client.get_service_list()
    assert "01.02.01" in {s["service_code"] for s in services}
    definition = client.get_service_definition("01.02.01")
    assert definition["service_code"] == "01.02.01"
    one = client.get_service_request(number)
    assert (one["service_request_id"], one["status"]) == (number, "open")
    found = client.get_service_requests(service_request_id=number)
    records = found if isinstance(found, list) else [found]
    assert [r["service_request_id"] for r in records] == [number]
    still_open = client.get_service_requests(status="open", service_code="01.02.01")
    open_list = still_open if isinstance(still_open, list) else [still_open]
    assert number in {r["service_request_id"] for r in open_list}
    import requests

    with pytest.raises(requests.HTTPError):
        client.get_service_definition("99.99.99")
