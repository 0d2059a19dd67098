"""The demo registries: ten districts with real street names and non-overlapping grids,
residents who resolve to their grid, valid identifiers, a few deliberate quality problems,
reproducible and seeded once."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date

import pytest
import shapely
from faker import Faker
from shapely.geometry import shape
from sqlalchemy import func, select

from smartcity.core.errors import Forbidden
from smartcity.core.ids import SHENZHEN_DISTRICTS, is_valid_resident_id, is_valid_uscc
from smartcity.registry import demo, places
from smartcity.registry.models import Organization, Person, Place, QualityIssue, RecordVersion
from tests.core.factories import ROOT
from tests.registry import factories


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


@pytest.fixture
async def seeded(session, deps):
    counts = await demo.seed_demo(session, ROOT, persons=400, organizations=80, seed=7)
    return counts


class TestSeedDemo:
    async def test_ten_districts_with_streets_communities_and_grids(self, session, seeded):
        assert seeded.grids >= 10 * 3 * 2 * 2
        rows = (
            (await session.execute(select(Place).where(Place.kind.in_(places.AREA_KINDS))))
            .scalars()
            .all()
        )
        streets = [p for p in rows if p.kind == "street"]
        per_district = Counter(s.district_code for s in streets)
        assert set(per_district) == {d.code for d in SHENZHEN_DISTRICTS}
        assert all(3 <= n <= 6 for n in per_district.values())
        assert "园岭街道" in {s.name for s in streets if s.district_code == "440304"}
        assert "葵涌街道" in {s.name for s in streets if s.district_code == "4403DP"}
        children = defaultdict(list)
        for p in rows:
            children[p.parent_code].append(p)
        for street in streets:
            assert 2 <= len(children[street.code]) <= 4
            for community in children[street.code]:
                assert community.kind == "community"
                assert 2 <= len(children[community.code]) <= 4
        assert (seeded.streets, seeded.communities) == (
            len(streets),
            sum(1 for p in rows if p.kind == "community"),
        )

    async def test_grids_do_not_overlap_and_lie_in_shenzhen(self, session, seeded):
        grids = (await session.execute(select(Place).where(Place.kind == "grid"))).scalars().all()
        geoms = [shape(g.geometry) for g in grids]
        tree = shapely.STRtree(geoms)
        for i, geom in enumerate(geoms):
            for j in tree.query(geom, predicate="intersects"):
                if j != i:
                    assert geom.intersection(geoms[j]).area < 1e-12, (grids[i].code, grids[j].code)
            assert places.geometry_warnings(geom) == []

    async def test_residents_resolve_to_their_grid_and_numbers_are_valid(self, session, seeded):
        persons = (await session.execute(select(Person).order_by(Person.id_number))).scalars().all()
        assert len(persons) == seeded.persons == 400
        placed = [p for p in persons if p.residence_place_code]
        for person in placed[:25]:
            found = await places.resolve_point(session, person.residence_lon, person.residence_lat)
            assert found is not None and found.grid.code == person.residence_place_code
            assert found.street is not None and found.street.name in person.residence_address
            assert found.community is not None and found.community.name in person.residence_address
        valid = sum(1 for p in persons if is_valid_resident_id(p.id_number))
        assert valid >= len(persons) - 6  # only the deliberately broken legacy records fail
        versions = (
            await session.execute(select(func.count()).where(RecordVersion.record_type == "person"))
        ).scalar_one()
        assert versions == len(persons)

    async def test_organizations_have_valid_codes_and_real_representatives(self, session, seeded):
        orgs = (await session.execute(select(Organization))).scalars().all()
        assert len(orgs) == seeded.organizations == 80
        assert all(is_valid_uscc(o.uscc) for o in orgs)
        assert all(o.name.startswith("深圳市") for o in orgs)
        with_rep = [o for o in orgs if o.legal_representative_id]
        assert len(with_rep) >= 70
        ids = set((await session.execute(select(Person.id))).scalars())
        assert all(o.legal_representative_id in ids for o in with_rep)
        sections = {o.industry.split(" ")[0] for o in orgs if o.industry}
        assert sections <= set(demo.INDUSTRIES)

    async def test_the_quality_page_has_something_to_show(self, session, seeded):
        open_issues = (
            await session.execute(select(func.count()).where(QualityIssue.resolved_at.is_(None)))
        ).scalar_one()
        assert open_issues == seeded.quality_issues > 0

    async def test_an_address_place_resolves(self, session, seeded):
        address = (
            await session.execute(select(Place).where(Place.kind == "address").limit(1))
        ).scalar_one()
        found = await places.resolve_address(session, address.name + "2楼")
        assert found is not None and found.grid.code == address.parent_code

    async def test_seeds_once(self, session, seeded):
        again = await demo.seed_demo(session, ROOT, persons=400, organizations=80, seed=7)
        assert again == demo.DemoCounts()
        assert (await session.execute(select(func.count()).select_from(Person))).scalar_one() == 400


class TestReproducible:
    def test_the_same_seed_gives_the_same_people(self):
        def people() -> list[dict[str, str]]:
            rng = random.Random(11)
            fake = Faker("zh_CN")
            fake.seed_instance(11)
            gen = demo._People(rng, fake, date(2026, 1, 1))
            grid = demo._Grid(
                "G",
                "第1网格",
                (114.0, 22.5, 114.01, 22.51),
                "百花社区",
                "园岭街道",
                "福田区",
                "440304",
            )
            return [gen.person(grid) for _ in range(5)]

        assert people() == people()


class TestRefusals:
    async def test_a_department_that_is_not_the_source_cannot_seed(self, session, deps):
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden):
            await demo.seed_demo(session, police, persons=10, organizations=0)
