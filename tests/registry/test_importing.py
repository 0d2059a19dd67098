"""Bulk import and export: row checks with a rejects file, batches committed with progress,
resuming after a crash without duplicates, re-running a finished file, 一数一源 for imports,
GeoJSON places, masked streaming export, the import API and the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from smartcity.core import i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.ids import make_resident_id
from smartcity.core.models import AuditEntry
from smartcity.registry import exporting, importing
from smartcity.registry.models import (
    AccessLog,
    ImportRun,
    Organization,
    Person,
    Place,
    RecordVersion,
)
from smartcity.registry.rows import insert_persons
from tests.core.factories import ROOT
from tests.registry import factories
from tests.registry.place_factories import create_tree, point, rectangle
from tests.registry.test_registry_api import assert_problem, bearer

CLI = Principal(id=None, kind="admin", name="cli:operator", via="cli")
WEB_ADMIN = Principal(id=None, kind="admin", name="web-admin", via="session")
PREFIX = "/api/v1/registry"


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


@pytest.fixture
def _english() -> Iterator[None]:
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


def person_row(**overrides: str) -> dict[str, str]:
    row = {
        "id_number": factories.resident_id(),
        "name": factories.person_name(),
        "ethnicity": "汉族",
        "phone": "13800138000",
        "hukou_division_code": "",
        "residence_address": "深圳市福田区园岭街道百花社区百花二路8号",
        "residence_lon": "114.01",
        "residence_lat": "22.51",
        "status": "",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])
    return path


def write_text(path: str, text: str) -> None:
    Path(path).write_text(text, encoding="utf-8")


def read_rejects(path: str) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


async def count(session, model: Any, *where: Any) -> int:
    return int(
        (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
    )


class TestImportPersons:
    async def test_imports_rows_with_first_versions_and_resolved_grids(
        self, session, database, deps, tmp_path
    ):
        tree = await create_tree(session)
        rows = [person_row() for _ in range(7)]
        rows[0]["residence_lon"], rows[0]["residence_lat"] = "", ""
        rows[1]["residence_lon"] = "114.03"  # the east grid
        path = write_csv(tmp_path / "persons.csv", rows)
        progress: list[tuple[int, int, int]] = []
        outcome = await importing.import_file(
            database, CLI, "person", path, batch_size=3, progress=lambda *a: progress.append(a)
        )
        run = outcome.run
        assert (run.status, run.rows_done, run.accepted, run.rejected) == ("done", 7, 7, 0)
        assert progress == [(3, 3, 0), (6, 6, 0), (7, 7, 0)]
        assert not outcome.already_done and outcome.resumed_from == 0
        persons = {p.id_number: p for p in (await session.execute(select(Person))).scalars()}
        assert set(persons) == {r["id_number"] for r in rows}
        first = persons[rows[0]["id_number"]]
        assert first.residence_place_code is None
        assert persons[rows[1]["id_number"]].residence_place_code == tree.east.code
        other = persons[rows[2]["id_number"]]
        assert other.residence_place_code == tree.west.code
        assert other.hukou_division_code == rows[2]["id_number"][:6]  # defaults to the number's
        assert (other.sex, other.birth_date) == (
            "male" if int(rows[2]["id_number"][16]) % 2 else "female",
            date.fromisoformat(
                f"{rows[2]['id_number'][6:10]}-{rows[2]['id_number'][10:12]}-{rows[2]['id_number'][12:14]}"
            ),
        )
        [version] = (
            await session.execute(select(RecordVersion).where(RecordVersion.record_id == other.id))
        ).scalars()
        assert (version.version, version.attribute_group, version.source_department_code) == (
            1,
            "import",
            "GAJ",
        )
        assert version.actor == "cli:operator" and version.changes == {}
        assert version.data["id_number"] == other.id_number
        assert version.data["birth_date"] == other.birth_date.isoformat()
        audited = set(
            (
                await session.execute(
                    select(AuditEntry.action).where(AuditEntry.target == f"import:{run.id}")
                )
            ).scalars()
        )
        assert audited == {"registry.import.start", "registry.import.finish"}

    async def test_bad_rows_go_to_the_rejects_file_and_the_rest_is_imported(
        self, session, database, deps, tmp_path, _english
    ):
        await create_tree(session)
        existing = await factories.create_person(session)
        good = [person_row() for _ in range(3)]
        twin = person_row()
        number = good[0]["id_number"]
        bad_check = number[:17] + ("0" if number[17] != "0" else "1")
        rows = [
            good[0],
            person_row(id_number=bad_check),
            person_row(name=""),
            good[1],
            person_row(phone="12345678901234"),
            person_row(
                sex="female" if int(good[2]["id_number"][16]) % 2 else "male",
                id_number=good[2]["id_number"],
            ),
            person_row(hukou_division_code="449999"),
            person_row(residence_place_code="NO-SUCH-GRID", residence_lon="", residence_lat=""),
            person_row(residence_lat=""),
            person_row(residence_lon="abc"),
            person_row(status="emigrated"),
            twin,
            dict(twin),  # the same ID number twice in the file
            person_row(id_number=existing.id_number),
            person_row(id_number=make_resident_id("440303", date(2099, 1, 1), 11)),
        ]
        path = write_csv(
            tmp_path / "mixed.csv", rows, header=[*rows[0], "sex", "residence_place_code"]
        )
        # A row with a field too many, and a blank line, appended by hand.
        with path.open("a", encoding="utf-8", newline="") as fh:
            fh.write("\n" + ",".join(["x"] * 12) + "\n")
        outcome = await importing.import_file(database, CLI, "person", path, batch_size=100)
        run = outcome.run
        assert run.accepted == 3  # good[0], good[1], twin
        assert run.rejected == 13
        assert run.rows_done == 17  # the blank line counts as a row read, neither kind
        rejects = read_rejects(run.rejects_path)
        reasons = [r["reason"] for r in rejects]
        assert len(rejects) == 13
        assert [int(r["row"]) for r in rejects] == sorted(int(r["row"]) for r in rejects)
        expected = [
            "check character",
            "name is empty",
            "phone",
            "does not match the ID number",
            "hukou_division_code",
            "not a grid",
            "both residence_lon and residence_lat",
            "not a number",
            "status",
            "twice in this file",
            "a person with this ID number exists",
            "future",
            "the row has 12 fields, the header has 11",
        ]
        for words, reason in zip(expected, reasons, strict=True):
            assert words in reason, (words, reason)
        # The original row is kept after row, line and reason.
        assert rejects[0]["id_number"] == bad_check
        assert rejects[0]["line"] == "3"
        assert await count(session, Person) == 4  # 3 imported + the existing one

    async def test_crash_mid_import_then_resume_imports_each_row_once(
        self, session, database, deps, tmp_path
    ):
        await create_tree(session)
        rows = [person_row() for _ in range(10)]
        rows[8]["name"] = ""  # a reject in a batch after the crash
        rows[1]["phone"] = "bad"  # a reject in a batch before it
        path = write_csv(tmp_path / "crash.csv", rows)

        class Crash(Exception):
            pass

        def crash_after_two_batches(done: int, accepted: int, rejected: int) -> None:
            if done >= 6:
                raise Crash

        with pytest.raises(Crash):
            await importing.import_file(
                database, CLI, "person", path, batch_size=3, progress=crash_after_two_batches
            )
        [run] = (await session.execute(select(ImportRun))).scalars()
        await session.refresh(run)
        assert (run.status, run.rows_done, run.accepted, run.rejected) == ("failed", 6, 5, 1)
        assert await count(session, Person) == 5
        outcome = await importing.import_file(database, CLI, "person", path, batch_size=3)
        assert outcome.resumed_from == 6 and outcome.run.id == run.id
        assert (outcome.run.rows_done, outcome.run.accepted, outcome.run.rejected) == (10, 8, 2)
        assert await count(session, Person) == 8
        assert await count(session, RecordVersion, RecordVersion.record_type == "person") == 8
        rejects = read_rejects(outcome.run.rejects_path)
        assert [r["row"] for r in rejects] == ["2", "9"]
        resumed = (
            await session.execute(
                select(func.count()).where(AuditEntry.action == "registry.import.resume")
            )
        ).scalar_one()
        assert resumed == 1

    async def test_rejects_written_before_a_crash_are_not_doubled(
        self, session, database, deps, tmp_path
    ):
        await create_tree(session)
        rows = [person_row(name="") if i == 4 else person_row() for i in range(6)]
        path = write_csv(tmp_path / "torn.csv", rows)
        sha, _lines = importing.file_digest(path)
        async with database.session_scope() as s:
            run = await importing.start_import(
                s, CLI, record_type="person", path=path, source_name="torn.csv", sha256=sha
            )
        # As if the process died after writing the second batch's rejects, before its commit.
        write_text(run.rejects_path, "row,line,reason," + ",".join(rows[0]) + "\n5,6,x\n")
        outcome = await importing.import_file(database, CLI, "person", path, batch_size=3)
        assert [r["row"] for r in read_rejects(outcome.run.rejects_path)] == ["5"]

    async def test_a_finished_file_is_not_imported_twice(self, session, database, deps, tmp_path):
        await create_tree(session)
        path = write_csv(tmp_path / "once.csv", [person_row() for _ in range(3)])
        first = await importing.import_file(database, CLI, "person", path)
        again = await importing.import_file(database, CLI, "person", path)
        assert again.already_done and again.run.id == first.run.id
        assert await count(session, Person) == 3
        assert await count(session, ImportRun) == 1

    @pytest.mark.parametrize(
        ("content", "words"),
        [
            ("", "empty"),
            ("id_number,name,phnoe\n", "Unknown columns: phnoe"),
            ("name,phone\n", "no column id_number"),
            ("id_number,name,name\n", "twice"),
        ],
    )
    async def test_a_bad_header_refuses_the_file_before_anything(
        self, session, database, deps, tmp_path, content, words, _english
    ):
        path = tmp_path / "bad.csv"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(InvalidInput) as refused:
            await importing.import_file(database, CLI, "person", path)
        assert words in refused.value.detail
        assert await count(session, ImportRun) == 0

    async def test_undecodable_bytes_reject_only_their_row(self, session, database, deps, tmp_path):
        await create_tree(session)
        rows = [person_row() for _ in range(2)]
        path = write_csv(tmp_path / "latin.csv", rows)
        data = path.read_bytes().replace(rows[1]["name"].encode(), b"\xff\xfe")
        path.write_bytes(data)
        outcome = await importing.import_file(database, CLI, "person", path)
        assert (outcome.run.accepted, outcome.run.rejected) == (1, 1)
        assert "UTF-8" in read_rejects(outcome.run.rejects_path)[0]["reason"]

    async def test_only_the_identity_source_imports_persons(
        self, session, database, deps, tmp_path
    ):
        await create_tree(session)
        path = write_csv(tmp_path / "p.csv", [person_row()])
        market = await factories.department_principal(session, "SCJGJ")
        with pytest.raises(Forbidden) as refused:
            await importing.import_file(database, market, "person", path)
        assert "公安局" in refused.value.detail
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden):
            await importing.import_file(database, police, "person", path, department_code="RSJ")
        outcome = await importing.import_file(database, police, "person", path)
        assert outcome.run.accepted == 1 and outcome.run.actor == police.name

    async def test_the_named_department_must_exist(self, session, database, deps, tmp_path):
        path = write_csv(tmp_path / "p.csv", [person_row()])
        with pytest.raises(InvalidInput):
            await importing.import_file(database, CLI, "person", path, department_code="NOPE")


class TestInsertPersons:
    async def test_the_fast_path_checks_rows_and_duplicates(self, session, deps):
        await create_tree(session)
        rows = [person_row(), person_row(id_number="123")]
        outcome = await insert_persons(session, ROOT, rows, reason="test")
        assert outcome.accepted == 1
        assert [position for position, _reason in outcome.rejected] == [1]
        again = await insert_persons(session, ROOT, rows[:1])
        assert again.accepted == 0 and "exists" in again.rejected[0][1]


class TestImportOrganizations:
    async def test_legal_representatives_by_id_number_and_bad_rows(
        self, session, database, deps, tmp_path, _english
    ):
        tree = await create_tree(session)
        boss = await factories.create_person(session)
        good = factories.uscc()
        rows = [
            {
                "uscc": good,
                "name": "深圳市百花科技有限公司",
                "org_type": "enterprise",
                "legal_representative_id_number": boss.id_number,
                "registered_place_code": tree.west.code,
                "industry": "I 信息传输、软件和信息技术服务业",
                "established_on": "2015-06-01",
            },
            {
                "uscc": good[:17] + ("0" if good[17] != "0" else "1"),
                "name": "坏码",
                "org_type": "enterprise",
            },
            {
                "uscc": factories.uscc(),
                "name": "无人",
                "org_type": "enterprise",
                "legal_representative_id_number": factories.resident_id(),
            },
            {"uscc": factories.uscc(), "name": "怪型", "org_type": "cooperative"},
            {
                "uscc": factories.uscc(),
                "name": "无址",
                "org_type": "enterprise",
                "registered_place_code": "NOPE",
            },
            {
                "uscc": factories.uscc(),
                "name": "未来",
                "org_type": "enterprise",
                "established_on": "2999-01-01",
            },
            {
                "uscc": factories.uscc(),
                "name": "深圳市园岭街道办事处",
                "org_type": "government_body",
            },
        ]
        path = write_csv(tmp_path / "orgs.csv", rows, header=list(rows[0]))
        outcome = await importing.import_file(database, CLI, "organization", path)
        assert (outcome.run.accepted, outcome.run.rejected) == (2, 5)
        reasons = [r["reason"] for r in read_rejects(outcome.run.rejects_path)]
        for words, reason in zip(
            ["check character", "names no person", "org_type", "is no place", "future"],
            reasons,
            strict=True,
        ):
            assert words in reason
        org = (
            await session.execute(select(Organization).where(Organization.uscc == good))
        ).scalar_one()
        assert org.legal_representative_id == boss.id
        assert org.established_on == date(2015, 6, 1)
        [version] = (
            await session.execute(select(RecordVersion).where(RecordVersion.record_id == org.id))
        ).scalars()
        assert version.source_department_code == "SCJGJ"
        assert version.data["legal_representative_id"] == str(boss.id)

    async def test_only_market_regulation_imports_organizations(
        self, session, database, deps, tmp_path
    ):
        path = write_csv(
            tmp_path / "o.csv", [{"uscc": factories.uscc(), "name": "x", "org_type": "enterprise"}]
        )
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden):
            await importing.import_file(database, police, "organization", path)


def feature(
    code: str, kind: str, name: str, parent: str | None, geometry: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    props = {"code": code, "kind": kind, "name": name, "parent_code": parent, **extra}
    return {"type": "Feature", "properties": props, "geometry": geometry}


class TestImportPlaces:
    async def test_parents_first_bad_features_rejected_and_reimport_updates(
        self, session, database, deps, tmp_path, _english
    ):
        features = [
            # Children before parents in the file: the import orders them by kind.
            feature("GJ1", "grid", "第1网格", "CJ1", rectangle(114.00, 22.50, 114.02, 22.52)),
            feature("CJ1", "community", "景田社区", "SJ1", rectangle(114.00, 22.50, 114.04, 22.52)),
            feature(
                "SJ1",
                "street",
                "莲花街道",
                "440304",
                rectangle(114.00, 22.50, 114.04, 22.52),
                district_code="440304",
            ),
            feature(
                "GJ2",
                "grid",
                "坏网格",
                "CJ1",
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[114, 22.5], [114.01, 22.51], [114.01, 22.5], [114, 22.51], [114, 22.5]]
                    ],
                },
            ),
            feature("GJ3", "grid", "孤儿", "NOPE", rectangle(114.02, 22.50, 114.04, 22.52)),
            feature("AJ1", "address", "莲花路1号", "GJ1", point(114.01, 22.51), postcode="518000"),
            {"type": "Feature", "geometry": None},
            "not a feature",
        ]
        path = tmp_path / "places.geojson"
        path.write_text(
            json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
            encoding="utf-8",
        )
        outcome = await importing.import_file(database, CLI, "place", path, batch_size=3)
        assert (outcome.run.accepted, outcome.run.rejected) == (4, 4)
        rejects = read_rejects(outcome.run.rejects_path)
        assert {r["code"] for r in rejects} == {"GJ2", "GJ3", ""}
        by_code = {r["code"]: r["reason"] for r in rejects}
        assert "not valid" in by_code["GJ2"] and "NOPE" in by_code["GJ3"]
        address = (await session.execute(select(Place).where(Place.code == "AJ1"))).scalar_one()
        assert address.properties == {"postcode": "518000"}
        # A corrected file: the grid's name changes; the street is the same (no new version).
        features[0] = feature(
            "GJ1", "grid", "景田社区第1网格", "CJ1", rectangle(114.00, 22.50, 114.02, 22.52)
        )
        path.write_text(
            json.dumps({"type": "FeatureCollection", "features": features[:3]}, ensure_ascii=False),
            encoding="utf-8",
        )
        second = await importing.import_file(database, CLI, "place", path)
        assert (second.run.accepted, second.run.rejected) == (3, 0)
        grid = (await session.execute(select(Place).where(Place.code == "GJ1"))).scalar_one()
        await session.refresh(grid)
        assert (grid.name, grid.version) == ("景田社区第1网格", 2)
        street = (await session.execute(select(Place).where(Place.code == "SJ1"))).scalar_one()
        assert street.version == 1

    @pytest.mark.parametrize(
        "content",
        ["{not json", json.dumps({"type": "Feature"}), json.dumps({"type": "FeatureCollection"})],
    )
    async def test_not_a_feature_collection(self, session, database, deps, tmp_path, content):
        path = tmp_path / "bad.geojson"
        path.write_text(content, encoding="utf-8")
        with pytest.raises(InvalidInput):
            await importing.import_file(database, CLI, "place", path)


class TestExportPersons:
    async def test_masked_by_default_with_access_log(self, session, deps):
        person = await factories.create_person(session, phone="13912345678")
        out = io.StringIO()
        n = await exporting.export_persons(session, ROOT, out)
        assert n == 1
        [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert row["id_number"] == person.id_number[:4] + "*" * 10 + person.id_number[-4:]
        assert row["phone"] == "139****5678"
        assert row["birth_date"].endswith("-**-**")
        [log] = (
            await session.execute(select(AccessLog).where(AccessLog.via == "export"))
        ).scalars()
        assert log.person_id == person.id and log.fields == []

    async def test_unmasked_only_for_the_command_line_operator(self, session, deps):
        person = await factories.create_person(session)
        with pytest.raises(Forbidden):
            await exporting.export_persons(session, WEB_ADMIN, io.StringIO(), unmasked=True)
        out = io.StringIO()
        await exporting.export_persons(session, CLI, out, fmt="jsonl", unmasked=True)
        [line] = out.getvalue().splitlines()
        assert json.loads(line)["id_number"] == person.id_number
        audited = (
            (
                await session.execute(
                    select(AuditEntry.detail).where(AuditEntry.action == "registry.person.export")
                )
            )
            .scalars()
            .all()
        )
        assert {"format": "jsonl", "unmasked": True} in [
            {k: d[k] for k in ("format", "unmasked")} for d in audited
        ]

    async def test_an_unmasked_export_imports_back(self, session, database, deps, tmp_path):
        await create_tree(session)
        rows = [person_row() for _ in range(4)]
        first = await importing.import_file(
            database, CLI, "person", write_csv(tmp_path / "in.csv", rows)
        )
        assert first.run.accepted == 4
        path = tmp_path / "out.csv"
        async with database.session_scope() as s:
            with path.open("w", newline="", encoding="utf-8") as fh:
                assert await exporting.export_persons(s, CLI, fh, unmasked=True, batch_size=3) == 4
        again = await importing.import_file(database, CLI, "person", path)
        # Same columns, same people: every row is a duplicate, none is malformed.
        assert (again.run.accepted, again.run.rejected) == (0, 4)
        assert all("exists" in r["reason"] for r in read_rejects(again.run.rejects_path))

    async def test_unknown_format_and_no_permission(self, session, deps):
        with pytest.raises(InvalidInput):
            await exporting.export_persons(session, ROOT, io.StringIO(), fmt="xml")
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden):
            await exporting.export_persons(session, police, io.StringIO())


class TestImportApi:
    async def test_upload_runs_after_the_answer_and_can_be_polled(self, client, session, deps):
        await create_tree(session)
        system = bearer(await factories.department_account(session, "GAJ", kind="system"))
        await session.commit()
        rows = [person_row(), person_row(name="")]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow(list(row.values()))
        body = buffer.getvalue().encode()
        r = await client.post(
            f"{PREFIX}/imports/persons",
            content=body,
            headers={**system, "Content-Type": "text/csv", "X-Filename": "gaj-2026-04.csv"},
        )
        assert r.status_code == 202, r.text
        run_id = r.json()["id"]
        assert r.json()["source_name"] == "gaj-2026-04.csv"
        r = await client.get(f"{PREFIX}/imports/{run_id}", headers=system)
        assert (r.json()["status"], r.json()["accepted"], r.json()["rejected"]) == ("done", 1, 1)
        r = await client.get(f"{PREFIX}/imports/{run_id}/rejects", headers=system)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "name is empty" in r.text
        # The same content again: the finished run, nothing imported twice.
        again = await client.post(f"{PREFIX}/imports/persons", content=body, headers=system)
        assert again.json()["id"] == run_id
        assert await count(session, Person) == 1

    async def test_refusals(self, client, session, deps):
        market = bearer(await factories.department_account(session, "SCJGJ"))
        police = bearer(await factories.department_account(session, "GAJ"))
        await session.commit()
        assert_problem(
            await client.post(
                f"{PREFIX}/imports/persons", content=b"id_number,name\n", headers=market
            ),
            403,
            "forbidden",
        )
        assert_problem(
            await client.post(f"{PREFIX}/imports/persons", content=b"", headers=police),
            422,
            "invalid-input",
        )
        assert_problem(
            await client.post(f"{PREFIX}/imports/persons", content=b"who,what\n", headers=police),
            422,
            "invalid-input",
        )
        assert_problem(
            await client.post(f"{PREFIX}/imports/planets", content=b"x", headers=police),
            422,
            "invalid-input",
        )
        assert_problem(
            await client.get(
                f"{PREFIX}/imports/00000000-0000-0000-0000-000000000000", headers=police
            ),
            404,
            "not-found",
        )


class TestCli:
    def test_import_export_resolve_and_quality(self, tmp_path):
        from tests.core.test_cli import smartcity

        url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
        assert smartcity("db", "upgrade", "--database-url", url).exit_code == 0
        places = tmp_path / "places.geojson"
        places.write_text(
            json.dumps(
                {
                    "type": "FeatureCollection",
                    "features": [
                        feature(
                            "S1",
                            "street",
                            "园岭街道",
                            "440304",
                            rectangle(114.0, 22.5, 114.04, 22.54),
                        ),
                        feature(
                            "C1",
                            "community",
                            "百花社区",
                            "S1",
                            rectangle(114.0, 22.5, 114.04, 22.54),
                        ),
                        feature(
                            "G1",
                            "grid",
                            "百花社区第1网格",
                            "C1",
                            rectangle(114.0, 22.5, 114.04, 22.54),
                        ),
                    ],
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
        r = smartcity("registry", "import", "places", str(places), "--database-url", url)
        assert r.exit_code == 0, r.output
        assert "3 accepted" in r.output
        first = person_row()
        persons = write_csv(tmp_path / "p.csv", [first, person_row(phone="x")])
        rejects = tmp_path / "bad-rows.csv"
        r = smartcity(
            "registry",
            "import",
            "persons",
            str(persons),
            "--department",
            "GAJ",
            "--rejects",
            str(rejects),
            "--database-url",
            url,
        )
        assert r.exit_code == 0, r.output
        assert "1 accepted, 1 rejected" in r.output and rejects.exists()
        r = smartcity("registry", "import", "persons", str(persons), "--database-url", url)
        assert "imported already" in r.output
        out = tmp_path / "export.jsonl"
        r = smartcity(
            "registry",
            "export",
            "persons",
            "--format",
            "jsonl",
            "--out",
            str(out),
            "--database-url",
            url,
        )
        assert r.exit_code == 0 and "masked" in r.output
        assert "**********" in out.read_text(encoding="utf-8")
        r = smartcity(
            "registry",
            "export",
            "persons",
            "--format",
            "xml",
            "--out",
            str(out),
            "--database-url",
            url,
        )
        assert r.exit_code == 2
        r = smartcity("registry", "resolve", "114.01", "22.51", "--database-url", url)
        assert r.exit_code == 0 and "百花社区第1网格" in r.output and "福田区" in r.output
        r = smartcity("registry", "resolve", "120", "30", "--database-url", url)
        assert r.exit_code == 1
        r = smartcity("registry", "quality", "--database-url", url)
        assert r.exit_code == 0 and "person" in r.output
        r = smartcity(
            "users", "create", "zhang.san", "--kind", "citizen", "--name", "张三",
            "--database-url", url,
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        r = smartcity(
            "registry", "link-account", "zhang.san", first["id_number"], "--database-url", url
        )
        assert r.exit_code == 0, r.output
        assert first["id_number"] not in r.output and first["id_number"][-4:] in r.output
        r = smartcity(
            "registry", "link-account", "nobody", first["id_number"], "--database-url", url
        )
        assert r.exit_code == 1
        missing = smartcity(
            "registry", "import", "persons", str(tmp_path / "nope.csv"), "--database-url", url
        )
        assert missing.exit_code == 2
