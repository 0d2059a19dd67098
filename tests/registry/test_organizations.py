"""The legal-person registry (法人库): USCC validation, legal representatives that must exist,
一数一源 for 市场监管局, history and as-of reads, search (registry.service)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.ids import make_uscc
from smartcity.registry import organizations
from smartcity.registry.models import AccessLog, RecordVersion
from smartcity.registry.schemas import OrganizationCreate
from tests.core import factories as core_factories
from tests.core.factories import ROOT
from tests.registry import factories

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


@pytest.fixture
async def scjgj(session, deps) -> Principal:
    return await factories.department_principal(session, "SCJGJ")


@pytest.fixture
async def representative(session, deps):
    return await factories.create_person(session, name="法人甲")


def new_org(representative=None, **overrides) -> OrganizationCreate:
    data = {
        "uscc": factories.uscc(),
        "name": "深圳市前海示例科技有限公司",
        "org_type": "enterprise",
        "industry": "I",
    }
    if representative is not None:
        data["legal_representative_id_number"] = representative.id_number
    data.update(overrides)
    return OrganizationCreate(**data)


async def org_versions(session, org_id) -> list[RecordVersion]:
    rows = await session.execute(
        select(RecordVersion)
        .where(RecordVersion.record_type == "organization", RecordVersion.record_id == org_id)
        .order_by(RecordVersion.version)
    )
    return list(rows.scalars())


class TestCreateOrganization:
    async def test_registration_source_registers(self, session, scjgj, representative):
        org = await organizations.create_organization(session, scjgj, new_org(representative))
        assert org.legal_representative_id == representative.id and org.version == 1
        [first] = await org_versions(session, org.id)
        assert (first.source_department_code, first.valid_to) == ("SCJGJ", None)

    async def test_lowercase_code_is_normalised(self, session, scjgj):
        code = factories.uscc()
        org = await organizations.create_organization(session, scjgj, new_org(uscc=code.lower()))
        assert org.uscc == code

    async def test_wrong_check_character_is_refused(self, session, scjgj):
        code = factories.uscc()
        wrong = code[:17] + ("0" if code[17] != "0" else "1")
        with pytest.raises(InvalidInput) as exc:
            await organizations.create_organization(session, scjgj, new_org(uscc=wrong))
        assert (exc.value.extensions["field"], exc.value.extensions["rule"]) == (
            "uscc",
            "checksum",
        )

    async def test_wrong_inner_organization_code_is_refused(self, session, scjgj):
        from smartcity.core.ids import uscc_check_char

        good = make_uscc("9", "1", "440300", "MA5T0001")
        inner_wrong = good[:16] + ("0" if good[16] != "0" else "1")
        body = inner_wrong[:17]
        with pytest.raises(InvalidInput) as exc:
            await organizations.create_organization(
                session, scjgj, new_org(uscc=body + uscc_check_char(body))
            )
        assert exc.value.extensions["rule"] == "org_checksum"

    async def test_legal_representative_must_be_registered(self, session, scjgj):
        with pytest.raises(InvalidInput) as exc:
            await organizations.create_organization(
                session,
                scjgj,
                new_org(legal_representative_id_number=factories.resident_id()),
            )
        assert exc.value.extensions["field"] == "legal_representative_id_number"

    async def test_malformed_legal_representative_number_is_refused(self, session, scjgj):
        with pytest.raises(InvalidInput) as exc:
            await organizations.create_organization(
                session, scjgj, new_org(legal_representative_id_number="12345")
            )
        assert exc.value.extensions["field"] == "legal_representative_id_number"

    async def test_same_code_twice_is_a_conflict(self, session, scjgj):
        org = await factories.create_organization(session)
        with pytest.raises(Conflict) as exc:
            await organizations.create_organization(session, scjgj, new_org(uscc=org.uscc))
        assert exc.value.extensions["field"] == "uscc"

    async def test_police_may_not_register_and_are_told_the_source(self, session, deps):
        gaj = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden) as exc:
            await organizations.create_organization(session, gaj, new_org())
        assert "市场监督管理局" in exc.value.detail and "登记信息" in exc.value.detail
        assert exc.value.extensions["source_department"] == "SCJGJ"

    async def test_future_establishment_date_is_refused(self, session, scjgj):
        with pytest.raises(InvalidInput) as exc:
            await organizations.create_organization(
                session, scjgj, new_org(established_on=date(2999, 1, 1))
            )
        assert exc.value.extensions["field"] == "established_on"


class TestUpdateOrganization:
    async def test_new_representative_by_id_number_is_versioned(
        self, session, scjgj, representative
    ):
        with clock.frozen(T0) as advance:
            org = await factories.create_organization(session)
            old = org.legal_representative_id
            advance(timedelta(days=3))
            await organizations.update_organization(
                session,
                scjgj,
                org.id,
                fields={"legal_representative_id_number": representative.id_number},
                reason="法定代表人变更",
            )
        assert org.legal_representative_id == representative.id and org.version == 2
        first, second = await org_versions(session, org.id)
        assert first.valid_to == T0 + timedelta(days=3)
        assert second.changes == {"legal_representative_id": [str(old), str(representative.id)]}
        assert second.attribute_group == "registration"

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"org_type": "club"}, "org_type"),
            ({"status": "sleeping"}, "status"),
            ({"name": "  "}, "name"),
            ({"legal_representative_id": str(uuid.uuid4())}, "legal_representative_id"),
            ({"legal_representative_id": "not-a-uuid"}, "legal_representative_id"),
            ({"established_on": "yesterday"}, "established_on"),
            ({"registered_place_code": "NOWHERE"}, "registered_place_code"),
            ({"colour": "red"}, "colour"),
            ({}, "fields"),
        ],
    )
    async def test_bad_fields_are_refused(self, session, scjgj, fields, field):
        org = await factories.create_organization(session)
        with pytest.raises(InvalidInput) as exc:
            await organizations.update_organization(session, scjgj, org.id, fields=fields)
        assert exc.value.extensions["field"] == field

    async def test_other_departments_get_403_naming_the_source(self, session, deps):
        rsj = await factories.department_principal(session, "RSJ")
        org = await factories.create_organization(session)
        with pytest.raises(Forbidden) as exc:
            await organizations.update_organization(
                session, rsj, org.id, fields={"status": "revoked"}
            )
        assert "市场监督管理局" in exc.value.detail

    async def test_status_change_and_as_of(self, session, scjgj):
        with clock.frozen(T0) as advance:
            org = await factories.create_organization(session)
            advance(timedelta(days=10))
            await organizations.update_organization(
                session, scjgj, org.id, fields={"status": "revoked"}
            )
        then = await organizations.get_organization_as_of(session, scjgj, org.id, T0 + timedelta(1))
        now = await organizations.get_organization_as_of(session, scjgj, org.id, T0 + timedelta(11))
        assert (then.data["status"], then.version) == ("active", 1)
        assert (now.data["status"], now.version) == ("revoked", 2)
        with pytest.raises(NotFound):
            await organizations.get_organization_as_of(
                session, scjgj, org.id, T0 - timedelta(minutes=1)
            )
        history = await organizations.organization_history(session, scjgj, org.id)
        assert [v.version for v in history] == [2, 1]
        assert history[0].changes == {"status": ["active", "revoked"]}
        assert history[0].source_department_name == "市场监督管理局"


class TestReadOrganizations:
    async def test_view_names_the_legal_representative(self, session, scjgj, representative):
        org = await factories.create_organization(session, legal_representative=representative)
        view = await organizations.get_organization(session, scjgj, org.id)
        assert view.legal_representative_name == "法人甲"
        assert view.data["uscc"] == org.uscc
        # Reading an organization is not a read of a person's record.
        assert (await session.execute(select(AccessLog))).first() is None

    async def test_citizen_may_not_read(self, session, deps):
        citizen = core_factories.principal(await core_factories.create_account(session))
        org = await factories.create_organization(session)
        with pytest.raises(Forbidden):
            await organizations.get_organization(session, citizen, org.id)

    async def test_unknown_id_is_404(self, session, scjgj):
        with pytest.raises(NotFound):
            await organizations.get_organization(session, scjgj, uuid.uuid4())


class TestSearchOrganizations:
    async def test_by_uscc_name_status_and_industry(self, session, scjgj, representative):
        a = await factories.create_organization(
            session, legal_representative=representative, name="华强电子有限公司", industry="C"
        )
        b = await factories.create_organization(
            session, legal_representative=representative, name="华强物流有限公司", industry="G"
        )
        await factories.create_organization(
            session,
            legal_representative=representative,
            name="华强旧厂",
            industry="C",
            status="cancelled",
        )
        by_code, _ = await organizations.search_organizations(session, scjgj, uscc=a.uscc)
        assert [v.id for v in by_code] == [a.id]
        by_name, _ = await organizations.search_organizations(
            session, scjgj, name_prefix="华强", status="active"
        )
        # Ordered by name (code point order: 物 U+7269 before 电 U+7535).
        assert [v.id for v in by_name] == [b.id, a.id]
        by_industry, _ = await organizations.search_organizations(
            session, scjgj, name_prefix="华强", industry="C"
        )
        assert len(by_industry) == 2

    async def test_pagination(self, session, scjgj, representative):
        for n in range(3):
            await factories.create_organization(
                session, legal_representative=representative, name=f"鹏城{n}号有限公司"
            )
        page, more = await organizations.search_organizations(
            session, scjgj, name_prefix="鹏城", limit=2
        )
        assert len(page) == 2 and more

    @pytest.mark.parametrize(
        ("criteria", "field"),
        [
            ({"uscc": "91440300MA5T00011X"}, "uscc"),
            ({"status": "asleep"}, "status"),
            ({"limit": 500}, "limit"),
        ],
    )
    async def test_bad_criteria(self, session, scjgj, criteria, field):
        with pytest.raises(InvalidInput) as exc:
            await organizations.search_organizations(session, scjgj, **criteria)
        assert exc.value.extensions["field"] == field

    async def test_admin_registers_without_a_representative(self, session, deps):
        org = await organizations.create_organization(session, ROOT, new_org())
        assert org.legal_representative_id is None
