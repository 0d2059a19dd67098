"""The population registry (人口库): validation, 一数一源, history and as-of reads, masking,
the access log of every read, 我的数据 and reads for the exchange (registry.service)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.ids import make_resident_id
from smartcity.core.models import AuditEntry
from smartcity.exchange.models import Grant, Resource
from smartcity.registry import service, validation
from smartcity.registry.models import AccessLog, Person, Place, RecordVersion
from smartcity.registry.schemas import PersonCreate
from tests.core import factories as core_factories
from tests.core.factories import ROOT
from tests.registry import factories

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


@pytest.fixture
async def gaj(session, deps) -> Principal:
    return await factories.department_principal(session, "GAJ")


@pytest.fixture
async def zwsjj(session, deps) -> Principal:
    return await factories.department_principal(session, "ZWSJJ")


@pytest.fixture
async def scjgj(session, deps) -> Principal:
    return await factories.department_principal(session, "SCJGJ")


async def access_rows(session, person_id) -> list[AccessLog]:
    rows = await session.execute(
        select(AccessLog).where(AccessLog.person_id == person_id).order_by(AccessLog.id)
    )
    return list(rows.scalars())


async def versions(session, person_id) -> list[RecordVersion]:
    rows = await session.execute(
        select(RecordVersion)
        .where(RecordVersion.record_type == "person", RecordVersion.record_id == person_id)
        .order_by(RecordVersion.version)
    )
    return list(rows.scalars())


def new_person(**overrides) -> PersonCreate:
    data = {"id_number": factories.resident_id(), "name": "张三", "hukou_division_code": "440303"}
    data.update(overrides)
    return PersonCreate(**data)


class TestCreatePerson:
    async def test_identity_source_registers_with_derived_sex_and_birth(self, session, gaj):
        number = make_resident_id("440303", date(1992, 7, 15), 123)
        person = await service.create_person(session, gaj, new_person(id_number=number))
        assert (person.sex, person.birth_date, person.version) == ("male", date(1992, 7, 15), 1)
        [first] = await versions(session, person.id)
        assert first.valid_to is None and first.changes == {}
        assert first.source_department_code == "GAJ" and first.actor == gaj.name
        assert first.data["id_number"] == number
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "registry.person.create", AuditEntry.target == str(person.id)
            )
        )
        assert audited == 1

    async def test_lowercase_x_and_spaces_are_normalised(self, session, gaj):
        number = next(
            make_resident_id("440303", date(1995, 1, 1), s)
            for s in range(1000)
            if make_resident_id("440303", date(1995, 1, 1), s).endswith("X")
        )
        typed = " " + number[:6] + " " + number[6:].lower()
        person = await service.create_person(session, gaj, new_person(id_number=typed))
        assert person.id_number == number

    async def test_wrong_check_digit_is_refused(self, session, gaj):
        number = factories.resident_id()
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        with pytest.raises(InvalidInput) as exc:
            await service.create_person(session, gaj, new_person(id_number=wrong))
        assert exc.value.extensions["field"] == "id_number"
        assert exc.value.extensions["rule"] == "checksum"

    async def test_sex_that_contradicts_the_number_names_the_field(self, session, gaj):
        number = factories.resident_id(sex="female")
        with pytest.raises(InvalidInput) as exc:
            await service.create_person(session, gaj, new_person(id_number=number, sex="male"))
        assert exc.value.extensions["field"] == "sex"

    async def test_birth_date_that_contradicts_the_number_names_the_field(self, session, gaj):
        number = factories.resident_id(birth_date=date(1991, 2, 3))
        with pytest.raises(InvalidInput) as exc:
            await service.create_person(
                session, gaj, new_person(id_number=number, birth_date=date(1991, 2, 4))
            )
        assert exc.value.extensions["field"] == "birth_date"

    async def test_matching_sex_and_birth_date_are_accepted(self, session, gaj):
        number = factories.resident_id(birth_date=date(1993, 3, 3), sex="female")
        person = await service.create_person(
            session, gaj, new_person(id_number=number, sex="female", birth_date=date(1993, 3, 3))
        )
        assert person.sex == "female"

    @pytest.mark.parametrize("code", ["449999", "4403", "44030X", "990101"])
    async def test_unknown_hukou_division_is_refused(self, session, gaj, code):
        with pytest.raises(InvalidInput) as exc:
            await service.create_person(session, gaj, new_person(hukou_division_code=code))
        assert exc.value.extensions["field"] == "hukou_division_code"

    async def test_same_id_number_twice_is_a_conflict(self, session, gaj):
        person = await factories.create_person(session)
        with pytest.raises(Conflict) as exc:
            await service.create_person(session, gaj, new_person(id_number=person.id_number))
        assert exc.value.extensions["field"] == "id_number"

    async def test_another_department_may_not_register_and_is_told_the_source(self, session, scjgj):
        with pytest.raises(Forbidden) as exc:
            await service.create_person(session, scjgj, new_person())
        assert "公安局" in exc.value.detail and "身份信息" in exc.value.detail
        assert exc.value.extensions["source_department"] == "GAJ"
        assert exc.value.extensions["attribute_group"] == "identity"

    async def test_identity_source_may_not_set_the_phone(self, session, gaj):
        with pytest.raises(Forbidden) as exc:
            await service.create_person(session, gaj, new_person(phone="13800138000"))
        assert "政务服务数据管理局" in exc.value.detail and "联系方式" in exc.value.detail

    async def test_citizen_may_not_register(self, session):
        citizen = core_factories.principal(await core_factories.create_account(session))
        with pytest.raises(Forbidden):
            await service.create_person(session, citizen, new_person())

    async def test_supervisor_of_the_source_may_not_register(self, session, deps):
        supervisor = await factories.department_principal(session, "GAJ", kind="supervisor")
        with pytest.raises(Forbidden):
            await service.create_person(session, supervisor, new_person())

    async def test_residence_place_must_exist(self, session, gaj):
        with pytest.raises(InvalidInput) as exc:
            await service.create_person(
                session, gaj, new_person(residence_place_code="NO-SUCH-GRID")
            )
        assert exc.value.extensions["field"] == "residence_place_code"

    async def test_admin_may_register_every_group(self, session):
        person = await service.create_person(
            session, ROOT, new_person(phone="13800138000", social_insurance_status="insured")
        )
        assert person.phone == "13800138000"


class TestUpdatePerson:
    async def test_source_changes_its_field_and_history_keeps_old_and_new(self, session, zwsjj):
        with clock.frozen(T0) as advance:
            person = await factories.create_person(session)
            advance(timedelta(hours=1))
            await service.update_person(
                session, zwsjj, person.id, fields={"phone": "13912345678"}, reason="本人申报"
            )
        assert person.phone == "13912345678" and person.version == 2
        first, second = await versions(session, person.id)
        assert first.valid_to == T0 + timedelta(hours=1)
        assert second.valid_from == T0 + timedelta(hours=1) and second.valid_to is None
        assert second.changes == {"phone": ["", "13912345678"]}
        assert (second.attribute_group, second.source_department_code) == ("contact", "ZWSJJ")
        assert (second.actor, second.reason) == (zwsjj.name, "本人申报")
        assert second.data["phone"] == "13912345678"

    async def test_non_source_gets_403_naming_the_source_department_and_group(self, session, gaj):
        person = await factories.create_person(session)
        with pytest.raises(Forbidden) as exc:
            await service.update_person(session, gaj, person.id, fields={"phone": "13912345678"})
        assert "政务服务数据管理局" in exc.value.detail and "联系方式" in exc.value.detail
        assert exc.value.extensions["source_department"] == "ZWSJJ"
        assert exc.value.extensions["source_department_name"] == "政务服务数据管理局"
        assert person.version == 1 and len(await versions(session, person.id)) == 1

    async def test_system_account_of_the_source_may_write(self, session, deps):
        rsj_system = await factories.department_principal(session, "RSJ", kind="system")
        person = await factories.create_person(session)
        await service.update_person(
            session, rsj_system, person.id, fields={"social_insurance_status": "insured"}
        )
        assert person.social_insurance_status == "insured"

    async def test_unknown_social_insurance_status_is_refused(self, session, deps):
        rsj = await factories.department_principal(session, "RSJ")
        person = await factories.create_person(session)
        with pytest.raises(InvalidInput) as exc:
            await service.update_person(
                session, rsj, person.id, fields={"social_insurance_status": "maybe"}
            )
        assert exc.value.extensions["field"] == "social_insurance_status"

    async def test_new_id_number_rederives_sex_and_birth_date(self, session, gaj):
        person = await factories.create_person(session, sex="male")
        number = factories.resident_id(birth_date=date(2001, 9, 9), sex="female")
        await service.update_person(
            session, gaj, person.id, fields={"id_number": number}, reason="更正"
        )
        assert (person.id_number, person.sex, person.birth_date) == (
            number,
            "female",
            date(2001, 9, 9),
        )
        [*_, last] = await versions(session, person.id)
        assert set(last.changes) == {"id_number", "sex", "birth_date"}
        assert last.attribute_group == "identity"

    async def test_sex_alone_must_match_the_number(self, session, gaj):
        person = await factories.create_person(session, sex="male")
        with pytest.raises(InvalidInput) as exc:
            await service.update_person(session, gaj, person.id, fields={"sex": "female"})
        assert exc.value.extensions["field"] == "sex"

    async def test_taking_anothers_id_number_is_a_conflict(self, session, gaj):
        one = await factories.create_person(session)
        two = await factories.create_person(session)
        with pytest.raises(Conflict):
            await service.update_person(session, gaj, two.id, fields={"id_number": one.id_number})

    async def test_identity_and_household_go_together_for_the_police(self, session, gaj):
        person = await factories.create_person(session)
        await service.update_person(
            session, gaj, person.id, fields={"name": "李四", "status": "moved_out"}
        )
        [*_, last] = await versions(session, person.id)
        assert last.attribute_group == "identity,household"
        assert last.source_department_code == "GAJ"

    async def test_one_update_may_not_span_two_sources_even_for_an_admin(self, session, deps):
        person = await factories.create_person(session)
        with pytest.raises(InvalidInput) as exc:
            await service.update_person(
                session, ROOT, person.id, fields={"name": "李四", "phone": "13800138000"}
            )
        assert exc.value.extensions["field"] == "fields"

    async def test_unknown_field_is_refused(self, session, gaj):
        person = await factories.create_person(session)
        with pytest.raises(InvalidInput) as exc:
            await service.update_person(session, gaj, person.id, fields={"shoe_size": 42})
        assert exc.value.extensions["field"] == "shoe_size"

    async def test_bad_status_and_coordinates_are_refused(self, session, gaj):
        person = await factories.create_person(session)
        for fields, name in [
            ({"status": "asleep"}, "status"),
            ({"residence_lat": 91}, "residence_lat"),
            ({"residence_lon": "east"}, "residence_lon"),
        ]:
            with pytest.raises(InvalidInput) as exc:
                await service.update_person(session, gaj, person.id, fields=fields)
            assert exc.value.extensions["field"] == name

    async def test_no_change_writes_no_version(self, session, gaj):
        person = await factories.create_person(session, name="王五")
        await service.update_person(session, gaj, person.id, fields={"name": "王五"})
        assert person.version == 1 and len(await versions(session, person.id)) == 1

    async def test_citizen_cannot_change_even_their_own_record(self, session):
        account = await core_factories.create_account(session)
        person = await factories.create_person(session)
        person.account_id = account.id
        with pytest.raises(Forbidden):
            await service.update_person(
                session, core_factories.principal(account), person.id, fields={"name": "改名"}
            )

    async def test_unknown_person_is_404(self, session, gaj):
        import uuid

        with pytest.raises(NotFound):
            await service.update_person(session, gaj, uuid.uuid4(), fields={"name": "X"})


class TestGetPersonAsOf:
    async def test_reads_each_version_at_its_time(self, session, gaj):
        with clock.frozen(T0) as advance:
            person = await factories.create_person(session, name="旧名")
            advance(timedelta(days=1))
            await service.update_person(session, gaj, person.id, fields={"name": "新名"})
        before = await service.get_person_as_of(session, gaj, person.id, T0 + timedelta(hours=5))
        after = await service.get_person_as_of(session, gaj, person.id, T0 + timedelta(days=2))
        exactly = await service.get_person_as_of(session, gaj, person.id, T0 + timedelta(days=1))
        assert (before.data["name"], before.version) == ("旧名", 1)
        assert (after.data["name"], after.version) == ("新名", 2)
        assert exactly.data["name"] == "新名"
        assert before.as_of == T0 + timedelta(hours=5)

    async def test_before_registration_is_404(self, session, gaj):
        with clock.frozen(T0):
            person = await factories.create_person(session)
        with pytest.raises(NotFound):
            await service.get_person_as_of(session, gaj, person.id, T0 - timedelta(seconds=1))

    async def test_naive_instant_is_refused(self, session, gaj):
        person = await factories.create_person(session)
        with pytest.raises(InvalidInput):
            await service.get_person_as_of(session, gaj, person.id, datetime(2026, 1, 1))

    async def test_as_of_is_masked_and_logged(self, session, scjgj):
        with clock.frozen(T0):
            person = await factories.create_person(session)
        view = await service.get_person_as_of(
            session, scjgj, person.id, T0 + timedelta(1), purpose="核查"
        )
        assert "*" in view.data["id_number"]
        [row] = await access_rows(session, person.id)
        assert (row.purpose, row.department_code) == ("核查", "SCJGJ")


class TestMasking:
    async def test_non_source_department_sees_personal_fields_masked(self, session, scjgj):
        person = await factories.create_person(session, phone="13812341234")
        view = await service.get_person(session, scjgj, person.id)
        number = person.id_number
        assert view.data["id_number"] == number[:4] + "*" * 10 + number[-4:]
        assert view.data["phone"] == "138****1234"
        assert view.data["birth_date"].endswith("-**-**")
        assert view.data["residence_address"].endswith("社区****")
        assert view.data["name"] == person.name
        assert {"id_number", "phone", "birth_date", "residence_address"} <= view.masked

    async def test_source_department_sees_its_own_fields(self, session, gaj):
        person = await factories.create_person(session, phone="13812341234")
        view = await service.get_person(session, gaj, person.id)
        assert view.data["id_number"] == person.id_number
        assert view.data["phone"] == "138****1234"
        assert view.masked == {"phone"}

    async def test_admin_sees_everything_masked(self, session):
        person = await factories.create_person(session)
        view = await service.get_person(session, ROOT, person.id)
        assert "*" in view.data["id_number"]

    async def test_granted_field_is_visible_until_revoked_or_expired(self, session, deps):
        tjj = await core_factories.create_department(session, code="TJJ", name="统计局")
        reader = core_factories.principal(
            await core_factories.create_account(session, kind="staff", department=tjj)
        )
        person = await factories.create_person(session, phone="13812341234")
        resource = Resource(
            code="person-contact",
            title="人口联系方式",
            publisher_department_id=deps["ZWSJJ"].id,
            source_registry="person",
            sharing_class="conditional",
        )
        session.add(resource)
        await session.flush()
        grant = Grant(
            resource_id=resource.id,
            consumer_department_id=tjj.id,
            purpose="人口普查",
            requested_fields=["phone"],
            granted_fields=["phone"],
            status="approved",
            requested_by="x",
        )
        session.add(grant)
        await session.flush()
        assert (await service.get_person(session, reader, person.id)).data["phone"] == (
            "13812341234"
        )
        grant.expires_at = clock.now() - timedelta(minutes=1)
        await session.flush()
        assert (await service.get_person(session, reader, person.id)).data["phone"] == (
            "138****1234"
        )
        grant.expires_at = None
        grant.revoked_at = clock.now()
        await session.flush()
        assert (await service.get_person(session, reader, person.id)).data["phone"] == (
            "138****1234"
        )

    async def test_history_masks_old_and_new_values_for_others(self, session, gaj, zwsjj):
        person = await factories.create_person(session, phone="13800001111")
        await service.update_person(session, zwsjj, person.id, fields={"phone": "13900002222"})
        [latest, first] = await service.person_history(session, gaj, person.id)
        assert latest.changes == {"phone": ["138****1111", "139****2222"]}
        assert (latest.source_department_name, latest.group_titles) == (
            "政务服务数据管理局",
            ["联系方式"],
        )
        assert first.version == 1
        [unmasked, _] = await service.person_history(session, zwsjj, person.id)
        assert unmasked.changes == {"phone": ["13800001111", "13900002222"]}


class TestReadablePersons:
    async def test_citizen_reading_another_person_gets_404(self, session):
        account = await core_factories.create_account(session)
        other = await factories.create_person(session)
        with pytest.raises(NotFound):
            await service.get_person(session, core_factories.principal(account), other.id)

    async def test_citizen_reads_their_own_record_unmasked(self, session):
        account = await core_factories.create_account(session)
        person = await factories.create_person(session, phone="13812341234")
        person.account_id = account.id
        view = await service.get_person(session, core_factories.principal(account), person.id)
        assert view.data["id_number"] == person.id_number and view.data["phone"] == "13812341234"
        assert view.masked == frozenset()

    async def test_enterprise_may_not_read(self, session):
        account = await core_factories.create_account(session, kind="enterprise")
        person = await factories.create_person(session)
        with pytest.raises(Forbidden):
            await service.get_person(session, core_factories.principal(account), person.id)


class TestAccessLog:
    async def test_a_view_writes_one_row_with_who_why_and_what(self, session, gaj):
        person = await factories.create_person(session)
        with clock.frozen(T0):
            await service.get_person(session, gaj, person.id, purpose="户籍核查", via="page")
        [row] = await access_rows(session, person.id)
        assert (row.at, row.actor, row.actor_kind, row.department_code) == (
            T0,
            gaj.name,
            "staff",
            "GAJ",
        )
        assert (row.purpose, row.via) == ("户籍核查", "page")
        assert row.fields == ["birth_date", "id_number", "residence_address"]

    async def test_default_purpose_and_nothing_disclosed_for_non_source(self, session, scjgj):
        person = await factories.create_person(session)
        await service.get_person(session, scjgj, person.id)
        [row] = await access_rows(session, person.id)
        assert (row.purpose, row.fields) == ("查看", [])

    async def test_every_search_row_is_logged(self, session, scjgj):
        people = [await factories.create_person(session, name=f"欧阳{n}") for n in range(3)]
        await factories.create_person(session, name="司马光")
        views, more = await service.search_persons(session, scjgj, name_prefix="欧阳")
        assert [v.id for v in views] == [p.id for p in people] and not more
        for p in people:
            [row] = await access_rows(session, p.id)
            assert (row.purpose, row.via) == ("查询", "api")
        logged = await session.scalar(select(func.count()).select_from(AccessLog))
        assert logged == 3

    async def test_history_read_is_logged(self, session, gaj):
        person = await factories.create_person(session)
        await service.person_history(session, gaj, person.id, via="page")
        [row] = await access_rows(session, person.id)
        assert row.via == "page"


class TestSearchPersons:
    async def test_by_exact_id_number(self, session, gaj):
        person = await factories.create_person(session)
        await factories.create_person(session)
        views, _ = await service.search_persons(session, gaj, id_number=person.id_number.lower())
        assert [v.id for v in views] == [person.id]

    async def test_invalid_id_number_is_refused(self, session, gaj):
        with pytest.raises(InvalidInput) as exc:
            await service.search_persons(session, gaj, id_number="440303199001011234")
        assert exc.value.extensions["field"] == "id_number"

    async def test_name_prefix_ordered_by_name(self, session, gaj):
        for name in ["诸葛亮", "诸葛瑾", "诸葛恪", "诸侯"]:
            await factories.create_person(session, name=name)
        views, _ = await service.search_persons(session, gaj, name_prefix="诸葛")
        assert [v.data["name"] for v in views] == sorted(["诸葛亮", "诸葛瑾", "诸葛恪"])

    async def test_district_by_hukou_or_residence_place(self, session, gaj):
        session.add(Place(code="440304-G1", kind="grid", name="福田网格1", district_code="440304"))
        await session.flush()
        by_hukou = await factories.create_person(session, hukou_division_code="440304")
        by_place = await factories.create_person(
            session, hukou_division_code="110101", residence_place_code="440304-G1"
        )
        await factories.create_person(session, hukou_division_code="440305")
        views, _ = await service.search_persons(session, gaj, district="440304")
        assert {v.id for v in views} == {by_hukou.id, by_place.id}

    async def test_status_and_pagination(self, session, gaj):
        for n in range(5):
            await factories.create_person(session, name=f"端木{n}")
        await factories.create_person(session, name="端木死", status="deceased")
        first, more = await service.search_persons(
            session, gaj, name_prefix="端木", status="living", limit=2
        )
        assert [v.data["name"] for v in first] == ["端木0", "端木1"] and more
        last, more = await service.search_persons(
            session, gaj, name_prefix="端木", status="living", limit=2, offset=4
        )
        assert [v.data["name"] for v in last] == ["端木4"] and not more

    @pytest.mark.parametrize(
        ("criteria", "field"),
        [
            ({"name_prefix": "王", "limit": 201}, "limit"),
            ({"name_prefix": "王", "offset": -1}, "offset"),
            ({"name_prefix": "王", "status": "asleep"}, "status"),
            ({"district": "999999"}, "district"),
            ({}, "id_number"),
        ],
    )
    async def test_bad_criteria_are_refused(self, session, gaj, criteria, field):
        with pytest.raises(InvalidInput) as exc:
            await service.search_persons(session, gaj, **criteria)
        assert exc.value.extensions["field"] == field

    async def test_citizen_finds_only_themselves(self, session):
        account = await core_factories.create_account(session)
        mine = await factories.create_person(session, name="公孙甲")
        mine.account_id = account.id
        await factories.create_person(session, name="公孙乙")
        views, _ = await service.search_persons(
            session, core_factories.principal(account), name_prefix="公孙"
        )
        assert [v.id for v in views] == [mine.id]
        assert views[0].data["id_number"] == mine.id_number


class TestLinkAccount:
    async def test_police_link_a_citizen_account(self, session, gaj):
        account = await core_factories.create_account(session)
        person = await factories.create_person(session)
        await service.link_account(session, gaj, person_id=person.id, username=account.username)
        assert person.account_id == account.id
        await service.link_account(session, gaj, person_id=person.id, username=None)
        assert person.account_id is None

    async def test_only_citizen_accounts(self, session, gaj):
        staff = await core_factories.create_account(session, kind="staff")
        person = await factories.create_person(session)
        with pytest.raises(InvalidInput) as exc:
            await service.link_account(session, gaj, person_id=person.id, username=staff.username)
        assert exc.value.extensions["field"] == "username"

    async def test_an_account_links_to_one_person(self, session, gaj):
        account = await core_factories.create_account(session)
        one = await factories.create_person(session)
        two = await factories.create_person(session)
        await service.link_account(session, gaj, person_id=one.id, username=account.username)
        with pytest.raises(Conflict):
            await service.link_account(session, gaj, person_id=two.id, username=account.username)

    async def test_other_departments_may_not_link(self, session, zwsjj):
        account = await core_factories.create_account(session)
        person = await factories.create_person(session)
        with pytest.raises(Forbidden) as exc:
            await service.link_account(
                session, zwsjj, person_id=person.id, username=account.username
            )
        assert "公安局" in exc.value.detail


class TestMyData:
    async def test_my_record_is_unmasked_and_my_log_shows_departments(self, session, gaj, scjgj):
        account = await core_factories.create_account(session)
        me = core_factories.principal(account)
        person = await factories.create_person(session)
        person.account_id = account.id
        with clock.frozen(T0) as advance:
            await service.get_person(session, gaj, person.id, purpose="户籍核查")
            advance(timedelta(hours=1))
            await service.search_persons(session, scjgj, id_number=person.id_number)
            advance(timedelta(hours=1))
            view = await service.get_my_record(session, me)
        assert view.data["id_number"] == person.id_number
        entries, more = await service.my_access_log(session, me)
        assert not more
        assert [(e.department_name, e.purpose, e.at) for e in entries] == [
            ("市场监督管理局", "查询", T0 + timedelta(hours=1)),
            ("公安局", "户籍核查", T0),
        ]
        # Their own view is logged too, but not listed back to them.
        assert len(await access_rows(session, person.id)) == 3

    async def test_access_log_pages(self, session, gaj):
        account = await core_factories.create_account(session)
        person = await factories.create_person(session)
        person.account_id = account.id
        for n in range(3):
            await service.get_person(session, gaj, person.id, purpose=f"第{n}次")
        me = core_factories.principal(account)
        page, more = await service.my_access_log(session, me, limit=2)
        assert len(page) == 2 and more
        rest, more = await service.my_access_log(session, me, limit=2, offset=2)
        assert len(rest) == 1 and not more

    async def test_unlinked_account_is_404(self, session):
        me = core_factories.principal(await core_factories.create_account(session))
        with pytest.raises(NotFound):
            await service.get_my_record(session, me)
        with pytest.raises(NotFound):
            await service.my_access_log(session, me)


class TestExchangeRead:
    async def test_returns_exactly_the_fields_unmasked_and_logs_the_case(self, session, deps):
        consumer = await factories.department_principal(session, "RSJ", kind="system")
        person = await factories.create_person(session, phone="13812341234")
        rows = await service.exchange_read(
            session,
            consumer,
            record_type="person",
            filters={"id_number": person.id_number},
            fields=["id_number", "name", "phone"],
            purpose="社保参保登记",
            case_number="BJ-2026-0001",
        )
        assert rows == [
            {"id_number": person.id_number, "name": person.name, "phone": "13812341234"}
        ]
        [row] = await access_rows(session, person.id)
        assert (row.via, row.purpose, row.case_number, row.department_code) == (
            "exchange",
            "社保参保登记",
            "BJ-2026-0001",
            "RSJ",
        )
        assert row.fields == ["id_number", "name", "phone"]

    async def test_name_prefix_and_id_field(self, session, deps):
        consumer = await factories.department_principal(session, "RSJ", kind="system")
        person = await factories.create_person(session, name="皇甫谧")
        rows = await service.exchange_read(
            session,
            consumer,
            record_type="person",
            filters={"name_prefix": "皇甫"},
            fields=["id", "birth_date"],
            purpose="x",
        )
        assert rows == [{"id": str(person.id), "birth_date": person.birth_date.isoformat()}]

    async def test_organizations_by_uscc_are_not_access_logged(self, session, deps):
        consumer = await factories.department_principal(session, "RSJ", kind="system")
        org = await factories.create_organization(session)
        rows = await service.exchange_read(
            session,
            consumer,
            record_type="organization",
            filters={"uscc": org.uscc},
            fields=["name", "status"],
            purpose="x",
        )
        assert rows == [{"name": org.name, "status": "active"}]
        assert await session.scalar(select(func.count()).select_from(AccessLog)) == 0

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"fields": ["name", "password"]}, "fields"),
            ({"fields": []}, "fields"),
            ({"filters": {"uscc": "x"}}, "filters"),
            ({"filters": {}}, "filters"),
            ({"filters": {"id_number": "123"}}, "id_number"),
            ({"record_type": "spaceship"}, "record_type"),
            ({"limit": 0}, "limit"),
        ],
    )
    async def test_bad_requests_are_refused(self, session, deps, kwargs, field):
        consumer = await factories.department_principal(session, "RSJ", kind="system")
        args = {
            "record_type": "person",
            "filters": {"name_prefix": "王"},
            "fields": ["name"],
            "purpose": "x",
        }
        args.update(kwargs)
        with pytest.raises(InvalidInput) as exc:
            await service.exchange_read(session, consumer, **args)
        assert exc.value.extensions["field"] == field


class TestCleanPersonFields:
    def test_phone_formats(self):
        assert validation.clean_person_fields({"phone": "138 0013 8000"}, _current())["phone"] == (
            "13800138000"
        )
        with pytest.raises(InvalidInput):
            validation.clean_person_fields({"phone": "12345678901234"}, _current())


def _current() -> dict:
    return {"sex": "male", "birth_date": "1990-01-01", "id_number": "x"}


async def test_persons_are_stored_once(session, deps):
    await factories.create_person(session)
    assert await session.scalar(select(func.count()).select_from(Person)) == 1
