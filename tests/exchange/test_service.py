"""The catalog (资源目录): every rule, including bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from smartcity.core import i18n
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry
from smartcity.exchange import service
from smartcity.exchange.schemas import FieldSpec, ResourceCreate, ResourceUpdate
from tests.core import factories as core_factories
from tests.core.factories import ROOT
from tests.exchange import factories


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert the English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


class TestCreateResource:
    async def test_person_fields_are_personal_and_typed_by_the_registry(self, session):
        _account, gaj = await factories.staff(session, "GAJ")
        resource = await service.create_resource(
            session,
            gaj,
            ResourceCreate(
                code="persons-id",
                title="身份核验",
                source_registry="person",
                fields=[FieldSpec(name="id_number"), FieldSpec(name="name", title="姓名")],
                sharing_class="conditional",
            ),
        )
        assert resource.publisher_department_id == gaj.department_id
        assert resource.fields == [
            {"name": "id_number", "title": "id_number", "type": "string", "personal": True},
            {"name": "name", "title": "姓名", "type": "string", "personal": False},
        ]
        entry = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.action == "exchange.resource.create")
            )
        ).scalar_one()
        assert entry.target == "persons-id"

    async def test_registry_types_come_from_the_columns(self, session):
        resource = await factories.create_resource(
            session,
            source_registry="organization",
            fields=[FieldSpec(name="established_on"), FieldSpec(name="legal_representative_id")],
            publisher="SCJGJ",
        )
        assert [f["type"] for f in resource.fields] == ["date", "uuid"]

    async def test_unknown_registry_field_is_refused(self, session):
        with pytest.raises(InvalidInput) as caught:
            await factories.create_resource(session, fields=[FieldSpec(name="salary")])
        assert caught.value.extensions["field"] == "fields"
        assert "salary" in caught.value.detail

    async def test_repeated_field_is_refused(self, session):
        with pytest.raises(InvalidInput, match="repeated: name"):
            await factories.create_resource(
                session, fields=[FieldSpec(name="name"), FieldSpec(name="name")]
            )

    async def test_code_must_be_unique(self, session):
        await factories.create_resource(session, code="same-code")
        with pytest.raises(Conflict):
            await factories.create_resource(session, code="same-code")

    def test_code_must_be_a_slug(self):
        with pytest.raises(ValueError):
            ResourceCreate(
                code="Persons Basic",
                title="x",
                fields=[FieldSpec(name="name")],
                sharing_class="conditional",
            )

    async def test_open_data_with_personal_fields_is_refused(self, session):
        with pytest.raises(InvalidInput) as caught:
            await factories.create_resource(
                session,
                source_registry="",
                fields=[FieldSpec(name="mobile", personal=True), FieldSpec(name="district")],
                sharing_class="unconditional",
                open_data=True,
            )
        assert caught.value.extensions["field"] == "open_data"
        assert "mobile" in caught.value.detail

    async def test_open_data_must_be_unconditional(self, session):
        with pytest.raises(InvalidInput, match="unconditionally"):
            await factories.create_resource(
                session,
                source_registry="place",
                fields=[FieldSpec(name="code")],
                sharing_class="conditional",
                open_data=True,
                publisher="GHZRJ",
            )

    async def test_persons_are_never_open_data(self, session):
        with pytest.raises(InvalidInput, match="never open data"):
            await factories.create_resource(
                session,
                fields=[FieldSpec(name="sex")],
                sharing_class="unconditional",
                open_data=True,
            )

    async def test_open_data_gets_a_default_licence(self, session):
        resource = await factories.create_resource(
            session,
            source_registry="place",
            fields=[FieldSpec(name="code"), FieldSpec(name="name")],
            sharing_class="unconditional",
            open_data=True,
            publisher="GHZRJ",
        )
        assert resource.license_id == "cc-by-4.0"

    async def test_unknown_licence_is_refused(self, session):
        with pytest.raises(InvalidInput) as caught:
            await factories.create_resource(session, license_id="all-rights-reserved")
        assert caught.value.extensions["field"] == "license_id"

    async def test_staff_publish_only_for_their_department(self, session):
        _account, rsj = await factories.staff(session, "RSJ")
        await factories.department(session, "GAJ")
        with pytest.raises(Forbidden):
            await service.create_resource(
                session,
                rsj,
                ResourceCreate(
                    code="not-mine",
                    title="x",
                    publisher="GAJ",
                    fields=[FieldSpec(name="name")],
                    source_registry="person",
                    sharing_class="conditional",
                ),
            )

    async def test_citizens_cannot_publish(self, session):
        citizen = core_factories.principal(await core_factories.create_account(session))
        with pytest.raises(Forbidden):
            await service.create_resource(
                session,
                citizen,
                ResourceCreate(
                    code="x-y", title="x", fields=[FieldSpec(name="a")], sharing_class="none"
                ),
            )

    async def test_admin_must_name_the_publisher(self, session):
        with pytest.raises(InvalidInput) as caught:
            await service.create_resource(
                session,
                ROOT,
                ResourceCreate(
                    code="x-z", title="x", fields=[FieldSpec(name="a")], sharing_class="none"
                ),
            )
        assert caught.value.extensions["field"] == "publisher"


class TestUpdateResource:
    async def test_publisher_changes_the_sharing_class(self, session):
        resource = await factories.create_resource(session)
        _account, gaj = await factories.staff(session, "GAJ")
        updated = await service.update_resource(
            session, gaj, resource.code, ResourceUpdate(sharing_class="none", title="新标题")
        )
        assert (updated.sharing_class, updated.title) == ("none", "新标题")

    async def test_opening_a_personal_resource_is_refused(self, session):
        resource = await factories.create_resource(session, sharing_class="unconditional")
        with pytest.raises(InvalidInput):
            await service.update_resource(
                session, ROOT, resource.code, ResourceUpdate(open_data=True)
            )

    async def test_other_departments_cannot_change_it(self, session):
        resource = await factories.create_resource(session)
        _account, rsj = await factories.staff(session, "RSJ")
        with pytest.raises(Forbidden):
            await service.update_resource(session, rsj, resource.code, ResourceUpdate(title="x"))


class TestReadableResources:
    async def test_anonymous_callers_see_open_data_only(self, session):
        closed = await factories.create_resource(session)
        opened = await factories.create_resource(
            session,
            source_registry="place",
            fields=[FieldSpec(name="code")],
            sharing_class="unconditional",
            open_data=True,
            publisher="GHZRJ",
        )
        rows, total = await service.list_resources(session, None)
        assert [r.code for r in rows] == [opened.code] and total == 1
        with pytest.raises(NotFound):
            await service.get_resource(session, None, closed.code)

    async def test_signed_in_callers_see_the_whole_catalog(self, session):
        closed = await factories.create_resource(session)
        citizen = core_factories.principal(await core_factories.create_account(session))
        assert (await service.get_resource(session, citizen, closed.code)).id == closed.id

    async def test_withdrawn_resources_only_their_publisher_sees(self, session):
        resource = await factories.create_resource(session)
        await service.update_resource(session, ROOT, resource.code, ResourceUpdate(active=False))
        _a, gaj = await factories.staff(session, "GAJ")
        _b, rsj = await factories.staff(session, "RSJ")
        assert (await service.get_resource(session, gaj, resource.code)).active is False
        with pytest.raises(NotFound):
            await service.get_resource(session, rsj, resource.code)

    async def test_search_filters(self, session):
        await factories.create_resource(session, title="人口基础信息")
        await factories.create_resource(session, title="企业名录", sharing_class="unconditional")
        rows, _ = await service.list_resources(session, ROOT, q="人口")
        assert [r.title for r in rows] == ["人口基础信息"]
        rows, _ = await service.list_resources(session, ROOT, sharing_class="unconditional")
        assert [r.title for r in rows] == ["企业名录"]
