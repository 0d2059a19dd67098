"""The write of accepted Observations (store.write_rows): COPY on PostgreSQL, executemany on
SQLite, storing exactly what the INSERT path stores, ids in order, inside the request's
transaction and savepoints, and routed to partitions (DEFAULT for an unprepared month)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM
from smartcity.core.errors import Problem
from smartcity.sensing import models as m
from smartcity.sensing.sta import store
from smartcity.sensing.sta.ingest import ingest_observations, parse_row
from tests.sensing.factories import Sta, caller

OM_OBSERVATION = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation"
COLUMNS = [c for c in store.COPY_COLUMNS if c != "id"]


def _rows(ds: int) -> list[dict[str, Any]]:
    """One of each result kind and every optional property."""
    link = {"@iot.id": ds}
    return [
        {"Datastream": link, "phenomenonTime": "2026-01-05T08:00:00+08:00", "result": 12.5},
        {
            "Datastream": link,
            "phenomenonTime": "2026-01-05T08:00:00Z/2026-01-05T09:00:00Z",
            "resultTime": "2026-01-05T09:00:01Z",
            "validTime": "2026-01-05T09:00:00Z/2026-01-06T09:00:00Z",
            "result": 7,
            "resultQuality": {"flag": "ok"},
            "parameters": {"method": "β射线", "n": [1, 2]},
        },
        {"Datastream": link, "phenomenonTime": "2026-01-05T10:00:00Z", "result": "优"},
        {"Datastream": link, "phenomenonTime": "2026-01-05T11:00:00Z", "result": True},
        {"Datastream": link, "phenomenonTime": "2026-01-05T12:00:00Z", "result": None},
        {"Datastream": link, "phenomenonTime": "2026-01-05T13:00:00Z", "result": {"a": [1]}},
        {"Datastream": link, "phenomenonTime": "2026-01-05T14:00:00Z", "result": [1, "x"]},
    ]


async def _stream(client: httpx.AsyncClient, session: AsyncSession) -> int:
    _account, headers = await caller(session, "system")
    sta = Sta(client, headers)
    ids = await sta.thing(observation_type=OM_OBSERVATION)
    return ids["datastream"]


async def _stored(session: AsyncSession, ids: list[int]) -> list[tuple[Any, ...]]:
    obs = m.StaObservation
    found = await session.execute(
        select(obs.id, *(getattr(obs, c) for c in COLUMNS)).where(obs.id.in_(ids))
    )
    by_id = {row[0]: tuple(row[1:]) for row in found.all()}
    return [by_id[i] for i in ids]


async def _raw_json(session: AsyncSession, ids: list[int]) -> list[tuple[Any, ...]]:
    """The JSON columns as the database holds them (SQL NULL vs JSON null matters)."""
    found = await session.execute(
        text(
            "SELECT id, result_json IS NULL, result_quality IS NULL, parameters IS NULL "
            "FROM sta_observation WHERE id IN (" + ",".join(str(i) for i in ids) + ")"
        )
    )
    by_id = {row[0]: tuple(row[1:]) for row in found.all()}
    return [by_id[i] for i in ids]


async def _ingest(session: AsyncSession, ds: int) -> list[int]:
    outcomes = await ingest_observations(session, SYSTEM, [parse_row(r) for r in _rows(ds)])
    assert all(isinstance(o, int) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, int)]


async def test_batch_stores_what_the_insert_path_stores(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = await _stream(client, session)
    batched = await _ingest(session, ds)  # COPY on PostgreSQL
    monkeypatch.setattr(store, "COPY_MIN_ROWS", 10**9)
    inserted = await _ingest(session, ds)  # INSERT … RETURNING everywhere
    assert batched == sorted(batched) and len(set(batched)) == len(batched)
    assert await _stored(session, batched) == await _stored(session, inserted)
    assert await _raw_json(session, batched) == await _raw_json(session, inserted)
    # The widened stream and the events saw the same ids.
    stream = await session.get(m.StaDatastream, ds)
    assert stream is not None
    assert stream.phenomenon_time_start == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


async def test_a_refused_row_keeps_its_place_and_the_others_land(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ds = await _stream(client, session)
    rows = _rows(ds)
    rows.insert(2, {"Datastream": {"@iot.id": 987654}, "result": 1})
    outcomes = await ingest_observations(session, SYSTEM, [parse_row(r) for r in rows])
    assert isinstance(outcomes[2], Problem)
    written = [o for o in outcomes if isinstance(o, int)]
    assert len(written) == len(rows) - 1
    assert len(await _stored(session, written)) == len(written)


async def test_copy_is_undone_with_its_savepoint(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ds = await _stream(client, session)
    with pytest.raises(RuntimeError):
        async with session.begin_nested():
            await _ingest(session, ds)
            raise RuntimeError("the request fails after the write")
    count = await session.scalar(
        select(text("count(*)"))
        .select_from(m.StaObservation)
        .where(m.StaObservation.datastream_id == ds)
    )
    assert count == 0


async def test_rows_of_an_unprepared_month_land_in_the_default_partition(
    client: httpx.AsyncClient, session: AsyncSession, backend: str
) -> None:
    ds = await _stream(client, session)
    rows = [
        {"Datastream": {"@iot.id": ds}, "phenomenonTime": "2001-03-01T00:00:00Z", "result": 1},
        {"Datastream": {"@iot.id": ds}, "phenomenonTime": "2001-03-02T00:00:00Z", "result": 2},
    ]
    outcomes = await ingest_observations(session, SYSTEM, [parse_row(r) for r in rows])
    ids = [o for o in outcomes if isinstance(o, int)]
    assert len(ids) == 2
    if backend != "postgresql":
        return
    where = ",".join(str(i) for i in ids)
    partitions = await session.execute(
        text(f"SELECT DISTINCT tableoid::regclass::text FROM sta_observation WHERE id IN ({where})")
    )
    assert partitions.scalars().all() == ["sta_observation_default"]


async def test_create_observations_over_http_uses_the_batch_write(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _account, headers = await caller(session, "system")
    sta = Sta(client, headers)
    ds = (await sta.thing())["datastream"]
    body = [
        {
            "Datastream": {"@iot.id": ds},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[f"2026-01-05T0{h}:00:00Z", h] for h in range(5)],
        }
    ]
    response = await sta.post("CreateObservations", body)
    assert response.status_code == 201, response.text
    links = response.json()
    assert len(links) == 5 and "error" not in links
    got = await sta.json(f"Datastreams({ds})/Observations", **{"$orderby": "phenomenonTime"})
    assert [o["result"] for o in got["value"]] == [0, 1, 2, 3, 4]
    assert [f"Observations({o['@iot.id']})" for o in got["value"]] == [
        link[link.rindex("/") + 1 :] for link in links
    ]
