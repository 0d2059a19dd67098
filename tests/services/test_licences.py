"""Licences (证照): issued and signed on approval, checked by number and by file, revoked by
the issuing department; the holder's pages and the public pages."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service as cases
from smartcity.cases.models import Case
from smartcity.core import clock, signatures, signing
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from smartcity.core.models import Account, AuditEntry, Notification
from smartcity.core.ratelimit import RateLimiter
from smartcity.core.security import issue_access_token
from smartcity.services import licences
from smartcity.services.models import Licence, ServiceItem
from smartcity.services.types import BASE_NAME
from smartcity.settings import get_settings
from tests.cases.factories import World, person, world
from tests.problems import assert_problem
from tests.registry import factories as registry_factories
from tests.services.factories import ADMIN, create_item

CST = timezone(timedelta(hours=8))
DAY = datetime(2026, 10, 13, 10, tzinfo=CST)
HTML = {"accept": "text/html"}


# --- helpers the other test files share ---------------------------------------------------


async def audited(session: AsyncSession, target: str) -> list[str]:
    rows = await session.execute(
        select(AuditEntry.action).where(AuditEntry.target == target).order_by(AuditEntry.seq)
    )
    return list(rows.scalars())


async def food_item(session: AsyncSession, **overrides: Any) -> ServiceItem:
    """SCJGJ-003 食品经营许可 of the department SCJGJ."""
    existing = (
        await session.execute(
            select(ServiceItem).where(ServiceItem.code == overrides.get("code", "SCJGJ-003"))
        )
    ).scalar_one_or_none()
    return existing or await create_item(session, **overrides)


async def open_application(
    session: AsyncSession, w: World, item: ServiceItem, applicant: Any = None
) -> Case:
    return await cases.open_case(
        session,
        applicant or w.applicant_p,
        case_type=BASE_NAME,
        title=item.name,
        department_code="SCJGJ",
        category=item.code,
        statutory_days=item.statutory_days,
        promised_days=item.promised_days,
    )


async def approved(
    session: AsyncSession, w: World, item: ServiceItem, applicant: Any = None
) -> Case:
    """An application taken through 受理, 审查 and 准予许可."""
    case_ = await open_application(session, w, item, applicant)
    for step in ("accept", "review", "approve"):
        case_ = await cases.transition(
            session, w.officer_p, case_.id, step, fields={"opinion": "经审查，同意。"}
        )
    return case_


async def licence_of(session: AsyncSession, case_: Case) -> Licence:
    found = await licences.licence_for_case(session, case_.id)
    assert found is not None
    return found


async def linked_person(session: AsyncSession, account: Account, **data: Any) -> Any:
    record = await registry_factories.create_person(session, **data)
    record.account_id = account.id
    await session.flush()
    return record


def bearer(account: Account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


def full(base: str) -> str:
    """A licence number with its check part, as the platform issues it."""
    return f"{base}-{licences.check_part(base)}"


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


# --- issuing (发证) -------------------------------------------------------------------------


class TestIssuing:
    async def test_approval_issues_one_signed_licence(self, session: AsyncSession) -> None:
        w = await world(session)
        item = await food_item(session)
        who = await linked_person(session, w.applicant, name="张三")
        with clock.frozen(DAY):
            case_ = await approved(session, w, item)
            case_ = await cases.transition(session, w.officer_p, case_.id, "deliver")
        count = (
            await session.execute(
                select(func.count()).select_from(Licence).where(Licence.case_id == case_.id)
            )
        ).scalar_one()
        assert count == 1  # 送达 issues nothing more
        lic = await licence_of(session, case_)
        assert lic.number == full("SCJGJ-003-2026-000001")
        assert lic.holder_account_id == w.applicant.id
        assert lic.valid_until == date(2031, 10, 12)  # 食品经营许可证: five years

        doc = json.loads(lic.document)
        assert lic.document.encode() == licences.canonical_json(doc)  # canonical, byte for byte
        assert " " not in lic.document.replace("食品经营许可证", "")
        masked = who.id_number[:4] + "*" * 10 + who.id_number[-4:]
        assert doc == {
            "format": "smartcity-licence/v1",
            "number": full("SCJGJ-003-2026-000001"),
            "title": "食品经营许可证",
            "item": {"code": "SCJGJ-003", "name": "食品经营许可"},
            "holder": {"name": "张三", "identifier_type": "resident_id", "identifier": masked},
            "department": {"code": "SCJGJ", "name": "深圳市SCJGJ"},
            "issued_on": "2026-10-13",
            "valid_until": "2031-10-12",
            "case_number": case_.number,
        }
        assert who.id_number not in lic.document

        sig = signing.DetachedSignature.from_json(lic.signature)
        assert sig.algorithm == "SM2"
        result, key = await signatures.verify_document(
            session, document=lic.document.encode(), signature_json=lic.signature
        )
        assert result.valid and key is not None and key.fingerprint == sig.key_fingerprint

        actions = await audited(session, lic.number)
        assert "core.signature.sign" in actions and "services.licence.issued" in actions

    async def test_numbers_run_per_item_and_year(self, session: AsyncSession) -> None:
        w = await world(session)
        food = await food_item(session)
        # "_" is a LIKE wildcard: this code must not share SCJGJ-003's sequence.
        lookalike = await food_item(session, code="SCJGJ_003", name="药品零售企业许可")
        with clock.frozen(DAY):
            first = await approved(session, w, food)
            second = await approved(session, w, food)
            other = await approved(session, w, lookalike)
        with clock.frozen(datetime(2027, 1, 4, 10, tzinfo=CST)):
            next_year = await approved(session, w, food)
        numbers = [(await licence_of(session, c)).number for c in (first, second, other, next_year)]
        assert numbers == [
            full("SCJGJ-003-2026-000001"),
            full("SCJGJ-003-2026-000002"),
            full("SCJGJ_003-2026-000001"),
            full("SCJGJ-003-2027-000001"),
        ]
        assert json.loads((await licence_of(session, other)).document)["title"] == (
            "药品零售企业许可证"
        )

    async def test_a_number_taken_meanwhile_is_skipped(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        w = await world(session)
        item = await food_item(session)
        with clock.frozen(DAY):
            first = await approved(session, w, item)
        taken = (await licence_of(session, first)).number
        real = licences._next_number
        calls: list[str] = []

        async def racing(session: AsyncSession, item: ServiceItem, issued_on: date) -> str:
            # The first try sees the sequence before another approval's insert landed.
            calls.append("x")
            return taken if len(calls) == 1 else await real(session, item, issued_on)

        monkeypatch.setattr(licences, "_next_number", racing)
        with clock.frozen(DAY):
            second = await approved(session, w, item)
        assert len(calls) == 2
        assert (await licence_of(session, second)).number == full("SCJGJ-003-2026-000002")
        # The failed attempt left no trace: one signing audited per licence.
        signed = (
            await session.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "core.signature.sign", AuditEntry.target == taken)
            )
        ).scalar_one()
        assert signed == 1

    async def test_enterprise_holder_and_unknown_holder(self, session: AsyncSession) -> None:
        w = await world(session)
        item = await food_item(session)
        company_account, company_p = await person(session, "enterprise")
        org = await registry_factories.create_organization(session, name="深圳市老街面馆有限公司")
        org.account_id = company_account.id
        await session.flush()
        with clock.frozen(DAY):
            by_company = await approved(session, w, item, company_p)
            by_unlinked = await approved(session, w, item)  # no registry record
        holder = json.loads((await licence_of(session, by_company)).document)["holder"]
        # The registry shows a USCC in full (it is printed on every 营业执照).
        assert holder == {"name": org.name, "identifier_type": "uscc", "identifier": org.uscc}
        unlinked = json.loads((await licence_of(session, by_unlinked)).document)["holder"]
        assert unlinked == {
            "name": w.applicant.display_name,
            "identifier_type": "",
            "identifier": "",
        }

    async def test_a_case_without_an_item_gets_no_licence(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await cases.open_case(
            session,
            w.applicant_p,
            case_type=BASE_NAME,
            title="不在目录中的事项",
            department_code="SCJGJ",
            category="NO-SUCH-ITEM",
        )
        for step in ("accept", "review", "approve"):
            case_ = await cases.transition(
                session, w.officer_p, case_.id, step, fields={"opinion": "经审查，同意。"}
            )
        assert case_.state == "approved"
        assert await licences.licence_for_case(session, case_.id) is None

    @pytest.mark.parametrize(
        ("name", "title"),
        [
            ("食品经营许可", "食品经营许可证"),
            ("建设工程规划许可", "建设工程规划许可证"),
            ("医疗机构执业登记", "医疗机构执业许可证"),
            ("个体工商户设立登记", "营业执照"),
            ("企业名称变更登记", "营业执照"),
            ("无犯罪记录证明", "无犯罪记录证明"),
            ("居住证办理", "居住证"),
            ("社会保障卡申领", "社会保障卡"),
            ("居民身份证换领", "居民身份证"),
            ("失业保险金申领", "准予行政许可决定书"),
            ("建设项目环境影响报告表审批", "准予行政许可决定书"),
        ],
    )
    def test_title_rule(self, name: str, title: str) -> None:
        assert licences.licence_title(name) == title

    def test_validity_rule(self) -> None:
        assert licences.validity_years("食品经营许可证") == 5
        assert licences.validity_years("公共场所卫生许可证") == 4
        assert licences.validity_years("营业执照") is None
        assert licences._valid_until(date(2028, 2, 29), 5) == date(2033, 2, 27)


# --- checking (核验) ------------------------------------------------------------------------


async def _issued(session: AsyncSession) -> tuple[World, Licence]:
    w = await world(session)
    item = await food_item(session)
    await linked_person(session, w.applicant)
    with clock.frozen(DAY):
        case_ = await approved(session, w, item)
    return w, await licence_of(session, case_)


class TestChecking:
    async def test_by_number(self, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        with clock.frozen(DAY):
            check = await licences.check_licence(session, f" {lic.number.lower()} ")
        assert (check.status, check.reason, check.signature_valid) == ("valid", "valid", True)
        assert check.document is not None and check.document["number"] == lic.number
        with clock.frozen(datetime(2031, 10, 13, 10, tzinfo=CST)):
            assert (await licences.check_licence(session, lic.number)).status == "expired"
        with pytest.raises(NotFound):
            await licences.check_licence(session, full("SCJGJ-003-2026-999999"))
        for bad in ("", "x", "A" * 47, "SCJGJ 003", "<script>"):
            with pytest.raises(InvalidInput):
                await licences.check_licence(session, bad)

    async def test_a_tampered_row_is_invalid(self, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        lic.document = lic.document.replace("食品经营许可证", "药品经营许可证")
        await session.flush()
        check = await licences.check_licence(session, lic.number)
        assert (check.status, check.reason, check.signature_valid) == (
            "invalid",
            "document_changed",
            False,
        )
        assert check.document is None  # nothing forged is shown as the licence
        lic.signature = "{not json"
        await session.flush()
        assert (await licences.check_licence(session, lic.number)).status == "invalid"

    async def test_files(self, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        document, signature = lic.document.encode(), lic.signature.encode()
        with clock.frozen(DAY):
            check = await licences.check_licence_file(session, document, signature)
        assert (check.status, check.signature_valid) == ("valid", True)

        # One byte changed: the digest no longer matches.
        altered = document.replace(b"2031-10-12", b"2041-10-12")
        check = await licences.check_licence_file(session, altered, signature)
        assert (check.status, check.reason, check.signature_valid) == (
            "invalid",
            "document_changed",
            False,
        )

        # A signature made with a key the platform does not know.
        secret = b"someone-else's-secret"
        stranger = signing.generate_key("SM2", secret)
        forged = signing.sign_document(
            "SM2",
            stranger.private_key_pem_encrypted,
            stranger.public_key_pem,
            secret,
            altered,
            clock.now(),
        )
        check = await licences.check_licence_file(session, altered, forged.to_json().encode())
        assert (check.status, check.reason) == ("invalid", "unknown_key")

        # Signed by the platform's own key (staff may sign documents) but never issued.
        fake = licences.canonical_json({**json.loads(lic.document), "holder": {"name": "李四"}})
        signed = await signatures.sign_document(
            session, ADMIN, algorithm="SM2", document=fake, name="fake"
        )
        check = await licences.check_licence_file(session, fake, signed.to_json().encode())
        assert (check.status, check.reason, check.signature_valid) == (
            "invalid",
            "not_issued",
            True,
        )

    async def test_bad_files(self, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        document, signature = lic.document.encode(), lic.signature.encode()
        for bad in (b"{not json", b"[]", b'{"algorithm": "SM2"}', signature[:-20]):
            with pytest.raises(InvalidInput) as info:
                await licences.check_licence_file(session, document, bad)
            assert info.value.extensions["field"] == "signature"
        with pytest.raises(InvalidInput) as info:
            await licences.check_licence_file(session, b"  ", signature)
        assert info.value.extensions["field"] == "document"
        with pytest.raises(PayloadTooLarge) as too_large:
            await licences.check_licence_file(
                session, b"x" * (licences.DOCUMENT_MAX_BYTES + 1), signature
            )
        assert too_large.value.extensions["field"] == "document"
        with pytest.raises(PayloadTooLarge):
            await licences.check_licence_file(
                session, document, b"x" * (licences.SIGNATURE_MAX_BYTES + 1)
            )


# --- revoking and reading (撤销、查阅) --------------------------------------------------------


class TestRevoking:
    async def test_revoke_flow(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        with clock.frozen(DAY + timedelta(days=30)):
            await licences.revoke_licence(session, w.colleague_p, lic.number, "  以欺骗手段取得  ")
        assert lic.revoked_reason == "以欺骗手段取得"
        assert lic.revoked_by == w.colleague_p.name
        check = await licences.check_licence(session, lic.number)
        assert (check.status, check.signature_valid) == ("revoked", True)
        # A genuine file of a revoked licence: the signature holds, the licence does not.
        by_file = await licences.check_licence_file(
            session, lic.document.encode(), lic.signature.encode()
        )
        assert (by_file.status, by_file.signature_valid) == ("revoked", True)

        told = (
            await session.execute(
                select(Notification).where(
                    Notification.account_id == w.applicant.id,
                    Notification.topic == "services.licence.revoked",
                )
            )
        ).scalar_one()
        assert "以欺骗手段取得" in told.body and lic.number in told.body
        assert told.link == f"/my/licences/{lic.number}"
        actions = await audited(session, lic.number)
        assert "services.licence.revoked" in actions

        with pytest.raises(Conflict):
            await licences.revoke_licence(session, w.officer_p, lic.number, "再次撤销")

    async def test_who_may_revoke(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        with pytest.raises(Forbidden):  # another department's staff
            await licences.revoke_licence(session, w.outsider_p, lic.number, "理由")
        for p in (w.applicant_p, w.stranger_p, w.supervisor_p):
            with pytest.raises(Forbidden):
                await licences.revoke_licence(session, p, lic.number, "理由")
        assert lic.revoked_at is None
        await licences.revoke_licence(session, ADMIN, lic.number, "行政复议决定撤销")
        assert lic.revoked_at is not None

    async def test_bad_input(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        for reason in ("", "   ", "理" * 501):
            with pytest.raises(InvalidInput) as info:
                await licences.revoke_licence(session, w.officer_p, lic.number, reason)
            assert info.value.extensions["field"] == "reason"
        with pytest.raises(NotFound):
            await licences.revoke_licence(session, w.officer_p, "SCJGJ-003-2026-999999", "理由")
        with pytest.raises(InvalidInput):
            await licences.revoke_licence(session, w.officer_p, "not a number", "理由")
        assert lic.revoked_at is None

    async def test_who_reads_which_licences(self, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        assert [x.number for x in await licences.list_licences(session, w.applicant_p)] == [
            lic.number
        ]
        assert await licences.get_licence(session, w.officer_p, lic.number) is lic
        assert await licences.get_licence(session, w.supervisor_p, lic.number) is lic
        for p in (w.stranger_p, w.outsider_p):
            assert await licences.list_licences(session, p) == []
            with pytest.raises(NotFound):
                await licences.get_licence(session, p, lic.number)


# --- API ----------------------------------------------------------------------------------


class TestApi:
    async def test_public_check_and_file_check(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _w, lic = await _issued(session)
        await session.commit()
        r = await client.get(f"/api/v1/licences/{lic.number}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "valid" and body["signature_valid"] is True
        assert body["title"] == "食品经营许可证" and body["department_name"] == "深圳市SCJGJ"
        doc = json.loads(lic.document)
        name = doc["holder"]["name"]
        assert body["holder_name_masked"] == licences.mask_holder_name(name, "resident_id")
        assert body["holder_name_masked"] != name and body["holder_name_masked"][0] == name[0]
        # The public answer names nobody: no full name, identity number, item or case.
        for private in ("holder_name", "holder_identifier", "item_code", "case_number"):
            assert private not in body
        assert name not in r.text and doc["case_number"] not in r.text
        assert doc["holder"]["identifier"] not in r.text

        unknown = await client.get(f"/api/v1/licences/{full('SCJGJ-003-2026-999999')}")
        assert_problem(unknown, 404, "not-found")
        assert_problem(await client.get("/api/v1/licences/bad%20number"), 422, "invalid-input")

        pair = {"document": lic.document, "signature": lic.signature}
        r = await client.post("/api/v1/licences/verify", json=pair)
        assert r.status_code == 200 and r.json()["status"] == "valid", r.text
        as_objects = {"document": json.loads(lic.document), "signature": json.loads(lic.signature)}
        r = await client.post("/api/v1/licences/verify", json=as_objects)
        assert r.json()["status"] == "valid"
        tampered = {**pair, "document": lic.document.replace("张", "王", 1).replace("0001", "0002")}
        r = await client.post("/api/v1/licences/verify", json=tampered)
        assert r.status_code == 200
        assert r.json()["status"] == "invalid" and r.json()["title"] is None

        r = await client.post("/api/v1/licences/verify", json={**pair, "signature": "{oops"})
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "signature"
        r = await client.post("/api/v1/licences/verify", json={"document": lic.document})
        assert_problem(r, 422, "invalid-input")
        huge = {**pair, "document": "x" * (licences.DOCUMENT_MAX_BYTES + 1)}
        assert_problem(
            await client.post("/api/v1/licences/verify", json=huge), 422, "invalid-input"
        )

    async def test_checks_are_rate_limited_across_numbers(
        self, app: Any, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _w, lic = await _issued(session)
        await session.commit()
        app.state.rate_limiter = RateLimiter(per_minute=3)
        # One bucket for every number and both kinds of check: walking numbers does not help.
        paths = [f"/api/v1/licences/{lic.number}", "/api/v1/licences/A-2026-000002", "/licences/B"]
        for path in paths:
            assert (await client.get(path)).status_code in (200, 404)
        r = await client.post(
            "/api/v1/licences/verify", json={"document": lic.document, "signature": lic.signature}
        )
        assert_problem(r, 429, "too-many-requests")
        assert "Retry-After" in r.headers

    async def test_revoke(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        outsider = (await session.get(Account, w.outsider_p.id)) or pytest.fail("no outsider")
        await session.commit()
        path = f"/api/v1/licences/{lic.number}/revoke"
        r = await client.post(path, json={"reason": "理由"}, headers=bearer(w.applicant))
        assert_problem(r, 403, "forbidden")
        r = await client.post(path, json={"reason": "理由"}, headers=bearer(outsider))
        assert_problem(r, 403, "forbidden")
        r = await client.post(path, json={"reason": " "}, headers=bearer(w.officer))
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "reason"
        r = await client.post(path, json={}, headers=bearer(w.officer))
        assert_problem(r, 422, "invalid-input")
        r = await client.post(
            "/api/v1/licences/SCJGJ-003-2026-999999/revoke",
            json={"reason": "理由"},
            headers=bearer(w.officer),
        )
        assert_problem(r, 404, "not-found")
        r = await client.post(path, json={"reason": "食品安全事故"}, headers=bearer(w.officer))
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "revoked" and r.json()["revoked_reason"] == "食品安全事故"
        r = await client.post(path, json={"reason": "again"}, headers=bearer(w.officer))
        assert_problem(r, 409, "conflict")
        r = await client.get(f"/api/v1/licences/{lic.number}")
        assert r.json()["status"] == "revoked"

    async def test_holder_files(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        stranger = (await session.get(Account, w.stranger_p.id)) or pytest.fail("no stranger")
        await session.commit()
        r = await client.get("/api/v1/licences", headers=bearer(w.applicant))
        assert [x["number"] for x in r.json()] == [lic.number]
        assert r.json()[0]["status"] == "valid"
        r = await client.get("/api/v1/licences", headers=bearer(stranger))
        assert r.json() == []
        doc = await client.get(
            f"/api/v1/licences/{lic.number}/document", headers=bearer(w.applicant)
        )
        assert doc.status_code == 200 and doc.content == lic.document.encode()
        assert "attachment" in doc.headers["content-disposition"]
        sig = await client.get(
            f"/api/v1/licences/{lic.number}/signature", headers=bearer(w.applicant)
        )
        assert sig.content == lic.signature.encode()
        other = await client.get(
            f"/api/v1/licences/{lic.number}/document", headers=bearer(stranger)
        )
        assert_problem(other, 404, "not-found")


# --- pages --------------------------------------------------------------------------------


class TestPages:
    async def test_public_page(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        await session.commit()
        page = await client.get(f"/licences/{lic.number}", headers=HTML)
        assert page.status_code == 200
        assert 'class="verdict valid"' in page.text
        doc = json.loads(lic.document)
        name = doc["holder"]["name"]
        assert lic.number in page.text
        assert licences.mask_holder_name(name, "resident_id") in page.text
        assert name not in page.text and doc["case_number"] not in page.text
        assert "**********" not in page.text  # no identity number, not even masked
        unknown = await client.get(f"/licences/{full('SCJGJ-003-2026-999999')}", headers=HTML)
        assert unknown.status_code == 404 and 'class="verdict invalid"' in unknown.text

        lic.document = lic.document.replace("SCJGJ", "SCJGX", 1)
        await session.commit()
        page = await client.get(f"/licences/{lic.number}", headers=HTML)
        assert 'class="verdict invalid"' in page.text and "食品经营许可证" not in page.text

    async def test_verify_forms(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        await session.commit()
        r = await client.get(f"/licences/verify?number={lic.number.lower()}", headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == f"/licences/{lic.number}"
        r = await client.get("/licences/verify?number=%3Cscript%3E", headers=HTML)
        assert r.status_code == 422 and 'id="number-error"' in r.text

        form = await client.get("/licences/verify", headers=HTML)
        token = csrf_of(form.text)
        files = {
            "document": ("licence.json", lic.document.encode(), "application/json"),
            "signature": ("licence.sig.json", lic.signature.encode(), "application/json"),
        }
        r = await client.post(
            "/licences/verify", headers=HTML, data={"csrf_token": token}, files=files
        )
        assert r.status_code == 200 and 'class="verdict valid"' in r.text
        changed = {**files, "document": ("l.json", lic.document.encode() + b" ", "text/plain")}
        r = await client.post(
            "/licences/verify", headers=HTML, data={"csrf_token": token}, files=changed
        )
        assert 'class="verdict invalid"' in r.text
        bad_sig = {**files, "signature": ("s.json", b"{nope", "application/json")}
        r = await client.post(
            "/licences/verify", headers=HTML, data={"csrf_token": token}, files=bad_sig
        )
        assert r.status_code == 422 and 'id="signature-error"' in r.text
        big = {**files, "document": ("l.json", b"x" * 40_000, "application/json")}
        r = await client.post(
            "/licences/verify", headers=HTML, data={"csrf_token": token}, files=big
        )
        assert r.status_code == 413 and 'id="document-error"' in r.text
        r = await client.post("/licences/verify", headers=HTML, data={"csrf_token": token})
        assert r.status_code == 422
        r = await client.post("/licences/verify", headers=HTML, data={}, files=files)
        assert r.status_code == 400  # no CSRF token

    async def test_holder_pages(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        stranger = (await session.get(Account, w.stranger_p.id)) or pytest.fail("no stranger")
        await session.commit()
        mine = {**HTML, **bearer(w.applicant)}
        listing = await client.get("/my/licences", headers=mine)
        assert listing.status_code == 200 and lic.number in listing.text
        sheet = await client.get(f"/my/licences/{lic.number}", headers=mine)
        assert sheet.status_code == 200
        assert "<svg" in sheet.text and f"/licences/{lic.number}" in sheet.text
        fingerprint = signing.DetachedSignature.from_json(lic.signature).key_fingerprint
        assert licences.fingerprint_groups(fingerprint) in sheet.text
        doc = await client.get(f"/my/licences/{lic.number}/document.json", headers=mine)
        assert doc.content == lic.document.encode()
        sig = await client.get(f"/my/licences/{lic.number}/signature.json", headers=mine)
        assert sig.content == lic.signature.encode()
        theirs = {**HTML, **bearer(stranger)}
        assert (await client.get(f"/my/licences/{lic.number}", headers=theirs)).status_code == 404
        assert lic.number not in (await client.get("/my/licences", headers=theirs)).text
        anonymous = await client.get("/my/licences", headers=HTML)
        assert anonymous.status_code == 303

    async def test_revoke_page(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w, lic = await _issued(session)
        await session.commit()
        staff = {**HTML, **bearer(w.officer)}
        form = await client.get(f"/licences/{lic.number}/revoke", headers=staff)
        assert form.status_code == 200
        token = csrf_of(form.text)
        r = await client.post(
            f"/licences/{lic.number}/revoke",
            headers=staff,
            data={"csrf_token": token, "reason": ""},
        )
        assert r.status_code == 422 and 'id="reason-error"' in r.text
        r = await client.post(
            f"/licences/{lic.number}/revoke",
            headers=staff,
            data={"csrf_token": token, "reason": "许可条件发生变化"},
        )
        assert r.status_code == 303
        page = await client.get(f"/licences/{lic.number}", headers=HTML)
        assert 'class="verdict revoked"' in page.text and "许可条件发生变化" in page.text
        r = await client.post(
            f"/licences/{lic.number}/revoke",
            headers=staff,
            data={"csrf_token": token, "reason": "再次"},
        )
        assert r.status_code == 409
        citizen = {**HTML, **bearer(w.applicant)}
        assert (
            await client.get(f"/licences/{lic.number}/revoke", headers=citizen)
        ).status_code == 403


def test_reason_codes_cover_every_signing_outcome() -> None:
    assert set(licences.REASON_CODES) >= {
        signing.VALID,
        signing.DOCUMENT_CHANGED,
        signing.SIGNATURE_MISMATCH,
        signing.OTHER_KEY,
        signing.ALGORITHM_MISMATCH,
        signatures.UNKNOWN_KEY,
    }
