"""Data quality: each rule finds its problem, issues resolve when the data is fixed and stay
put while it is not, the report per department and field, who sees which issues, the job,
the API and the page."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.ids import make_resident_id, make_uscc, parse_resident_id
from smartcity.core.security import seal_totp_secret
from smartcity.registry import quality
from smartcity.registry.models import Organization, Person, QualityIssue
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.core.factories import ROOT
from tests.core.test_pages import HTML, csrf_of, get_form, sign_in
from tests.registry import factories
from tests.registry.place_factories import create_tree
from tests.registry.test_registry_api import assert_problem, bearer
from tests.registry.test_registry_pages import sign_in_staff

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
PREFIX = "/api/v1/registry"


@pytest.fixture
async def deps(session):
    return await factories.source_departments(session)


async def stored_person(session, **fields: Any) -> Person:
    """A person row as old data may hold it: straight into the table, without the checks."""
    number = fields.pop("id_number", None) or factories.resident_id()
    try:
        parsed = parse_resident_id(number)
        sex, birth = parsed.sex, parsed.birth_date
    except ValueError:
        sex, birth = "male", date(1990, 1, 1)
    values: dict[str, Any] = {
        "id_number": number,
        "name": factories.person_name(),
        "sex": sex,
        "birth_date": birth,
        "hukou_division_code": "440303",
        "residence_address": "",
        "phone": "",
    }
    values.update(fields)
    person = Person(**values)
    session.add(person)
    await session.flush()
    return person


async def stored_organization(session, **fields: Any) -> Organization:
    values: dict[str, Any] = {
        "uscc": factories.uscc(),
        "name": "深圳市测试有限公司",
        "org_type": "enterprise",
        "industry": "I 信息传输、软件和信息技术服务业",
    }
    values.update(fields)
    organization = Organization(**values)
    session.add(organization)
    await session.flush()
    return organization


async def open_issues(
    session, record_type: str = "person"
) -> dict[tuple[uuid.UUID, str], QualityIssue]:
    rows = (
        await session.execute(
            select(QualityIssue).where(
                QualityIssue.record_type == record_type, QualityIssue.resolved_at.is_(None)
            )
        )
    ).scalars()
    return {(i.record_id, i.rule): i for i in rows}


class TestPersonRules:
    async def test_each_rule_finds_its_problem_for_the_right_department(self, session, deps):
        tree = await create_tree(session)
        fine = await stored_person(
            session,
            phone="13800138000",
            residence_address="深圳市福田区园岭街道百花社区1号",
            residence_place_code=tree.west.code,
        )
        number = factories.resident_id()
        broken_check = await stored_person(
            session, id_number=number[:17] + ("0" if number[17] != "0" else "1")
        )
        wrong_sex = await stored_person(session, id_number=factories.resident_id(sex="male"))
        wrong_sex.sex = "female"
        bad_hukou = await stored_person(session, hukou_division_code="449999")
        bad_phone = await stored_person(session, phone="12345")
        bad_phone.phone = "1234567"  # 7 digits: neither mobile, landline nor service number
        twin_a = await stored_person(
            session,
            name="欧阳锋",
            id_number=factories.resident_id(birth_date=date(1980, 3, 3), division_code="110101"),
        )
        twin_b = await stored_person(
            session,
            name="欧阳锋",
            id_number=factories.resident_id(birth_date=date(1980, 3, 3), division_code="110101"),
        )
        nowhere = await stored_person(session, residence_address="深圳市某处")
        dangling = await stored_person(session, residence_place_code="NO-SUCH-GRID")
        await session.flush()
        done = await quality.run_quality_checks(session, ROOT, "person")
        issues = await open_issues(session)
        expected = {
            (broken_check.id, "id_number_invalid"): "GAJ",
            (wrong_sex.id, "birth_date_mismatch"): "GAJ",
            (bad_hukou.id, "hukou_division_invalid"): "GAJ",
            (bad_phone.id, "phone_invalid"): "ZWSJJ",
            (twin_a.id, "duplicate_suspect"): "GAJ",
            (twin_b.id, "duplicate_suspect"): "GAJ",
            (nowhere.id, "address_unresolved"): "GAJ",
            (dangling.id, "residence_place_unknown"): "GAJ",
        }
        assert {k: i.department_code for k, i in issues.items()} == expected
        assert (done.open, done.added, done.resolved) == (8, 8, 0)
        assert not any(fine.id == record_id for record_id, _rule in issues)
        # Messages name the fault, never the personal data itself.
        assert broken_check.id_number not in issues[(broken_check.id, "id_number_invalid")].message
        assert (
            issues[(broken_check.id, "id_number_invalid")].message
            == "The check character is wrong."
        )
        assert issues[(twin_a.id, "duplicate_suspect")].field == "id_number"

    async def test_birth_dates_over_120_years_ago(self, session, deps):
        old = await stored_person(
            session, id_number=make_resident_id("110101", date(1900, 1, 1), 11)
        )
        with clock.frozen(T0):
            await quality.run_quality_checks(session, ROOT, "person")
        issues = await open_issues(session)
        assert (old.id, "birth_date_implausible") in issues

    async def test_fixed_problems_resolve_and_others_keep_their_issue(self, session, deps):
        a = await stored_person(session, hukou_division_code="449999")
        b = await stored_person(session, phone="1234567")
        with clock.frozen(T0) as advance:
            await quality.run_quality_checks(session, ROOT, "person")
            first = await open_issues(session)
            a.hukou_division_code = "440304"
            await session.flush()
            advance(timedelta(days=1))
            done = await quality.run_quality_checks(session, ROOT, "person")
        assert (done.added, done.resolved) == (0, 1)
        now_open = await open_issues(session)
        assert set(now_open) == {(b.id, "phone_invalid")}
        kept = now_open[(b.id, "phone_invalid")]
        assert kept.id == first[(b.id, "phone_invalid")].id
        assert kept.detected_at == T0
        resolved = (
            await session.execute(select(QualityIssue).where(QualityIssue.record_id == a.id))
        ).scalar_one()
        assert resolved.resolved_at is not None and resolved.resolved_at > T0

    async def test_a_problem_that_comes_back_is_a_new_issue(self, session, deps):
        a = await stored_person(session, phone="1234567")
        await quality.run_quality_checks(session, ROOT, "person")
        a.phone = "13800138000"
        await session.flush()
        await quality.run_quality_checks(session, ROOT, "person")
        a.phone = "7654321"
        await session.flush()
        done = await quality.run_quality_checks(session, ROOT, "person")
        assert done.added == 1
        rows = (
            (await session.execute(select(QualityIssue).where(QualityIssue.record_id == a.id)))
            .scalars()
            .all()
        )
        assert len(rows) == 2 and sum(1 for r in rows if r.resolved_at is None) == 1


class TestOrganizationRules:
    async def test_credit_code_representative_and_industry(self, session, deps):
        boss = await stored_person(session)
        good = await stored_organization(session, legal_representative_id=boss.id)
        code = make_uscc("9", "1", "440300", "MA5YYY01")
        bad_code = await stored_organization(
            session,
            uscc=code[:17] + ("0" if code[17] != "0" else "1"),
            legal_representative_id=boss.id,
        )
        headless = await stored_organization(session)
        government = await stored_organization(
            session, org_type="government_body", name="某街道办事处"
        )
        no_industry = await stored_organization(
            session, industry="  ", legal_representative_id=boss.id
        )
        done = await quality.run_quality_checks(session, ROOT, "organization")
        issues = await open_issues(session, "organization")
        assert set(issues) == {
            (bad_code.id, "uscc_invalid"),
            (headless.id, "legal_representative_missing"),
            (no_industry.id, "industry_empty"),
        }
        assert {i.department_code for i in issues.values()} == {"SCJGJ"}
        assert done.open == 3
        assert good.id not in {k[0] for k in issues} and government.id not in {k[0] for k in issues}


class TestRunQualityChecks:
    async def test_unknown_registry(self, session, deps):
        with pytest.raises(InvalidInput):
            await quality.run_quality_checks(session, ROOT, "place")

    async def test_staff_may_not_run_the_sweep(self, session, deps):
        police = await factories.department_principal(session, "GAJ")
        with pytest.raises(Forbidden):
            await quality.run_quality_checks(session, police, "person")

    async def test_the_daily_job_runs_every_registry(self, session, deps):
        a = await stored_person(session, phone="1234567")
        o = await stored_organization(session)
        await quality.quality_sweep(session)
        assert (a.id, "phone_invalid") in await open_issues(session)
        assert (o.id, "legal_representative_missing") in await open_issues(session, "organization")
        from smartcity.registry import MODULE

        assert [j.name for j in MODULE.jobs] == ["registry.quality_sweep"]
        assert SYSTEM.kind == "system"


class TestReportAndIssues:
    async def test_report_per_department_and_field_and_who_sees_what(self, session, deps):
        await stored_person(session, phone="1234567")
        await stored_person(session, phone="7654321")
        await stored_person(session, hukou_division_code="449999")
        await quality.run_quality_checks(session, ROOT, "person")
        police = await factories.department_principal(session, "GAJ")
        rows = await quality.quality_report(session, police)
        assert {(r.department_code, r.field, r.rule, r.open) for r in rows} == {
            ("ZWSJJ", "phone", "phone_invalid", 2),
            ("GAJ", "hukou_division_code", "hukou_division_invalid", 1),
        }
        assert {r.department_name for r in rows} == {"政务服务数据管理局", "公安局"}
        mine, total = await quality.list_quality_issues(session, police)
        assert total == 1 and mine[0].rule == "hukou_division_invalid"
        _everything, total = await quality.list_quality_issues(session, ROOT)
        assert total == 3
        data_bureau = await factories.department_principal(session, "ZWSJJ")
        _phones, total = await quality.list_quality_issues(
            session, data_bureau, rule="phone_invalid"
        )
        assert total == 2
        with pytest.raises(InvalidInput):
            await quality.list_quality_issues(session, ROOT, rule="no_such_rule")
        citizen = core_factories.principal(await core_factories.create_account(session))
        with pytest.raises(Forbidden):
            await quality.quality_report(session, citizen)


class TestQualityApi:
    async def test_report_issues_and_run(self, client, session, deps):
        await stored_person(session, phone="1234567")
        admin = await core_factories.create_account(session, kind="admin")
        headers_admin = bearer(admin)
        headers_staff = bearer(await factories.department_account(session, "ZWSJJ"))
        await session.commit()
        r = await client.post(
            f"{PREFIX}/quality/run", params={"record_type": "person"}, headers=headers_admin
        )
        assert r.status_code == 200 and r.json()["added"] == 1
        r = await client.get(f"{PREFIX}/quality/report", headers=headers_staff)
        assert r.json()["total_open"] == 1
        assert r.json()["rows"][0]["department_name"] == "政务服务数据管理局"
        r = await client.get(
            f"{PREFIX}/quality/issues", params={"rule": "phone_invalid"}, headers=headers_staff
        )
        assert r.json()["total"] == 1
        assert_problem(
            await client.post(
                f"{PREFIX}/quality/run", params={"record_type": "person"}, headers=headers_staff
            ),
            403,
            "forbidden",
        )
        assert_problem(
            await client.post(
                f"{PREFIX}/quality/run", params={"record_type": "place"}, headers=headers_admin
            ),
            422,
            "invalid-input",
        )
        assert_problem(
            await client.get(
                f"{PREFIX}/quality/issues", params={"rule": "nope"}, headers=headers_staff
            ),
            422,
            "invalid-input",
        )


class TestQualityPage:
    async def test_lists_problems_with_links_to_the_records(self, client, session, deps):
        person = await stored_person(session, hukou_division_code="449999")
        org = await stored_organization(session)
        await quality.quality_sweep(session)
        await sign_in_staff(client, session, "GAJ", kind="supervisor")
        r = await client.get("/registry/quality", headers=HTML)
        assert r.status_code == 200
        assert f'href="/registry/persons/{person.id}"' in r.text
        assert f'href="/registry/organizations/{org.id}"' in r.text
        r = await client.get("/registry/quality", params={"department": "SCJGJ"}, headers=HTML)
        assert f"/registry/organizations/{org.id}" in r.text and str(person.id) not in r.text
        r = await client.get("/registry/quality", params={"rule": "nope"}, headers=HTML)
        assert r.status_code == 200 and 'id="rule-error"' in r.text
        assert 'action="/registry/quality/run"' not in r.text  # supervisors do not run it

    async def test_an_admin_runs_the_checks_from_the_page(self, client, session, deps):
        await stored_person(session, phone="1234567")
        secret = pyotp.random_base32()
        admin = await core_factories.create_account(session, kind="admin")
        admin.totp_secret_enc = seal_totp_secret(get_settings(), secret)
        admin.totp_enabled = True
        await session.commit()
        await sign_in(client, admin.username)
        token = await get_form(client, "/login/totp")
        await client.post(
            "/login/totp",
            headers=HTML,
            data={"csrf_token": token, "code": pyotp.TOTP(secret).now(), "next": "/"},
        )
        page = await client.get("/registry/quality", headers=HTML)
        refused = await client.post("/registry/quality/run", headers=HTML, data={})
        assert refused.status_code == 400
        r = await client.post(
            "/registry/quality/run", headers=HTML, data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303 and r.headers["location"] == "/registry/quality?ran=1-0"
        r = await client.get(r.headers["location"], headers=HTML)
        assert 'class="notice ok"' in r.text
