"""Places (地理空间库): the division tree, geometry checks, 一数一源, history, point-in-polygon
and address resolution, the place API and the map pages."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from smartcity.core import i18n
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry
from smartcity.registry import places
from smartcity.registry.models import RecordVersion
from smartcity.registry.place_schemas import PlaceUpdate
from tests.core.test_pages import HTML
from tests.registry import factories
from tests.registry.place_factories import create_place, create_tree, point, rectangle
from tests.registry.test_registry_api import assert_problem, bearer
from tests.registry.test_registry_pages import sign_in_staff

PREFIX = "/api/v1/registry"


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


@pytest.fixture
def _english() -> Iterator[None]:
    """These tests read English messages; the Chinese catalog is tests/core/test_i18n.py's."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


class TestCreatePlace:
    async def test_builds_the_tree_with_bbox_history_and_audit(self, session, deps):
        tree = await create_tree(session)
        assert tree.street.parent_code == "440304"
        assert tree.street.district_code == "440304"
        assert tree.west.district_code == "440304"  # inherited from the parent chain
        assert (tree.west.min_lon, tree.west.min_lat, tree.west.max_lon, tree.west.max_lat) == (
            114.00,
            22.50,
            114.02,
            22.54,
        )
        [version] = (
            await session.execute(
                select(RecordVersion).where(RecordVersion.record_id == tree.west.id)
            )
        ).scalars()
        assert (version.record_type, version.version, version.valid_to) == ("place", 1, None)
        assert version.source_department_code == "GHZRJ"
        assert version.data["geometry"] == rectangle(114.00, 22.50, 114.02, 22.54)
        actions = (
            await session.execute(
                select(AuditEntry.target).where(AuditEntry.action == "registry.place.create")
            )
        ).scalars()
        assert f"place:{tree.west.code}" in set(actions)

    async def test_the_geography_source_may_create(self, session, deps):
        planner = await factories.department_principal(session, "GHZRJ")
        tree = await create_tree(session, principal=planner)
        assert tree.east.kind == "grid"

    async def test_another_department_gets_403_naming_the_source(self, session, deps):
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden) as refused:
            await create_place(
                session,
                principal=police,
                code="X1",
                kind="street",
                name="莲花街道",
                parent_code="440304",
                geometry=rectangle(114.0, 22.5, 114.1, 22.6),
            )
        assert "规划和自然资源局" in refused.value.detail
        assert refused.value.extensions["source_department"] == "GHZRJ"

    async def test_unknown_parent(self, session, deps):
        with pytest.raises(InvalidInput) as bad:
            await create_place(
                session,
                code="X2",
                kind="grid",
                name="孤儿网格",
                parent_code="NO-SUCH-COMMUNITY",
                geometry=rectangle(114.0, 22.5, 114.01, 22.51),
            )
        assert bad.value.extensions["field"] == "parent_code"
        assert "NO-SUCH-COMMUNITY" in bad.value.detail

    async def test_parent_of_the_wrong_kind(self, session, deps):
        tree = await create_tree(session)
        with pytest.raises(InvalidInput) as bad:
            await create_place(
                session,
                code="X3",
                kind="grid",
                name="越级网格",
                parent_code=tree.street.code,
                geometry=rectangle(114.0, 22.5, 114.01, 22.51),
            )
        assert bad.value.extensions["field"] == "parent_code"

    @pytest.mark.parametrize("district", ["440100", "440399", "999999", "4403XX"])
    async def test_district_must_be_in_shenzhen(self, session, deps, district):
        with pytest.raises(InvalidInput) as bad:
            await create_place(
                session,
                code="X4",
                kind="street",
                name="某街道",
                parent_code=district,
                geometry=rectangle(114.0, 22.5, 114.1, 22.6),
            )
        assert bad.value.extensions["field"] in ("district_code", "parent_code")

    async def test_dapeng_new_district_is_accepted(self, session, deps):
        street = await create_place(
            session,
            code="DP1",
            kind="street",
            name="葵涌街道",
            district_code="4403DP",
            geometry=rectangle(114.42, 22.60, 114.50, 22.64),
        )
        assert (street.parent_code, street.district_code) == ("4403DP", "4403DP")

    async def test_district_must_agree_with_the_parent(self, session, deps):
        tree = await create_tree(session)
        with pytest.raises(InvalidInput) as bad:
            await create_place(
                session,
                code="X5",
                kind="community",
                name="错区社区",
                parent_code=tree.street.code,
                district_code="440305",
                geometry=rectangle(114.0, 22.5, 114.01, 22.51),
            )
        assert bad.value.extensions["field"] == "district_code"

    async def test_duplicate_code(self, session, deps):
        tree = await create_tree(session)
        with pytest.raises(Conflict):
            await create_place(
                session,
                code=tree.west.code,
                kind="grid",
                name="重复",
                parent_code=tree.community.code,
                geometry=rectangle(114.0, 22.5, 114.01, 22.51),
            )

    @pytest.mark.parametrize(
        ("kind", "geometry", "words"),
        [
            # A bow tie: the ring crosses itself.
            (
                "street",
                {
                    "type": "Polygon",
                    "coordinates": [
                        [[114, 22.5], [114.1, 22.6], [114.1, 22.5], [114, 22.6], [114, 22.5]]
                    ],
                },
                "not valid",
            ),
            ("street", point(114.05, 22.55), "Polygon"),
            ("street", {"type": "Polygon", "coordinates": [[1, 2], [3]]}, "malformed"),
            ("street", {"type": "Polygon"}, "malformed"),
            ("street", rectangle(22.5, 114.0, 22.6, 114.1), "WGS 84"),  # lat/lon swapped
            ("street", {"coordinates": [1, 2]}, "GeoJSON"),
            ("street", {"type": "Polygon", "coordinates": []}, "empty"),
        ],
    )
    async def test_invalid_geometry(self, session, deps, kind, geometry, words, _english):
        with pytest.raises(InvalidInput) as bad:
            await create_place(
                session,
                code="X6",
                kind=kind,
                name="坏几何",
                parent_code="440304",
                geometry=geometry,
            )
        assert bad.value.extensions["field"] == "geometry"
        assert words in bad.value.detail

    async def test_address_needs_a_point(self, session, deps, _english):
        tree = await create_tree(session)
        with pytest.raises(InvalidInput) as bad:
            await create_place(
                session,
                code="X7",
                kind="address",
                name="某地址",
                parent_code=tree.west.code,
                geometry=rectangle(114.0, 22.5, 114.01, 22.51),
            )
        assert "Point" in bad.value.detail

    async def test_sanity_warnings_outside_shenzhen_and_outside_the_parent(self, session, deps):
        tree = await create_tree(session)
        assert await places.warnings_for(session, tree.west) == []
        stray = await create_place(
            session,
            code="X8",
            kind="address",
            name="上海某处",
            parent_code=tree.west.code,
            geometry=point(121.47, 31.23),
        )
        warnings = await places.warnings_for(session, stray)
        assert len(warnings) == 2


class TestUpdatePlace:
    async def test_geometry_change_keeps_history_and_moves_resolution(self, session, deps):
        tree = await create_tree(session)
        found = await places.resolve_point(session, 114.01, 22.52)
        assert found is not None and found.grid.code == tree.west.code  # now cached
        # The west grid shrinks to its southern half; the point now lies in no grid.
        changed = await places.update_place(
            session,
            factories.ROOT,
            tree.west.code,
            PlaceUpdate(geometry=rectangle(114.00, 22.50, 114.02, 22.51), reason="重新划分"),
        )
        assert changed.version == 2
        assert changed.max_lat == 22.51
        assert await places.resolve_point(session, 114.01, 22.52) is None
        versions = (
            (
                await session.execute(
                    select(RecordVersion)
                    .where(RecordVersion.record_id == tree.west.id)
                    .order_by(RecordVersion.version)
                )
            )
            .scalars()
            .all()
        )
        assert [v.version for v in versions] == [1, 2]
        assert versions[0].valid_to is not None and versions[1].valid_to is None
        assert set(versions[1].changes) == {"geometry"}
        assert versions[1].reason == "重新划分"

    async def test_nothing_changed_is_no_new_version(self, session, deps):
        tree = await create_tree(session)
        same = await places.update_place(
            session, factories.ROOT, tree.west.code, PlaceUpdate(name=tree.west.name)
        )
        assert same.version == 1

    async def test_cannot_move_to_another_district(self, session, deps):
        tree = await create_tree(session)
        other = await create_tree(session, district="440305")
        with pytest.raises(InvalidInput):
            await places.update_place(
                session,
                factories.ROOT,
                tree.west.code,
                PlaceUpdate(parent_code=other.community.code),
            )

    async def test_unknown_place(self, session, deps):
        with pytest.raises(NotFound):
            await places.update_place(session, factories.ROOT, "NOPE", PlaceUpdate(name="x"))

    async def test_another_department_cannot_change_it(self, session, deps):
        tree = await create_tree(session)
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden):
            await places.update_place(session, police, tree.west.code, PlaceUpdate(name="x"))


class TestResolvePoint:
    async def test_gives_the_chain_up_to_the_district(self, session, deps):
        tree = await create_tree(session)
        found = await places.resolve_point(session, 114.03, 22.52)
        assert found is not None
        assert found.grid.code == tree.east.code
        assert found.community is not None and found.community.name == "百花社区"
        assert found.street is not None and found.street.name == "园岭街道"
        assert (found.district.code, found.district.name) == ("440304", "福田区")
        assert [r.kind for r in found.chain] == ["grid", "community", "street", "district"]

    async def test_point_outside_every_grid(self, session, deps):
        await create_tree(session)
        assert await places.resolve_point(session, 114.10, 22.52) is None
        # Inside the grids' bounding boxes' row, but west of all of them.
        assert await places.resolve_point(session, 113.999, 22.52) is None

    async def test_point_on_a_shared_edge_goes_to_the_first_grid(self, session, deps):
        tree = await create_tree(session)
        found = await places.resolve_point(session, 114.02, 22.52)
        assert found is not None and found.grid.code == tree.west.code

    @pytest.mark.parametrize(
        ("lon", "lat"), [(200.0, 22.5), (114.0, -91.0), (math.nan, 22.5), (math.inf, 22.5)]
    )
    async def test_impossible_coordinates(self, session, deps, lon, lat):
        with pytest.raises(InvalidInput):
            await places.resolve_point(session, lon, lat)

    async def test_grid_index_resolves_many_points(self, session, deps):
        tree = await create_tree(session)
        index = await places.GridIndex.load(session)
        assert index.locate(114.01, 22.51) == tree.west.code
        assert index.locate(114.03, 22.51) == tree.east.code
        assert index.locate(115.0, 22.51) is None


class TestResolveAddress:
    async def test_by_exact_or_contained_name(self, session, deps):
        tree = await create_tree(session)
        address = await create_place(
            session,
            code=f"{tree.prefix}A1",
            kind="address",
            name="福田区园岭街道百花二路8号",
            parent_code=tree.east.code,
            geometry=point(114.03, 22.53),
        )
        exact = await places.resolve_address(session, "福田区园岭街道百花二路8号")
        assert exact is not None and exact.grid.code == tree.east.code
        assert exact.address is not None and exact.address.code == address.code
        longer = await places.resolve_address(session, "深圳市 福田区园岭街道百花二路8号 3栋 201")
        assert longer is not None and longer.address == exact.address

    async def test_no_match_or_no_grid(self, session, deps):
        tree = await create_tree(session)
        assert await places.resolve_address(session, "北京市东城区某胡同") is None
        assert await places.resolve_address(session, "   ") is None
        await create_place(
            session,
            code=f"{tree.prefix}A2",
            kind="address",
            name="园岭街道远处1号",
            parent_code=tree.west.code,
            geometry=point(114.30, 22.70),  # outside every grid
        )
        assert await places.resolve_address(session, "园岭街道远处1号") is None


class TestListPlaces:
    async def test_by_parent_and_kind(self, session, deps):
        tree = await create_tree(session)
        grids, total = await places.list_places(session, factories.ROOT, parent=tree.community.code)
        assert [g.code for g in grids] == [tree.west.code, tree.east.code] and total == 2
        streets, _total = await places.list_places(
            session, factories.ROOT, parent="440304", kind="street"
        )
        assert tree.street.code in [s.code for s in streets]

    async def test_unknown_kind(self, session, deps):
        with pytest.raises(InvalidInput):
            await places.list_places(session, factories.ROOT, kind="planet")


class TestPlaceApi:
    async def test_tree_feature_and_resolution(self, client, session, deps):
        tree = await create_tree(session)
        headers = bearer(await factories.department_account(session, "GAJ"))
        await session.commit()
        r = await client.get(f"{PREFIX}/places", params={"parent": "440304"}, headers=headers)
        assert r.status_code == 200
        assert tree.street.code in [p["code"] for p in r.json()["items"]]
        r = await client.get(f"{PREFIX}/places/{tree.west.code}", headers=headers)
        feature = r.json()
        assert feature["type"] == "Feature" and feature["id"] == tree.west.code
        assert feature["geometry"]["type"] == "Polygon"
        assert feature["properties"]["district_name"] == "福田区"
        assert feature["bbox"] == [114.0, 22.5, 114.02, 22.54]
        r = await client.get(
            f"{PREFIX}/resolve", params={"lon": 114.01, "lat": 22.51}, headers=headers
        )
        body = r.json()
        assert body["grid"]["code"] == tree.west.code and body["street"]["name"] == "园岭街道"

    async def test_problems(self, client, session, deps):
        await create_tree(session)
        headers = bearer(await factories.department_account(session, "GAJ"))
        await session.commit()
        assert_problem(
            await client.get(f"{PREFIX}/resolve", params={"lon": 100, "lat": 10}, headers=headers),
            404,
            "not-found",
        )
        assert_problem(
            await client.get(f"{PREFIX}/resolve", params={"lon": 999, "lat": 10}, headers=headers),
            422,
            "invalid-input",
        )
        assert_problem(await client.get(f"{PREFIX}/resolve", headers=headers), 422, "invalid-input")
        assert_problem(await client.get(f"{PREFIX}/places/NOPE", headers=headers), 404, "not-found")
        assert_problem(
            await client.get(f"{PREFIX}/places", params={"lon": 1}), 401, "unauthenticated"
        )

    async def test_create_by_the_source_and_refusal_of_others(self, client, session, deps):
        tree = await create_tree(session)
        planner = bearer(await factories.department_account(session, "GHZRJ"))
        police = bearer(await factories.department_account(session, "GAJ"))
        await session.commit()
        data = {
            "code": f"{tree.prefix}P1",
            "kind": "poi",
            "name": "荔枝公园",
            "parent_code": tree.west.code,
            "geometry": point(114.01, 22.52),
        }
        refused = assert_problem(
            await client.post(f"{PREFIX}/places", json=data, headers=police), 403, "forbidden"
        )
        assert refused["source_department"] == "GHZRJ"
        r = await client.post(f"{PREFIX}/places", json=data, headers=planner)
        assert r.status_code == 201, r.text
        assert r.json()["warnings"] == []
        bad = {**data, "code": f"{tree.prefix}P2", "geometry": point(121.47, 31.23)}
        r = await client.post(f"{PREFIX}/places", json=bad, headers=planner)
        assert r.status_code == 201 and len(r.json()["warnings"]) == 2
        r = await client.patch(
            f"{PREFIX}/places/{tree.prefix}P1", json={"name": "荔枝公园（南门）"}, headers=planner
        )
        assert r.json()["properties"]["version"] == 2
        invalid = {
            **data,
            "code": f"{tree.prefix}P3",
            "geometry": {"type": "Point", "coordinates": ["a", "b"]},
        }
        assert_problem(
            await client.post(f"{PREFIX}/places", json=invalid, headers=planner),
            422,
            "invalid-input",
        )


class TestPlacePages:
    async def test_city_district_and_grid_pages(self, client, session, deps):
        tree = await create_tree(session)
        await sign_in_staff(client, session, "GAJ")
        r = await client.get("/registry/places", headers=HTML)
        assert r.status_code == 200 and "<svg" in r.text and "福田区" in r.text
        r = await client.get("/registry/places/440304", headers=HTML)
        assert r.status_code == 200
        assert f'href="/registry/places/{tree.west.code}"' in r.text
        assert "园岭街道" in r.text
        r = await client.get(f"/registry/places/{tree.west.code}", headers=HTML)
        assert r.status_code == 200 and tree.west.code in r.text and "百花社区" in r.text

    async def test_resolve_form_and_its_errors(self, client, session, deps):
        tree = await create_tree(session)
        await sign_in_staff(client, session, "GAJ")
        r = await client.get(
            "/registry/places", params={"lon": "114.03", "lat": "22.52"}, headers=HTML
        )
        assert r.status_code == 200 and tree.east.name in r.text
        r = await client.get(
            "/registry/places", params={"lon": "东经114", "lat": "22.52"}, headers=HTML
        )
        assert 'id="lon-error"' in r.text and 'value="东经114"' in r.text
        r = await client.get("/registry/places", params={"lon": "100", "lat": "10"}, headers=HTML)
        assert 'class="notice warn"' in r.text

    async def test_unknown_place_is_a_404_page(self, client, session, deps):
        await sign_in_staff(client, session, "GAJ")
        r = await client.get("/registry/places/NOPE", headers=HTML)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")

    async def test_citizens_are_refused(self, client, session, deps):
        from tests.core import factories as core_factories
        from tests.core.test_pages import sign_in

        citizen = await core_factories.create_account(session)
        await session.commit()
        await sign_in(client, citizen.username)
        r = await client.get("/registry/places", headers=HTML)
        assert r.status_code == 403
