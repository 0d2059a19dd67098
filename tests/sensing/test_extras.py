"""Beyond the standard: latest Observation per Datastream, temporal aggregates, retention."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from smartcity.core import clock
from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.db import Database, make_engine
from smartcity.core.models import AuditEntry
from smartcity.sensing import jobs as retention
from smartcity.sensing import models as m
from smartcity.sensing import service as extras
from smartcity.sensing.sta import service
from smartcity.sensing.sta.entities import OM, TYPES
from tests.problems import assert_problem
from tests.sensing.factories import Sta, caller, thing_body

API = "/api/v1/sensing"
ADMIN = Principal(id=None, kind="admin", name="test admin", via="cli")


async def observe(sta: Sta, datastream: int, rows: list[tuple[str, Any]]) -> None:
    response = await sta.post(
        "CreateObservations",
        [
            {
                "Datastream": {"@iot.id": datastream},
                "components": ["phenomenonTime", "result"],
                "dataArray": [list(r) for r in rows],
            }
        ],
    )
    assert response.status_code == 201, response.text
    assert "error" not in response.json(), response.text


# --- latest -----------------------------------------------------------------------------------


async def test_latest_of_several_datastreams_in_one_call(
    sta: Sta, client: httpx.AsyncClient
) -> None:
    a = await sta.thing("空气站 福田")
    b = await sta.thing("空气站 南山")
    empty = await sta.thing("空气站 罗湖")
    await observe(
        sta,
        a["datastream"],
        [
            ("2026-03-01T10:00:00Z", 30.0),
            ("2026-03-01T12:00:00Z", 35.5),  # the latest, though not written last
            ("2026-03-01T11:00:00Z", 31.0),
        ],
    )
    await observe(sta, b["datastream"], [("2026-03-01T09:00:00Z/2026-03-01T10:00:00Z", 12)])
    ids = f"{a['datastream']},{b['datastream']},{empty['datastream']}"
    response = await client.get(f"{API}/latest", params={"datastream": ids})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_after"] is None
    by_id = {item["datastream_id"]: item for item in body["value"]}
    assert list(by_id) == sorted(by_id)
    first = by_id[a["datastream"]]["observation"]
    assert first["phenomenon_time"] == "2026-03-01T12:00:00Z"
    assert first["result"] == 35.5 and first["result_time"] is None
    assert first["self_link"].endswith(f"/sta/v1.1/Observations({first['id']})")
    shown = await sta.json(f"Observations({first['id']})")
    assert shown["result"] == 35.5
    second = by_id[b["datastream"]]["observation"]
    assert second["phenomenon_time"] == "2026-03-01T09:00:00Z/2026-03-01T10:00:00Z"
    assert second["result"] == 12
    assert by_id[empty["datastream"]]["observation"] is None
    assert by_id[empty["datastream"]]["datastream_self_link"].endswith(
        f"/Datastreams({empty['datastream']})"
    )

    by_thing = (await client.get(f"{API}/latest", params={"thing": str(b["thing"])})).json()
    assert [i["datastream_id"] for i in by_thing["value"]] == [b["datastream"]]
    # The stations share one ObservedProperty name but each deep insert made its own.
    by_property = (
        await client.get(f"{API}/latest", params={"observed_property": a["observed_property"]})
    ).json()
    assert [i["datastream_id"] for i in by_property["value"]] == [a["datastream"]]

    # Without a filter: every readable datastream, paged by id.
    page = (await client.get(f"{API}/latest", params={"limit": 2})).json()
    assert len(page["value"]) == 2 and page["next_after"] == page["value"][1]["datastream_id"]
    rest = (
        await client.get(f"{API}/latest", params={"limit": 1000, "after": page["next_after"]})
    ).json()
    seen = [i["datastream_id"] for i in page["value"] + rest["value"]]
    assert len(seen) == len(set(seen)) and {a["datastream"], empty["datastream"]} <= set(seen)


@pytest.mark.parametrize(
    "params",
    [
        {"datastream": "1,x"},
        {"thing": "-1"},
        {"observed_property": "1;2"},
        {"limit": "0"},
        {"limit": "1001"},
        {"after": "-5"},
        {"datastream": ",".join(str(i) for i in range(1, 1100))},
    ],
)
async def test_latest_bad_input_is_422(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get(f"{API}/latest", params=params)
    assert_problem(response, 422, "invalid-input")
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_latest_query_uses_the_stream_time_index(session: AsyncSession, backend: str) -> None:
    stmt = extras.latest_statement(None, backend, datastreams=[1, 2, 3])
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    if backend == "sqlite":
        plan = " ".join(
            str(row[-1])
            for row in (await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
        )
        assert "ix_sta_observation_stream_time" in plan, plan
    else:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(
            str(row[0]) for row in (await session.execute(text(f"EXPLAIN {compiled}"))).all()
        )
        # Month partitions carry their own copy of the index, named after its columns.
        assert "Index Scan Backward using sta_observation" in plan, plan
        assert "datastream_id_phenomenon_time" in plan and "Seq Scan" not in plan, plan


# --- aggregates -------------------------------------------------------------------------------


async def _mixed_stream(sta: Sta) -> int:
    """A Datastream of OM_Observation (any result) with numbers and a few non-numbers."""
    ids = await sta.thing("水表 1", observation_type=OM + "OM_Observation")
    await observe(
        sta,
        ids["datastream"],
        [
            # 2026-03-01 around Asia/Shanghai midnight (16:00 UTC)
            ("2026-03-01T15:58:10Z", 1.0),
            ("2026-03-01T15:58:50Z", 3.0),
            ("2026-03-01T15:59:30Z", 5),
            ("2026-03-01T15:59:40Z", "offline"),  # skipped
            ("2026-03-01T16:00:00Z", 10.0),
            ("2026-03-01T16:04:59.900Z", 20.0),
            ("2026-03-01T16:05:00Z", 40.0),
            ("2026-03-01T17:30:00Z", 100.0),
            ("2026-03-01T17:31:00Z", True),  # skipped
        ],
    )
    return ids["datastream"]


async def aggregate(client: httpx.AsyncClient, ds: int, **params: str) -> httpx.Response:
    return await client.get(f"{API}/datastreams/{ds}/aggregates", params=params)


async def test_aggregates_per_interval(sta: Sta, client: httpx.AsyncClient) -> None:
    ds = await _mixed_stream(sta)
    span = {"from": "2026-03-01T15:00:00Z", "to": "2026-03-01T18:00:00Z"}
    functions = "avg,min,max,count,sum"

    minute = (await aggregate(client, ds, interval="1min", functions=functions, **span)).json()
    assert minute["skipped"] == 2
    assert [(b["start"], b["values"]) for b in minute["buckets"]] == [
        ("2026-03-01T15:58:00Z", {"avg": 2.0, "min": 1.0, "max": 3.0, "count": 2, "sum": 4.0}),
        ("2026-03-01T15:59:00Z", {"avg": 5.0, "min": 5.0, "max": 5.0, "count": 1, "sum": 5.0}),
        ("2026-03-01T16:00:00Z", {"avg": 10.0, "min": 10.0, "max": 10.0, "count": 1, "sum": 10.0}),
        ("2026-03-01T16:04:00Z", {"avg": 20.0, "min": 20.0, "max": 20.0, "count": 1, "sum": 20.0}),
        ("2026-03-01T16:05:00Z", {"avg": 40.0, "min": 40.0, "max": 40.0, "count": 1, "sum": 40.0}),
        (
            "2026-03-01T17:30:00Z",
            {"avg": 100.0, "min": 100.0, "max": 100.0, "count": 1, "sum": 100.0},
        ),
    ]
    assert minute["buckets"][0]["end"] == "2026-03-01T15:59:00Z"

    five = (await aggregate(client, ds, interval="5min", functions="count,sum", **span)).json()
    assert [(b["start"], b["values"]) for b in five["buckets"]] == [
        ("2026-03-01T15:55:00Z", {"count": 3, "sum": 9.0}),
        ("2026-03-01T16:00:00Z", {"count": 2, "sum": 30.0}),
        ("2026-03-01T16:05:00Z", {"count": 1, "sum": 40.0}),
        ("2026-03-01T17:30:00Z", {"count": 1, "sum": 100.0}),
    ]

    hour = (await aggregate(client, ds, interval="1h", functions="avg,count", **span)).json()
    assert [(b["start"], b["values"]) for b in hour["buckets"]] == [
        ("2026-03-01T15:00:00Z", {"avg": 3.0, "count": 3}),
        ("2026-03-01T16:00:00Z", {"avg": 70.0 / 3, "count": 3}),
        ("2026-03-01T17:00:00Z", {"avg": 100.0, "count": 1}),
    ]

    # Days start at Asia/Shanghai midnight: 15:59 UTC is 23:59 on 1 March in the city,
    # 16:00 UTC is 00:00 on 2 March.
    day = (
        await aggregate(
            client,
            ds,
            interval="1d",
            functions="count,min,max",
            **{"from": "2026-03-01T00:00:00+08:00", "to": "2026-03-03T00:00:00+08:00"},
        )
    ).json()
    assert [(b["start"], b["end"], b["values"]) for b in day["buckets"]] == [
        ("2026-02-28T16:00:00Z", "2026-03-01T16:00:00Z", {"count": 3, "min": 1.0, "max": 5.0}),
        ("2026-03-01T16:00:00Z", "2026-03-02T16:00:00Z", {"count": 4, "min": 10.0, "max": 100.0}),
    ]
    assert day["skipped"] == 2 and day["interval"] == "1d"

    # The range is half-open [from, to) and the default functions are avg,min,max,count.
    narrow = (
        await aggregate(
            client,
            ds,
            interval="1h",
            **{"from": "2026-03-01T16:00:00Z", "to": "2026-03-01T16:05:00Z"},
        )
    ).json()
    assert narrow["functions"] == ["avg", "min", "max", "count"]
    assert narrow["buckets"] == [
        {
            "start": "2026-03-01T16:00:00Z",
            "end": "2026-03-01T17:00:00Z",
            "values": {"avg": 15.0, "min": 10.0, "max": 20.0, "count": 2},
        }
    ]
    empty = (
        await aggregate(
            client,
            ds,
            interval="1h",
            **{"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
        )
    ).json()
    assert empty["buckets"] == [] and empty["skipped"] == 0


async def test_aggregates_default_range_is_the_last_day(
    sta: Sta, client: httpx.AsyncClient
) -> None:
    ds = await _mixed_stream(sta)
    with clock.frozen(datetime(2026, 3, 2, 12, tzinfo=UTC)):
        body = (await aggregate(client, ds, interval="1d", functions="count")).json()
    assert body["start"] == "2026-03-01T12:00:00Z" and body["end"] == "2026-03-02T12:00:00Z"
    assert [b["values"]["count"] for b in body["buckets"]] == [3, 4]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval": "2min"}, "interval"),
        ({"interval": "1h", "functions": "avg,median"}, "functions"),
        ({"interval": "1h", "functions": ""}, "functions"),
        ({"interval": "1h", "from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"interval": "1h", "from": "2026-03-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"interval": "1h", "from": "yesterday", "to": "2026-03-01T00:00:00Z"}, "from"),
        ({"interval": "1h", "from": "2026-03-01T00:00:00Z", "to": "2026-13-01"}, "to"),
        (
            {"interval": "1min", "from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"},
            "interval",
        ),
        ({"interval": "1h", "from": "1960-01-01T00:00:00Z", "to": "1960-01-02T00:00:00Z"}, "from"),
    ],
)
async def test_aggregates_bad_input_is_422(
    sta: Sta, client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    ds = await _mixed_stream(sta)
    response = await aggregate(client, ds, **params)
    assert_problem(response, 422, "invalid-input")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field


async def test_aggregates_of_a_non_numeric_or_unknown_datastream(
    sta: Sta, client: httpx.AsyncClient
) -> None:
    truth = await sta.thing("门磁", observation_type=OM + "OM_TruthObservation")
    response = await aggregate(client, truth["datastream"], interval="1h")
    assert_problem(response, 422, "invalid-input")
    assert response.json()["field"] == "datastream"
    assert_problem(await aggregate(client, 987654, interval="1h"), 404, "not-found")
    assert_problem(await client.get(f"{API}/datastreams/x/aggregates"), 422, "invalid-input")


async def test_aggregates_query_uses_the_stream_time_index(
    sta: Sta, session: AsyncSession, backend: str
) -> None:
    ds = await _mixed_stream(sta)
    obs = m.StaObservation
    stmt = select(func.count()).where(
        obs.datastream_id == ds,
        obs.phenomenon_time_start >= datetime(2026, 3, 1, tzinfo=UTC),
        obs.phenomenon_time_start < datetime(2026, 3, 2, tzinfo=UTC),
    )
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    if backend == "sqlite":
        rows = (await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
        assert "ix_sta_observation_stream_time" in " ".join(str(r[-1]) for r in rows)
    else:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(str(r[0]) for r in (await session.execute(text(f"EXPLAIN {compiled}"))))
        assert "datastream_id_phenomenon_time" in plan and "Seq Scan" not in plan, plan


# --- retention --------------------------------------------------------------------------------


async def test_set_retention_is_staff_only_and_audited(
    sta: Sta, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    ids = await sta.thing()
    url = f"{API}/datastreams/{ids['datastream']}/retention"
    _staff, staff = await caller(session, "staff")
    _device, device = await caller(session, "device")
    assert_problem(await client.put(url, json={"days": 30}), 401, "unauthenticated")
    assert_problem(await client.put(url, json={"days": 30}, headers=device), 403, "forbidden")
    for bad in ({"days": 0}, {"days": -1}, {"days": 100_000}, {"days": "x"}, {}):
        response = await client.put(url, json=bad, headers=staff)
        assert_problem(response, 422, "invalid-input")
    response = await client.put(url, json={"days": 30}, headers=staff)
    assert response.status_code == 200 and response.json() == {
        "datastream_id": ids["datastream"],
        "days": 30,
    }
    stream = await session.get(m.StaDatastream, ids["datastream"])
    assert stream is not None
    await session.refresh(stream)
    assert stream.retention_days == 30
    assert (await client.put(url, json={"days": None}, headers=staff)).json()["days"] is None
    missing = await client.put(
        f"{API}/datastreams/987654/retention", json={"days": 1}, headers=staff
    )
    assert_problem(missing, 404, "not-found")
    audited = (
        await session.execute(
            select(AuditEntry.action).where(
                AuditEntry.target == f"Datastreams({ids['datastream']})",
                AuditEntry.action == "sensing.datastream.set_retention",
            )
        )
    ).scalars()
    assert len(list(audited)) == 2


async def test_retention_job_deletes_only_old_rows_in_bounded_batches(
    sta: Sta, session: AsyncSession
) -> None:
    kept = await sta.thing("保留站")
    pruned = await sta.thing("清理站")
    times = [
        ("2026-01-01T00:00:00Z", 1.0),
        ("2026-01-20T00:00:00Z", 2.0),
        ("2026-02-01T00:00:00Z", 3.0),
        ("2026-02-09T23:59:00Z", 4.0),  # 30 days and one minute before the clock: goes
        ("2026-02-10T00:01:00Z", 5.0),  # 29 days 23:59 before it: stays
        ("2026-03-01T00:00:00Z", 6.0),
    ]
    await observe(sta, kept["datastream"], times)
    await observe(sta, pruned["datastream"], times)
    await retention.set_retention(session, ADMIN, pruned["datastream"], 30)
    obs = m.StaObservation

    async def count(ds: int) -> int:
        return int(await session.scalar(select(func.count()).where(obs.datastream_id == ds)) or 0)

    with clock.frozen(datetime(2026, 3, 12, 0, 0, tzinfo=UTC)):
        plan = await retention.apply_retention(session, SYSTEM, dry_run=True)
        assert [(i.stream_id, i.count) for i in plan] == [(pruned["datastream"], 4)]
        assert await count(pruned["datastream"]) == 6
        # Bounded work: at most 3 rows this run, in batches of 2.
        first = await retention.apply_retention(session, SYSTEM, batch_size=2, run_limit=3)
        assert [(i.stream_id, i.count) for i in first] == [(pruned["datastream"], 3)]
        assert await count(pruned["datastream"]) == 3
        await retention.retention_job(session)
    assert await count(pruned["datastream"]) == 2
    assert await count(kept["datastream"]) == 6
    left = (
        await session.execute(
            select(obs.result_number)
            .where(obs.datastream_id == pruned["datastream"])
            .order_by(obs.phenomenon_time_start)
        )
    ).scalars()
    assert list(left) == [5.0, 6.0]
    # The stream's phenomenonTime shrank with its rows.
    stream = await session.get(m.StaDatastream, pruned["datastream"])
    assert stream is not None
    await session.refresh(stream)
    assert stream.phenomenon_time_start == datetime(2026, 2, 10, 0, 1, tzinfo=UTC)
    entries = (
        await session.execute(
            select(AuditEntry).where(AuditEntry.action == "sensing.retention.delete")
        )
    ).scalars()
    assert sorted(e.detail["deleted"] for e in entries) == [1, 3]


def smartcity(*args: str) -> Any:
    from smartcity.cli import app

    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


async def _seed_retention(url: str) -> tuple[int, int]:
    """Two stations with 3 observations each, one old: the first keeps 30 days."""
    db = Database(make_engine(url))
    now = datetime.now(UTC)
    rows = [
        {"phenomenonTime": (now - timedelta(days=d)).isoformat(), "result": float(d)}
        for d in (40, 31, 1)
    ]
    try:
        async with db.session_scope() as session:
            streams = []
            for name in ("一号站", "二号站"):
                thing = await service.create_entity(
                    session, SYSTEM, TYPES["Thing"], thing_body(name, observations=rows)
                )
                stream = (
                    await session.execute(
                        select(m.StaDatastream).where(m.StaDatastream.thing_id == thing.id)
                    )
                ).scalar_one()
                streams.append(stream)
            streams[0].retention_days = 30
            return streams[0].id, streams[1].id
    finally:
        await db.dispose()


def test_retention_cli_dry_run_then_delete(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sensing.db'}"
    assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        first, _second = pool.submit(asyncio.run, _seed_retention(url)).result()
    dry = smartcity("sensing", "retention", "--dry-run", "--database-url", url)
    assert dry.exit_code == 0, dry.output
    assert f"Datastreams({first})" in dry.output and "would delete 2" in dry.output
    assert "would delete 2 observations in all" in dry.output
    again = smartcity("sensing", "retention", "--dry-run", "--database-url", url)
    assert "would delete 2 observations in all" in again.output  # nothing was deleted
    done = smartcity("sensing", "retention", "--database-url", url)
    assert done.exit_code == 0 and "deleted 2 observations in all" in done.output, done.output
    after = smartcity("sensing", "retention", "--dry-run", "--database-url", url)
    assert "would delete 0 observations in all" in after.output
