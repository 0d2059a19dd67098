"""Open data: the CKAN-compatible Action API (also driven by the real ckanapi client against a
live server), DCAT-AP JSON-LD and the streamed downloads."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from smartcity.core.db import Database, make_engine
from smartcity.exchange import ckan
from smartcity.exchange.schemas import FieldSpec
from smartcity.settings import Settings, configure
from tests.core.test_bus import BACKENDS, migrated_url
from tests.exchange import factories
from tests.problems import assert_problem


async def open_catalog(session) -> dict[str, Any]:
    """Three open datasets of two publishers, one closed resource, and rows to download."""
    orgs = await factories.create_resource(
        session,
        code="organizations",
        title="法人登记信息",
        description="企业与机构的登记信息",
        publisher="SCJGJ",
        source_registry="organization",
        fields=[
            FieldSpec(name="uscc", title="统一社会信用代码"),
            FieldSpec(name="name", title="名称"),
        ],
        sharing_class="unconditional",
        open_data=True,
        keywords=["法人", "企业"],
    )
    grids = await factories.create_resource(
        session,
        code="grids",
        title="城市管理网格",
        publisher="GHZRJ",
        source_registry="place",
        fields=[FieldSpec(name="code"), FieldSpec(name="name"), FieldSpec(name="geometry")],
        sharing_class="unconditional",
        open_data=True,
        update_cycle="monthly",
        keywords=["网格"],
    )
    roads = await factories.create_resource(
        session,
        code="addresses",
        title="标准地址",
        publisher="GHZRJ",
        source_registry="place",
        fields=[FieldSpec(name="code"), FieldSpec(name="name")],
        sharing_class="unconditional",
        open_data=True,
        keywords=["地址"],
    )
    closed = await factories.create_resource(session, code="persons-closed")
    companies = [await factories.organization(session) for _ in range(3)]
    place = await factories.place(session)
    return {
        "orgs": orgs,
        "grids": grids,
        "roads": roads,
        "closed": closed,
        "companies": companies,
        "place": place,
    }


async def action(client, name: str, **params: Any):
    return await client.get(f"/api/3/action/{name}", params=params)


class TestActionApi:
    async def test_package_list_holds_open_datasets_only(self, client, session):
        await open_catalog(session)
        await session.commit()
        r = await action(client, "package_list")
        assert r.status_code == 200
        body = r.json()
        assert body["success"] is True and body["help"].endswith("help_show?name=package_list")
        assert body["result"] == ["addresses", "grids", "organizations"]

    async def test_package_show_by_name_and_id(self, client, session):
        made = await open_catalog(session)
        await session.commit()
        by_name = (await action(client, "package_show", id="organizations")).json()["result"]
        by_id = (await action(client, "package_show", id=str(made["orgs"].id))).json()["result"]
        assert by_name == by_id
        assert by_name["name"] == "organizations" and by_name["title"] == "法人登记信息"
        assert by_name["organization"]["name"] == "scjgj"
        assert by_name["owner_org"] == by_name["organization"]["id"]
        assert (by_name["private"], by_name["state"], by_name["license_id"]) == (
            False,
            "active",
            "cc-by-4.0",
        )
        assert [t["name"] for t in by_name["tags"]] == ["法人", "企业"]
        extras = {e["key"]: e["value"] for e in by_name["extras"]}
        assert extras["sharing_class"] == "unconditional" and extras["publisher_code"] == "SCJGJ"
        [resource] = by_name["resources"]
        assert resource["format"] == "CSV"
        assert resource["url"] == (
            "http://testserver/api/v1/exchange/open/organizations/download?format=csv"
        )
        assert "T" in by_name["metadata_created"] and "+" not in by_name["metadata_modified"]

    async def test_closed_or_unknown_dataset_is_not_found(self, client, session):
        await open_catalog(session)
        await session.commit()
        for name in ("persons-closed", "nothing-here"):
            r = await action(client, "package_show", id=name)
            assert r.status_code == 404
            assert r.json()["success"] is False
            assert r.json()["error"]["__type"] == "Not Found Error"

    async def test_missing_id_is_a_validation_error(self, client, session):
        r = await action(client, "package_show")
        assert r.status_code == 409
        assert r.json()["error"]["__type"] == "Validation Error"
        assert r.json()["error"]["id"] == ["Missing value"]

    async def test_unknown_action(self, client):
        r = await action(client, "package_explode")
        assert r.status_code == 400 and r.json()["error"]["__type"] == "Not Found Error"

    async def test_post_with_a_json_body(self, client, session):
        await open_catalog(session)
        await session.commit()
        r = await client.post("/api/action/package_show", json={"id": "grids"})
        assert r.status_code == 200 and r.json()["result"]["name"] == "grids"
        bad = await client.post(
            "/api/action/package_show",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert bad.status_code == 409 and bad.json()["error"]["__type"] == "Validation Error"


class TestPackageSearch:
    async def search(self, client, **params):
        r = await action(client, "package_search", **params)
        assert r.status_code == 200, r.text
        return r.json()["result"]

    async def test_q_searches_text_and_keywords(self, client, session):
        await open_catalog(session)
        await session.commit()
        assert [d["name"] for d in (await self.search(client, q="网格"))["results"]] == ["grids"]
        assert (await self.search(client, q="*:*"))["count"] == 3
        assert (await self.search(client, q="nothing-matches"))["count"] == 0

    async def test_fq_terms_are_anded(self, client, session):
        await open_catalog(session)
        await session.commit()
        result = await self.search(client, fq="organization:ghzrj")
        assert sorted(d["name"] for d in result["results"]) == ["addresses", "grids"]
        result = await self.search(client, fq='organization:ghzrj tags:"网格"')
        assert [d["name"] for d in result["results"]] == ["grids"]
        result = await self.search(client, fq="organization:scjgj tags:网格")
        assert result["count"] == 0

    async def test_rows_start_and_sort(self, client, session):
        await open_catalog(session)
        await session.commit()
        names = []
        for start in (0, 2):
            page = await self.search(client, rows=2, start=start, sort="title_string asc")
            assert page["count"] == 3
            names += [d["title"] for d in page["results"]]
        assert names == sorted(["法人登记信息", "城市管理网格", "标准地址"])

    async def test_facets(self, client, session):
        await open_catalog(session)
        await session.commit()
        result = await self.search(client, **{"facet.field": '["organization","tags"]'})
        assert result["facets"]["organization"] == {"ghzrj": 2, "scjgj": 1}
        items = result["search_facets"]["organization"]["items"]
        assert items[0] == {"name": "ghzrj", "display_name": "规划和自然资源局", "count": 2}
        assert result["facets"]["tags"]["网格"] == 1

    @pytest.mark.parametrize(
        ("params", "kind"),
        [
            ({"rows": "many"}, "Validation Error"),
            ({"start": "-1"}, "Validation Error"),
            ({"sort": "popularity desc"}, "Validation Error"),
            ({"sort": "title_string sideways"}, "Validation Error"),
            ({"facet.field": '["colour"]'}, "Validation Error"),
            ({"fq": "colour:red"}, "Search Query Error"),
            ({"fq": "organization:"}, "Search Query Error"),
        ],
    )
    async def test_bad_parameters(self, client, params, kind):
        r = await action(client, "package_search", **params)
        assert r.status_code == 409
        assert r.json()["error"]["__type"] == kind

    async def test_rows_are_capped(self, client, session):
        await open_catalog(session)
        await session.commit()
        result = await self.search(client, rows=5000)
        assert len(result["results"]) == 3


class TestOtherActions:
    async def test_organizations(self, client, session):
        await open_catalog(session)
        await session.commit()
        assert (await action(client, "organization_list")).json()["result"] == ["ghzrj", "scjgj"]
        full = (await action(client, "organization_list", all_fields="true")).json()["result"]
        assert [(o["name"], o["package_count"]) for o in full] == [("ghzrj", 2), ("scjgj", 1)]
        shown = (
            await action(client, "organization_show", id="ghzrj", include_datasets="true")
        ).json()["result"]
        assert shown["title"] == "规划和自然资源局"
        assert sorted(p["name"] for p in shown["packages"]) == ["addresses", "grids"]
        assert (await action(client, "organization_show", id="gaj")).status_code == 404

    async def test_resource_show(self, client, session):
        await open_catalog(session)
        await session.commit()
        package = (await action(client, "package_show", id="grids")).json()["result"]
        rid = package["resources"][0]["id"]
        shown = (await action(client, "resource_show", id=rid)).json()["result"]
        assert shown["package_id"] == package["id"] and shown["format"] == "CSV"
        assert (await action(client, "resource_show", id="nope")).status_code == 404

    async def test_status_tags_groups_licences(self, client, session):
        await open_catalog(session)
        await session.commit()
        status = (await action(client, "status_show")).json()["result"]
        assert status["ckan_version"] and status["site_url"] == "http://testserver"
        assert (await action(client, "tag_list")).json()["result"] == [
            "企业",
            "地址",
            "法人",
            "网格",
        ]
        assert (await action(client, "group_list")).json()["result"] == []
        licences = (await action(client, "license_list")).json()["result"]
        assert "cc-by-4.0" in [lic["id"] for lic in licences]


class TestDcat:
    async def test_catalog_jsonld(self, client, session):
        await open_catalog(session)
        await session.commit()
        r = await client.get("/catalog.jsonld")
        assert r.status_code == 200 and r.headers["content-type"] == "application/ld+json"
        doc = json.loads(r.content)
        assert doc["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
        assert doc["@type"] == "dcat:Catalog"
        ids = sorted(d["dct:identifier"] for d in doc["dcat:dataset"])
        assert ids == ["addresses", "grids", "organizations"]
        grids = next(d for d in doc["dcat:dataset"] if d["dct:identifier"] == "grids")
        assert grids["dct:accrualPeriodicity"]["@id"].endswith("/frequency/MONTHLY")
        assert {d["dct:format"]["@id"].rsplit("/", 1)[1] for d in grids["dcat:distribution"]} == {
            "CSV",
            "JSON",
        }

    async def test_dataset_jsonld(self, client, session):
        await open_catalog(session)
        await session.commit()
        doc = json.loads((await client.get("/dataset/organizations.jsonld")).content)
        assert "@context" in doc and doc["@type"] == "dcat:Dataset"
        assert doc["dct:publisher"]["foaf:name"]["@value"] == "市场监督管理局"
        assert_problem(await client.get("/dataset/persons-closed.jsonld"), 404, "not-found")


class TestDownload:
    async def test_csv_of_an_open_resource(self, client, session):
        made = await open_catalog(session)
        await session.commit()
        r = await client.get("/api/v1/exchange/open/organizations/download?format=csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0] == ["uscc", "name"]
        assert sorted(rows[1:]) == sorted([c.uscc, c.name] for c in made["companies"])

    async def test_json_of_an_open_resource(self, client, session):
        made = await open_catalog(session)
        await session.commit()
        r = await client.get("/api/v1/exchange/open/grids/download?format=json")
        rows = json.loads(r.content)
        assert rows == [
            {
                "code": made["place"].code,
                "name": made["place"].name,
                "geometry": made["place"].geometry,
            }
        ]

    async def test_closed_resource_and_bad_format(self, client, session):
        await open_catalog(session)
        await session.commit()
        closed = await client.get("/api/v1/exchange/open/persons-closed/download")
        assert_problem(closed, 404, "not-found")
        bad = await client.get("/api/v1/exchange/open/grids/download?format=xlsx")
        assert_problem(bad, 422, "invalid-input")


# --- the real ckanapi client against a live server ----------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_thread(coro: Any) -> Any:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module", params=BACKENDS)
def ckan_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[str]:
    import uvicorn

    from smartcity.app import create_app

    url = migrated_url(request.param, tmp_path_factory.mktemp(request.param), "ckan")

    async def seed() -> None:
        db = Database(make_engine(url))
        try:
            async with db.session_scope() as session:
                await open_catalog(session)
        finally:
            await db.dispose()

    _in_thread(seed())
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
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("get_only", [False, True])
def test_ckanapi_client_works_unchanged(ckan_server: str, get_only: bool) -> None:
    from ckanapi import NotFound, RemoteCKAN

    with RemoteCKAN(ckan_server, get_only=get_only) as portal:
        assert portal.action.package_list() == ["addresses", "grids", "organizations"]
        dataset = portal.action.package_show(id="grids")
        assert dataset["organization"]["name"] == "ghzrj"
        found = portal.action.package_search(q="网格", fq="organization:ghzrj", rows=10)
        assert [d["name"] for d in found["results"]] == ["grids"]
        pages = [
            portal.action.package_search(rows=1, start=start, sort="name asc")["results"][0]["name"]
            for start in range(3)
        ]
        assert pages == ["addresses", "grids", "organizations"]
        assert portal.action.organization_list() == ["ghzrj", "scjgj"]
        org = portal.action.organization_show(id="scjgj", include_datasets=True)
        assert [p["name"] for p in org["packages"]] == ["organizations"]
        resource = portal.action.resource_show(id=dataset["resources"][0]["id"])
        assert resource["url"].startswith(ckan_server)
        assert portal.action.status_show()["ckan_version"] == ckan.CKAN_VERSION
        with pytest.raises(NotFound):
            portal.action.package_show(id="persons-closed")
        # ckanapi's dump sends these; they must be tolerated.
        assert portal.action.package_list(include_private=True, include_drafts=False) == pages
