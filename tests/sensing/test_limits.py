"""What one SensorThings request may cost and what it may say: nested $expand bounded in
depth and in entities, times bounded to a sane range and printed with four-digit years,
ids never handed out twice, and no nextLink on a $top=0 page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.sensing.sta.times import format_datetime
from smartcity.settings import Settings, configure

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now() -> Iterator[None]:
    with clock.frozen(NOW):
        yield


@pytest.fixture
def limits(settings: Settings) -> Iterator[Settings]:
    """Small limits, so a costly query is cheap to make in a test."""
    small = configure(
        settings.model_copy(update={"sta_max_expand_depth": 3, "sta_max_response_entities": 6})
    )
    yield small
    configure(settings)


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


class TestExpandLimits:
    async def test_deeper_than_the_limit_is_a_400_naming_it(self, sta: Any) -> None:
        await sta.thing()
        chain = "/".join(["Datastreams", "Thing"] * 25)
        response = await sta.get("Things", **{"$top": "1", "$expand": chain})
        body = _problem(response, 400, "query-too-costly")
        assert body["limit"] == "sta_max_expand_depth"
        assert body["max_expand_depth"] == 4
        assert "50 levels" in body["detail"]

    async def test_nested_options_count_too(self, sta: Any, limits: Settings) -> None:
        await sta.thing()
        expand = "Datastreams($expand=Thing($expand=Datastreams($expand=Thing)))"
        body = _problem(await sta.get("Things", **{"$expand": expand}), 400, "query-too-costly")
        assert body["max_expand_depth"] == 3

    async def test_at_the_limit_is_answered(self, sta: Any, limits: Settings) -> None:
        ids = await sta.thing()
        body = await sta.json(
            f"Things({ids['thing']})", **{"$expand": "Datastreams/Thing/Locations"}
        )
        thing = body["Datastreams"][0]["Thing"]
        assert thing["@iot.id"] == ids["thing"]
        assert thing["Locations"][0]["@iot.id"] == ids["location"]

    async def test_more_entities_than_a_response_holds_is_a_400(
        self, sta: Any, limits: Settings
    ) -> None:
        for n in range(4):
            await sta.thing(f"站 {n}")
        # 4 Things, each with its Datastream and that one's Sensor: 12 entities > 6.
        response = await sta.get("Things", **{"$expand": "Datastreams/Sensor"})
        body = _problem(response, 400, "query-too-costly")
        assert body["limit"] == "sta_max_response_entities"
        assert body["max_response_entities"] == 6
        # Within the budget it is answered: 2 Things × 3 entities.
        within = await sta.json("Things", **{"$top": "2", "$expand": "Datastreams/Sensor"})
        assert len(within["value"]) == 2

    async def test_a_query_without_expand_is_bounded_by_top_alone(
        self, sta: Any, limits: Settings
    ) -> None:
        for n in range(3):
            await sta.thing(f"站 {n}")
        body = await sta.json("Things", **{"$top": "6"})
        assert len(body["value"]) == 3


class TestTopZero:
    async def test_count_without_a_next_link(self, sta: Any) -> None:
        await sta.thing("一")
        await sta.thing("二")
        body = await sta.json("Things", **{"$top": "0", "$count": "true"})
        assert body == {"@iot.count": 2, "value": []}

    async def test_a_full_page_still_links_to_the_next(self, sta: Any) -> None:
        await sta.thing("一")
        await sta.thing("二")
        body = await sta.json("Things", **{"$top": "1"})
        assert "$skip=1" in body["@iot.nextLink"]

    async def test_inside_expand(self, sta: Any) -> None:
        ids = await sta.thing()
        body = await sta.json(
            f"Things({ids['thing']})", **{"$expand": "Datastreams($top=0;$count=true)"}
        )
        assert body["Datastreams"] == [] and body["Datastreams@iot.count"] == 1
        assert "Datastreams@iot.nextLink" not in body


class TestTimeRange:
    async def _observe(self, sta: Any, datastream: int, **fields: Any) -> httpx.Response:
        response: httpx.Response = await sta.post(
            "Observations", {"result": 1.5, "Datastream": {"@iot.id": datastream}, **fields}
        )
        return response

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("phenomenonTime", "0001-01-01T00:00:00Z"),
            ("phenomenonTime", "0999-12-31T00:00:00Z"),
            ("phenomenonTime", "1969-12-31T23:59:59Z"),
            ("phenomenonTime", "2026-12-09T08:00:01Z"),  # 48 h ahead, tolerance 24 h
            ("phenomenonTime", "1960-01-01T00:00:00Z/2026-01-01T00:00:00Z"),
            ("phenomenonTime", "2026-01-01T00:00:00Z/9999-01-01T00:00:00Z"),
            ("resultTime", "0001-01-01T00:00:00Z"),
            ("resultTime", "2030-01-01T00:00:00Z"),
            ("validTime", "0001-01-01T00:00:00Z/2026-01-01T00:00:00Z"),
        ],
    )
    async def test_out_of_range_is_refused(self, sta: Any, name: str, value: str) -> None:
        ids = await sta.thing()
        extra = {} if name == "phenomenonTime" else {"phenomenonTime": "2026-12-01T00:00:00Z"}
        response = await self._observe(sta, ids["datastream"], **extra, **{name: value})
        body = _problem(response, 400, "bad-request")
        assert name in body["detail"] or "years" in body["detail"]

    async def test_five_digit_years_are_refused(self, sta: Any) -> None:
        ids = await sta.thing()
        response = await self._observe(
            sta, ids["datastream"], phenomenonTime="10000-01-01T00:00:00Z"
        )
        _problem(response, 400, "bad-request")

    async def test_the_edges_are_accepted(self, sta: Any) -> None:
        ids = await sta.thing()
        response = await self._observe(
            sta,
            ids["datastream"],
            phenomenonTime="1970-01-01T00:00:00Z",
            resultTime="2026-12-08T08:00:00Z",
            # A validity may run far ahead: it is not a measurement's time.
            validTime="2026-01-01T00:00:00Z/2099-01-01T00:00:00Z",
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["phenomenonTime"] == "1970-01-01T00:00:00Z"
        assert body["validTime"] == "2026-01-01T00:00:00Z/2099-01-01T00:00:00Z"

    async def test_a_patch_is_bounded_too(self, sta: Any) -> None:
        ids = await sta.thing()
        created = await self._observe(sta, ids["datastream"], phenomenonTime="2026-12-01T00:00:00Z")
        assert created.status_code == 201, created.text
        url = f"Observations({created.json()['@iot.id']})"
        response = await sta.patch(url, {"phenomenonTime": "0001-01-01T00:00:00Z"})
        _problem(response, 400, "bad-request")

    async def test_create_observations_refuses_the_row(self, sta: Any) -> None:
        ids = await sta.thing()
        response = await sta.post(
            "CreateObservations",
            [
                {
                    "Datastream": {"@iot.id": ids["datastream"]},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [["0001-01-01T00:00:00Z", 1], ["2026-12-01T00:00:00Z", 2]],
                }
            ],
        )
        assert response.status_code == 201, response.text
        first, second = response.json()
        assert first == "error" and "Observations(" in second

    async def test_a_filter_literal_of_year_1_is_refused(self, sta: Any) -> None:
        year_1 = "phenomenonTime gt 0001-01-01T00:00:00Z"
        response = await sta.get("Observations", **{"$filter": year_1})
        _problem(response, 400, "bad-request")

    async def test_aggregate_times_are_bounded(self, client: httpx.AsyncClient, sta: Any) -> None:
        ids = await sta.thing()
        response = await client.get(
            f"/api/v1/sensing/datastreams/{ids['datastream']}/aggregates",
            params={"from": "0001-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        )
        assert 400 <= response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/problem+json")

    def test_years_always_have_four_digits(self) -> None:
        assert format_datetime(datetime(1000, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
            "1000-01-02T03:04:05Z"
        )
        assert format_datetime(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
        assert format_datetime(datetime(2026, 1, 1, 0, 0, 0, 120000, tzinfo=UTC)) == (
            "2026-01-01T00:00:00.12Z"
        )


class TestIdsAreNeverReused:
    @pytest.mark.parametrize("entity_set", ["Things", "Sensors", "ObservedProperties"])
    async def test_create_delete_create(self, sta: Any, entity_set: str) -> None:
        bodies = {
            "Things": {"name": "t", "description": "d"},
            "Sensors": {
                "name": "s",
                "description": "d",
                "encodingType": "text/plain",
                "metadata": "m",
            },
            "ObservedProperties": {"name": "p", "definition": "urn:p", "description": "d"},
        }
        first = await sta.create(entity_set, bodies[entity_set])
        response = await sta.delete(f"{entity_set}({first})")
        assert response.status_code == 200, response.text
        second = await sta.create(entity_set, bodies[entity_set])
        assert second > first

    async def test_observations_too(self, sta: Any) -> None:
        ids = await sta.thing()
        body = {"result": 1, "phenomenonTime": "2026-12-01T00:00:00Z"}
        first = await sta.create(f"Datastreams({ids['datastream']})/Observations", body)
        assert (await sta.delete(f"Observations({first})")).status_code == 200
        second = await sta.create(f"Datastreams({ids['datastream']})/Observations", body)
        assert second > first

    async def test_the_sqlite_tables_keep_a_high_water_mark(
        self, session: AsyncSession, backend: str
    ) -> None:
        if backend != "sqlite":
            pytest.skip("PostgreSQL ids come from sequences, which never go back")
        tables = [
            "sta_thing",
            "sta_location",
            "sta_historical_location",
            "sta_sensor",
            "sta_observed_property",
            "sta_datastream",
            "sta_multi_datastream",
            "sta_feature_of_interest",
            "sta_observation",
        ]
        for table in tables:
            sql = await session.scalar(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                {"t": table},
            )
            assert sql is not None and "AUTOINCREMENT" in sql.upper(), table


def test_the_migration_keeps_the_things_and_their_streams(tmp_path: Any) -> None:
    """0010 adds AUTOINCREMENT to sta_thing in place: nothing is deleted by cascade, and the
    next id is above every id there was."""
    import sqlite3

    from smartcity.core import migrate

    path = tmp_path / "old.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}", "0009")
    db = sqlite3.connect(path, isolation_level=None)
    _as_the_old_0007_left_it(db)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("INSERT INTO sta_thing (id, name, description, public) VALUES (300, 'a', 'b', 1)")
    db.execute("INSERT INTO sta_thing (id, name, description, public) VALUES (301, 'c', 'd', 1)")
    db.execute(
        "INSERT INTO sta_location (id, name, description, encoding_type, location) "
        "VALUES (7, 'l', 'd', 'application/geo+json', '{}')"
    )
    db.execute("INSERT INTO sta_thing_location (thing_id, location_id) VALUES (300, 7)")
    db.execute(
        "INSERT INTO sta_sensor (id, name, description, encoding_type, metadata) "
        "VALUES (5, 's', 'd', 'text/plain', 'm')"
    )
    db.execute(
        "INSERT INTO sta_observed_property (id, name, definition, description) "
        "VALUES (6, 'p', 'urn:p', 'd')"
    )
    db.execute(
        "INSERT INTO sta_datastream (id, name, description, observation_type, "
        "unit_of_measurement, thing_id, sensor_id, observed_property_id) "
        "VALUES (9, 'ds', 'd', 'om', '{}', 300, 5, 6)"
    )
    db.close()
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    assert db.execute("SELECT count(*) FROM sta_thing_location").fetchone() == (1,)
    assert db.execute("SELECT id, computed FROM sta_datastream").fetchall() == [(9, 0)]
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.execute("DELETE FROM sta_thing WHERE id = 301")
    db.execute("INSERT INTO sta_thing (name, description, public) VALUES ('e', 'f', 1)")
    assert db.execute("SELECT max(id) FROM sta_thing").fetchone() == (302,)
    db.close()


def _as_the_old_0007_left_it(db: Any) -> None:
    """sta_thing without AUTOINCREMENT, as databases migrated before 0007 was fixed have it."""
    # Word for word what the old 0007 wrote; the columns in the order they are stored.
    old = (
        'CREATE TABLE "sta_thing" (\n\tid INTEGER NOT NULL, \n\tname VARCHAR(255) NOT NULL, '
        "\n\tdescription TEXT NOT NULL, \n\tproperties JSON, \n\towner_account_id CHAR(32), "
        "\n\tpublic BOOLEAN DEFAULT 1 NOT NULL, \n\tPRIMARY KEY (id), \n\tCONSTRAINT "
        "fk_sta_thing_owner_account_id_account FOREIGN KEY(owner_account_id) REFERENCES "
        "account (id) ON DELETE SET NULL\n)"
    )
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema = ON")
    db.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'sta_thing'", (old,))
    db.execute(f"PRAGMA schema_version = {version + 1}")
    db.execute("PRAGMA writable_schema = OFF")
    db.execute("DELETE FROM sqlite_sequence WHERE name = 'sta_thing'")
    assert (
        "AUTOINCREMENT"
        not in db.execute("SELECT sql FROM sqlite_master WHERE name = 'sta_thing'").fetchone()[0]
    )


def test_upgrading_from_0006_keeps_every_datastream(tmp_path: Any) -> None:
    """0007 once rebuilt sta_thing in batch mode, and the DROP of the old table deleted every
    Datastream by cascade."""
    import sqlite3

    from smartcity.core import migrate

    path = tmp_path / "older.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}", "0006")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("INSERT INTO sta_thing (id, name, description) VALUES (300, 'a', 'b')")
    db.execute(
        "INSERT INTO sta_sensor (id, name, description, encoding_type, metadata) "
        "VALUES (5, 's', 'd', 'text/plain', 'm')"
    )
    db.execute(
        "INSERT INTO sta_observed_property (id, name, definition, description) "
        "VALUES (6, 'p', 'urn:p', 'd')"
    )
    db.execute(
        "INSERT INTO sta_datastream (id, name, description, observation_type, "
        "unit_of_measurement, thing_id, sensor_id, observed_property_id) "
        "VALUES (9, 'ds', 'd', 'om', '{}', 300, 5, 6)"
    )
    db.close()
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    db = sqlite3.connect(path)
    assert db.execute("SELECT id, thing_id FROM sta_datastream").fetchall() == [(9, 300)]
    assert db.execute("SELECT public FROM sta_thing").fetchall() == [(1,)]
    db.close()
