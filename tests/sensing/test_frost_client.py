"""The real frost-sta-client (Fraunhofer's Python client) against a live server: create with
deep insert, query with filter/expand/orderby/top/skip/count, update (PUT), patch
(JSON-Patch), delete, CreateObservations."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from smartcity.core.db import Database, make_engine
from smartcity.settings import Settings, configure
from tests.core.test_bus import BACKENDS, migrated_url

frost = pytest.importorskip("frost_sta_client")
# furl, under the client, warns about its own deprecated attribute.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_thread(coro: Any) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class ApiKeyAuth(frost.service.auth_handler.AuthHandler):
    """The client's auth hook, sending the platform's API key instead of basic auth."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def add_auth_header(self) -> Any:
        def add(request: Any) -> Any:
            request.headers["X-API-Key"] = self.key
            return request

        return add


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[tuple[str, str]]:
    import uvicorn

    from smartcity.app import create_app
    from smartcity.core import accounts
    from tests.core import factories

    url = migrated_url(request.param, tmp_path_factory.mktemp(request.param), "sta")

    async def seed() -> str:
        db = Database(make_engine(url))
        try:
            async with db.session_scope() as session:
                account = await factories.create_account(session, kind="system")
                _row, key = await accounts.issue_api_key(
                    session, factories.ROOT, username=account.username, name="frost"
                )
                return key
        finally:
            await db.dispose()

    key = _in_thread(seed())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings.model_copy(update={"database_url": url})),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    configure(settings)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/sta/v1.1", key
    server.should_exit = True
    thread.join(timeout=10)


def _station(name: str, x: float) -> Any:
    from frost_sta_client import (
        Datastream,
        Location,
        ObservedProperty,
        Sensor,
        Thing,
        UnitOfMeasurement,
    )
    from geojson import Point

    location = Location(
        name=f"{name} 位置",
        description="站点",
        encoding_type="application/geo+json",
        location=Point((x, 22.5)),
    )
    datastream = Datastream(
        name=f"{name} PM10",
        description="PM10 小时值",
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        unit_of_measurement=UnitOfMeasurement(
            name="microgram per cubic metre", symbol="µg/m³", definition="ucum:ug/m3"
        ),
        sensor=Sensor(
            name="TEOM",
            description="振荡天平",
            encoding_type="application/pdf",
            metadata="https://example.org/teom.pdf",
        ),
        observed_property=ObservedProperty(
            name="PM10", definition="https://example.org/pm10", description="可吸入颗粒物"
        ),
    )
    return Thing(
        name=name,
        description="空气站",
        properties={"district": "测试区"},
        locations=[location],
        datastreams=[datastream],
    )


def test_frost_client_end_to_end(live: tuple[str, str]) -> None:
    from frost_sta_client import Observation, SensorThingsService
    from frost_sta_client.model.ext.data_array_document import DataArrayDocument
    from frost_sta_client.model.ext.data_array_value import DataArrayValue

    url, key = live
    service = SensorThingsService(url, auth_handler=ApiKeyAuth(key))
    # create with deep insert
    things = [_station(f"客户端站{i}", 114 + i / 10) for i in range(3)]
    for thing in things:
        service.create(thing)
        assert isinstance(thing.id, int)
    found = service.things().find(things[0].id)
    assert found.name == "客户端站0" and found.properties == {"district": "测试区"}

    # query: filter, orderby, top, skip, count, expand
    listed = (
        service.things()
        .query()
        .filter("startswith(name, '客户端站')")
        .orderby("name", "DESC")
        .top(2)
        .count()
        .expand("Datastreams")
        .list()
    )
    assert listed.count == 3
    assert [t.name for t in listed.entities] == ["客户端站2", "客户端站1"]
    assert listed.entities[0].datastreams.entities[0].name == "客户端站2 PM10"
    assert [t.name for t in listed] == ["客户端站2", "客户端站1", "客户端站0"]  # follows nextLink
    skipped = service.things().query().orderby("name", "ASC").skip(1).top(1).list()
    assert [t.name for t in skipped.entities] == ["客户端站1"]

    # observations, single and through CreateObservations
    datastream = service.things().find(things[0].id).get_datastreams().query().list().entities[0]
    single = Observation(result=42.0, phenomenon_time="2026-01-01T00:00:00Z", datastream=datastream)
    service.create(single)
    assert isinstance(single.id, int)
    dav = DataArrayValue()
    dav.datastream = datastream
    dav.components = {DataArrayValue.Property.PHENOMENON_TIME, DataArrayValue.Property.RESULT}
    for hour, value in ((1, 43.0), (2, 44.5)):
        dav.add_observation(
            Observation(
                phenomenon_time=f"2026-01-01T0{hour}:00:00Z", result=value, datastream=datastream
            )
        )
    document = DataArrayDocument()
    document.add_data_array_value(dav)
    created = service.observations().create(document)
    assert len(created) == 2 and all("Observations(" in o.self_link for o in created)
    results = (
        service.observations()
        .query()
        .filter(f"Datastream/id eq {datastream.id}")
        .orderby("phenomenonTime", "ASC")
        .list()
    )
    assert [o.result for o in results.entities] == [42.0, 43.0, 44.5]

    # update (PUT), patch (JSON-Patch), delete
    thing = service.things().find(things[1].id)
    thing.description = "已更新"
    service.update(thing)
    assert service.things().find(things[1].id).description == "已更新"
    service.patch(thing, [{"op": "replace", "path": "/name", "value": "补丁站"}])
    assert service.things().find(things[1].id).name == "补丁站"
    service.delete(service.things().find(things[2].id))
    remaining = service.things().query().list()
    assert sorted(t.name for t in remaining) == ["客户端站0", "补丁站"]
    import requests

    with pytest.raises(requests.exceptions.HTTPError):
        service.things().find(things[2].id)
