"""Applying online (网上申报): drafts, 免提交 prefill with sources, validation, materials,
submission to the case engine, 补正, 好差评, the 电子监察 flag, following, and who may read."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from smartcity.cases import flags
from smartcity.cases import service as cases
from smartcity.cases.hooks import panels_for
from smartcity.cases.models import Case, CaseEvent
from smartcity.cli import app, cli_principal
from smartcity.core import clock
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from smartcity.core.models import Account, Notification
from smartcity.registry import organizations
from smartcity.registry.models import AccessLog, Organization
from smartcity.services.application import (
    drafts,
    following,
    materials,
    prefill,
    submission,
)
from smartcity.services.application.materials import UnsupportedMaterial
from smartcity.services.application.panel import case_panel
from smartcity.services.models import Application, Material
from smartcity.services.types import BASE_NAME
from tests.registry import factories as registry_factories
from tests.services import factories as f

# Monday 2 March 2026, 10:00 in Shenzhen: a plain working week with no holiday near.
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def _departments(session: AsyncSession) -> None:
    # The registries' source departments with their real names, before any item makes one.
    await registry_factories.source_departments(session)


async def _case(session: AsyncSession, application: Application) -> Case:
    assert application.case_id is not None
    found = await session.get(Case, application.case_id)
    assert found is not None
    return found


class TestDrafts:
    async def test_start_reuses_the_open_draft(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        first, created = await drafts.start_application(session, me.principal, item.code)
        again, created_again = await drafts.start_application(session, me.principal, item.code)
        assert created and not created_again and again.id == first.id
        assert first.status == "draft" and first.case_id is None

    async def test_item_not_for_this_kind_is_refused_naming_who(
        self, session: AsyncSession
    ) -> None:
        item = await f.enterprise_item(session)
        me = await f.citizen(session)
        with pytest.raises(Forbidden) as refused:
            await drafts.start_application(session, me.principal, item.code)
        assert "enterprises" in refused.value.detail
        assert refused.value.extensions["applicant_kinds"] == ["enterprise"]

    async def test_unknown_or_withdrawn_item_is_404(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        with pytest.raises(NotFound):
            await drafts.start_application(session, me.principal, "NOPE-001")
        item.active = False
        await session.flush()
        with pytest.raises(NotFound):
            await drafts.start_application(session, me.principal, item.code)

    async def test_staff_cannot_apply(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        officer = await f.staff(session)
        with pytest.raises(Forbidden):
            await drafts.start_application(session, officer, item.code)

    async def test_partial_answers_saved_and_reloaded_and_cleared(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        await drafts.save_answers(session, me.principal, draft.id, {"shop": " 老街面馆 "})
        await drafts.save_answers(session, me.principal, draft.id, {"staff": "003"})
        view = await following.describe_application(session, me.principal, draft.id)
        values = {field.name: field.value for field in view.fields}
        assert values["shop"] == "老街面馆" and values["staff"] == "3"
        missing = {m.name for m in view.missing}
        assert missing == {"scope", "opening", "经营场所平面图"}
        await drafts.save_answers(session, me.principal, draft.id, {"shop": ""})
        assert "shop" not in (await session.get(Application, draft.id)).answers  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("name", "value", "stored"),
        [
            ("opening", "2026-04-01", "2026-04-01"),
            ("staff", "12.50", "12.5"),
            ("staff", 7, "7"),
            ("contact_phone", "138 1234 5678", "13812345678"),
            ("contact_phone", "0755-12345678", "0755-12345678"),
            ("scope", "第一行\n第二行", "第一行\n第二行"),
            ("category", "热食类", "热食类"),
        ],
    )
    async def test_valid_values_are_normalised(
        self, session: AsyncSession, name: str, value: Any, stored: str
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        saved = await drafts.save_answers(session, me.principal, draft.id, {name: value})
        assert saved.answers[name] == stored

    async def test_id_number_is_checked_with_its_check_digit(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        number = registry_factories.resident_id()
        wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
        with pytest.raises(InvalidInput) as refused:
            await drafts.save_answers(session, me.principal, draft.id, {"agent_id": wrong})
        assert refused.value.extensions["field"] == "agent_id"
        saved = await drafts.save_answers(
            session, me.principal, draft.id, {"agent_id": number.lower()}
        )
        assert saved.answers["agent_id"] == number.upper()

    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("opening", "2026-02-30"),
            ("opening", "01/04/2026"),
            ("opening", "1850-01-01"),
            ("staff", "-3"),
            ("staff", "three"),
            ("staff", "1e5"),
            ("contact_phone", "12345"),
            ("contact_phone", "1381234567a"),
            ("shop", "x" * 201),
            ("shop", "bad\x00byte"),
            ("scope", "y" * 2001),
            ("shop", True),
            ("shop", ["list"]),
        ],
    )
    async def test_bad_values_are_refused_naming_the_field(
        self, session: AsyncSession, name: str, value: Any
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(InvalidInput) as refused:
            await drafts.save_answers(session, me.principal, draft.id, {name: value})
        assert refused.value.extensions["field"] == name
        assert (await session.get(Application, draft.id)).answers == {}  # type: ignore[union-attr]

    async def test_select_with_options_admits_only_them(self, session: AsyncSession) -> None:
        fields = [
            {"name": "kind", "label": "经营项目", "type": "select", "options": ["热食类", "冷食类"]}
        ]
        item = await f.citizen_item(session, form_fields=fields, materials=[])
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(InvalidInput, match="热食类、冷食类"):
            await drafts.save_answers(session, me.principal, draft.id, {"kind": "生食类"})

    async def test_every_refused_field_is_listed_and_nothing_saved(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(InvalidInput) as refused:
            await drafts.save_answers(
                session,
                me.principal,
                draft.id,
                {"shop": "好店", "opening": "soon", "nope": "x", "name": "别人"},
            )
        errors = {e["field"] for e in refused.value.extensions["errors"]}
        assert errors == {"opening", "nope", "name"}
        assert (await session.get(Application, draft.id)).answers == {}  # type: ignore[union-attr]

    async def test_delete_draft_with_uploads_but_not_a_submitted_one(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft_id = await f.ready_draft(session, me, item)
        await drafts.delete_draft(session, me.principal, draft_id)
        assert await session.get(Application, draft_id) is None
        assert (await session.execute(select(Material))).first() is None
        application, _opened = await f.submitted(session, me, item)
        with pytest.raises(Conflict):
            await drafts.delete_draft(session, me.principal, application.id)


class TestPrefill:
    async def test_linked_citizen_sees_registry_values_with_their_sources_logged(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, name="林小雨")
        assert me.person is not None
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        view = await following.describe_application(session, me.principal, draft.id, via="page")
        by_name = {field.name: field for field in view.fields}
        assert by_name["name"].value == "林小雨"
        assert by_name["id_number"].value == me.person.id_number
        assert by_name["phone"].value == "13812345678"
        assert by_name["name"].source is not None
        assert by_name["name"].source.department_name == "公安局"
        assert by_name["phone"].source.department_code == "ZWSJJ"  # type: ignore[union-attr]
        assert by_name["shop"].source is None and by_name["shop"].note == ""
        id_card = view.materials[0]
        assert id_card.source is not None and id_card.provided
        assert id_card.registry_value == me.person.id_number
        assert view.registry_note == ""
        assert {m.name for m in view.missing} == {
            "shop",
            "scope",
            "opening",
            "staff",
            "经营场所平面图",
        }
        [row] = (await session.execute(select(AccessLog))).scalars()
        assert row.person_id == me.person.id and row.via == "page"
        assert row.purpose.startswith(prefill.PURPOSE) and item.name in row.purpose
        assert set(row.fields) == {"id_number", "phone", "residence_address"}

    async def test_prefilled_fields_are_not_asked_again(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(InvalidInput) as refused:
            await drafts.save_answers(session, me.principal, draft.id, {"phone": "13900000000"})
        assert refused.value.extensions["field"] == "phone"
        with pytest.raises(InvalidInput):
            await materials.upload_material(
                session, me.principal, draft.id, name="居民身份证", filename="id.png", content=f.PNG
            )

    async def test_not_linked_citizen_fills_the_fields_in_with_a_note(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, linked=False)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        view = await following.describe_application(session, me.principal, draft.id)
        assert "not linked" in view.registry_note
        name = next(field for field in view.fields if field.name == "name")
        assert name.source is None and "not linked" in name.note
        assert view.materials[0].source is None and "not linked" in view.materials[0].note
        missing = {m.name for m in view.missing}
        assert {"name", "id_number", "phone", "address", "居民身份证"} <= missing
        number = registry_factories.resident_id()
        await drafts.save_answers(
            session,
            me.principal,
            draft.id,
            {
                **f.GOOD_ANSWERS,
                "name": "王五",
                "id_number": number,
                "phone": "13712345678",
                "address": "深圳市福田区福中三路1号",
            },
        )
        for name_, file in (("居民身份证", f.JPEG), ("经营场所平面图", f.PDF)):
            await materials.upload_material(
                session, me.principal, draft.id, name=name_, filename="scan", content=file
            )
        application = await submission.submit_application(session, me.principal, draft.id)
        data = (await _case(session, application)).data
        assert data["prefilled"] == {} and data["registry_materials"] == []
        assert data["answers"]["id_number"] == number
        assert {m["name"] for m in data["materials"]} == {"居民身份证", "经营场所平面图"}
        assert (await session.execute(select(AccessLog))).first() is None

    async def test_registry_without_a_value_leaves_the_field_to_the_applicant(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, phone="")
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        view = await following.describe_application(session, me.principal, draft.id)
        phone = next(field for field in view.fields if field.name == "phone")
        assert phone.source is None and "no value" in phone.note
        saved = await drafts.save_answers(session, me.principal, draft.id, {"phone": "13912345678"})
        assert saved.answers["phone"] == "13912345678"

    async def test_submission_keeps_prefilled_values_and_sources_in_the_case(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, name="陈静")
        assert me.person is not None
        _application, case = await f.submitted(session, me, item)
        prefilled = case.data["prefilled"]
        assert prefilled["name"] == {
            "label": "姓名",
            "value": "陈静",
            "registry": "person",
            "field": "name",
            "department_code": "GAJ",
            "department_name": "公安局",
        }
        assert prefilled["id_number"]["value"] == me.person.id_number
        assert prefilled["phone"]["department_code"] == "ZWSJJ"
        assert "name" not in case.data["answers"] and case.data["answers"]["shop"] == "老街面馆"
        [registry_material] = case.data["registry_materials"]
        assert registry_material["name"] == "居民身份证"
        assert registry_material["value"] == me.person.id_number
        labelled = {field["name"]: field for field in case.data["fields"]}
        assert labelled["shop"]["source"] is None and labelled["name"]["source"]["field"] == "name"
        logged = (
            await session.execute(select(AccessLog).where(AccessLog.case_number == case.number))
        ).scalar_one()
        assert logged.via == "api" and "id_number" in logged.fields

    async def test_linked_enterprise_gets_its_registration_prefilled(
        self, session: AsyncSession
    ) -> None:
        item = await f.enterprise_item(session)
        firm = await f.enterprise(session)
        assert firm.organization is not None
        draft, _ = await drafts.start_application(session, firm.principal, item.code)
        view = await following.describe_application(session, firm.principal, draft.id)
        by_name = {field.name: field for field in view.fields}
        assert by_name["org_name"].value == firm.organization.name
        assert by_name["uscc"].value == firm.organization.uscc
        assert by_name["uscc"].source.department_name == "市场监督管理局"  # type: ignore[union-attr]
        assert view.materials[0].source is not None  # 营业执照: 免提交
        await drafts.save_answers(
            session,
            firm.principal,
            draft.id,
            {"contact": "李经理", "phone": "0755-88889999", "new_name": "深圳市新名科技有限公司"},
        )
        await materials.upload_material(
            session, firm.principal, draft.id, name="变更决议", filename="决议.pdf", content=f.PDF
        )
        application = await submission.submit_application(session, firm.principal, draft.id)
        case = await _case(session, application)
        assert case.data["prefilled"]["uscc"]["value"] == firm.organization.uscc
        assert case.data["applicant_kind"] == "enterprise"
        assert case.title == f"{item.name}（{firm.organization.name}）"
        # An organization's record is no person's: nothing goes to the persons' access log.
        assert (await session.execute(select(AccessLog))).first() is None

    async def test_not_linked_enterprise_fills_in_its_details(self, session: AsyncSession) -> None:
        item = await f.enterprise_item(session)
        firm = await f.enterprise(session, linked=False)
        draft, _ = await drafts.start_application(session, firm.principal, item.code)
        view = await following.describe_application(session, firm.principal, draft.id)
        assert "legal-person registry" in view.registry_note
        assert all(field.source is None for field in view.fields)
        with pytest.raises(InvalidInput) as refused:
            await submission.submit_application(session, firm.principal, draft.id)
        names = {m["name"] for m in refused.value.extensions["missing"]}
        assert {"org_name", "uscc", "营业执照", "变更决议"} <= names


class TestEnterpriseAccountLink:
    async def test_registration_source_links_and_unlinks(self, session: AsyncSession) -> None:
        firm = await f.enterprise(session, linked=False)
        org = await registry_factories.create_organization(session)
        scjgj = await f.staff(session, "SCJGJ")
        await organizations.link_account(
            session, scjgj, organization_id=org.id, username=firm.account.username
        )
        assert await organizations.my_organization(session, firm.principal) is org
        await organizations.link_account(session, scjgj, organization_id=org.id, username=None)
        assert await organizations.my_organization(session, firm.principal) is None

    async def test_refusals(self, session: AsyncSession) -> None:
        firm = await f.enterprise(session)
        me = await f.citizen(session, linked=False)
        other = await registry_factories.create_organization(session)
        scjgj = await f.staff(session, "SCJGJ")
        with pytest.raises(Forbidden):
            await organizations.link_account(
                session,
                await f.staff(session, "GAJ"),
                organization_id=other.id,
                username=firm.account.username,
            )
        with pytest.raises(InvalidInput):
            await organizations.link_account(
                session, scjgj, organization_id=other.id, username=me.account.username
            )
        with pytest.raises(Conflict):
            await organizations.link_account(
                session, scjgj, organization_id=other.id, username=firm.account.username
            )
        assert await organizations.my_organization(session, me.principal) is None


class TestMaterials:
    @pytest.mark.parametrize(
        ("content", "content_type"),
        [(f.PDF, "application/pdf"), (f.PNG, "image/png"), (f.JPEG, "image/jpeg")],
    )
    async def test_upload_is_typed_by_its_bytes_and_hashed(
        self, session: AsyncSession, content: bytes, content_type: str
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        material = await materials.upload_material(
            session,
            me.principal,
            draft.id,
            name="经营场所平面图",
            filename="../../etc/平面图.txt",
            content=content,
        )
        assert material.content_type == content_type
        assert material.sha256 == hashlib.sha256(content).hexdigest()
        assert material.size == len(content) and material.content == content
        assert material.filename == "平面图.txt" and not material.supplement
        assert material.uploaded_by == me.principal.name

    @pytest.mark.parametrize(
        "content",
        [f.GIF, b"MZ\x90\x00executable", b"plain text pretending.pdf", b"<svg></svg>"],
    )
    async def test_other_types_are_refused_415(self, session: AsyncSession, content: bytes) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(UnsupportedMaterial) as refused:
            await materials.upload_material(
                session,
                me.principal,
                draft.id,
                name="经营场所平面图",
                filename="a.pdf",
                content=content,
            )
        assert refused.value.status == 415 and refused.value.extensions["field"] == "file"
        assert (await session.execute(select(Material))).first() is None

    async def test_too_large_is_refused_413_and_the_limit_is_inclusive(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(materials, "MAX_MATERIAL_BYTES", 64)
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        exact = f.PDF[:5] + b"0" * 59
        await materials.upload_material(
            session, me.principal, draft.id, name="经营场所平面图", filename="a.pdf", content=exact
        )
        with pytest.raises(PayloadTooLarge) as refused:
            await materials.upload_material(
                session,
                me.principal,
                draft.id,
                name="经营场所平面图",
                filename="b.pdf",
                content=exact + b"0",
            )
        assert refused.value.status == 413 and refused.value.extensions["max_bytes"] == 64

    async def test_empty_file_and_unknown_material_are_422(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(InvalidInput) as empty:
            await materials.upload_material(
                session,
                me.principal,
                draft.id,
                name="经营场所平面图",
                filename="a.pdf",
                content=b"",
            )
        assert empty.value.extensions["field"] == "file"
        with pytest.raises(InvalidInput) as unknown:
            await materials.upload_material(
                session, me.principal, draft.id, name="户口本", filename="a.pdf", content=f.PDF
            )
        assert unknown.value.extensions["field"] == "name"

    async def test_read_upload_stops_one_byte_past_the_limit(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(materials, "MAX_MATERIAL_BYTES", 10)

        class Big:
            filename: str | None = "big.pdf"

            async def read(self, size: int = -1) -> bytes:
                return (b"x" * 1000)[:size]

        assert len(await materials.read_upload(Big())) == 11

    async def test_remove_from_draft_only(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft_id = await f.ready_draft(session, me, item)
        [material] = (await session.execute(select(Material))).scalars()
        other = await f.citizen(session)
        with pytest.raises(NotFound):
            await materials.remove_material(session, other.principal, material.id)
        with pytest.raises(NotFound):
            await materials.remove_material(
                session, me.principal, material.id, application_id=uuid.uuid4()
            )
        await materials.remove_material(session, me.principal, material.id)
        assert (await session.execute(select(Material))).first() is None
        application, _ = await f.submitted(session, me, item)
        [kept] = (
            await session.execute(select(Material).where(Material.application_id == application.id))
        ).scalars()
        with pytest.raises(Conflict):
            await materials.remove_material(session, me.principal, kept.id)
        assert application.id == draft_id  # the same draft, submitted

    async def test_submitted_application_takes_no_upload_unless_asked(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, _ = await f.submitted(session, me, item)
        with pytest.raises(Conflict):
            await materials.upload_material(
                session,
                me.principal,
                application.id,
                name="健康证明",
                filename="a.pdf",
                content=f.PDF,
            )


class TestSubmit:
    async def test_missing_fields_and_materials_are_each_named(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        await drafts.save_answers(session, me.principal, draft.id, {"shop": "老街面馆"})
        with pytest.raises(InvalidInput) as refused:
            await submission.submit_application(session, me.principal, draft.id)
        missing = refused.value.extensions["missing"]
        assert missing == [
            {"kind": "field", "name": "scope", "label": "经营范围"},
            {"kind": "field", "name": "opening", "label": "开业日期"},
            {"kind": "field", "name": "staff", "label": "从业人数"},
            {"kind": "material", "name": "经营场所平面图", "label": "经营场所平面图"},
        ]
        assert refused.value.extensions["field"] == "scope"
        assert "经营范围、开业日期、从业人数、经营场所平面图" in refused.value.detail
        assert (await session.get(Application, draft.id)).status == "draft"  # type: ignore[union-attr]
        assert (await session.execute(select(Case))).first() is None

    async def test_submit_opens_the_case_with_the_items_limits(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session, statutory_days=20, promised_days=5)
        me = await f.citizen(session, name="陈静")
        with clock.frozen(MONDAY):
            application, case = await f.submitted(session, me, item)
        assert application.status == "submitted" and application.submitted_at == MONDAY
        assert application.case_id == case.id
        assert case.case_type == BASE_NAME and case.state == "submitted"
        assert case.category == item.code
        assert (case.statutory_days, case.promised_days) == (20, 5)
        assert case.applicant_account_id == me.account.id
        assert case.title == "小餐饮经营许可（陈静）"
        # 5 working days after Monday 2 March: Monday 9 March, 24:00.
        assert clock.to_city(case.promised_due_at).date().isoformat() == "2026-03-10"  # type: ignore[arg-type]
        assert case.data["item_code"] == item.code
        assert case.data["application_id"] == str(application.id)
        assert case.data["complete"] is True and case.data["missing_optional"] == ["健康证明"]
        [material] = case.data["materials"]
        assert material["name"] == "经营场所平面图"
        assert material["sha256"] == hashlib.sha256(f.PDF).hexdigest()
        [note] = (
            await session.execute(
                select(Notification).where(Notification.account_id == me.account.id)
            )
        ).scalars()
        assert note.title == "申请已提交" and case.number in note.body
        assert note.link == f"/my/applications/{application.id}"

    async def test_submitted_application_is_frozen(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, _ = await f.submitted(session, me, item)
        with pytest.raises(Conflict):
            await submission.submit_application(session, me.principal, application.id)
        with pytest.raises(Conflict):
            await drafts.save_answers(session, me.principal, application.id, {"shop": "x"})
        # A new draft for the same item is a new application.
        again, created = await drafts.start_application(session, me.principal, item.code)
        assert created and again.id != application.id

    async def test_answers_refused_by_a_changed_form_block_submission(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft_id = await f.ready_draft(session, me, item)
        item.form_fields = [
            {**field, "type": "date"} if field["name"] == "shop" else field
            for field in item.form_fields
        ]
        await session.flush()
        with pytest.raises(InvalidInput) as refused:
            await submission.submit_application(session, me.principal, draft_id)
        assert refused.value.extensions["field"] == "shop"


async def _to_supplement(
    session: AsyncSession, case: Case, missing: str = "经营场所平面图不清晰"
) -> Any:
    officer = await f.staff(session)
    for step in ("accept", "review"):
        await cases.transition(session, officer, case.id, step)
    await cases.transition(
        session, officer, case.id, "request_supplement", fields={"missing": missing}
    )
    return officer


class TestSupplement:
    async def test_request_pause_upload_and_resume(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        with clock.frozen(MONDAY) as advance:
            application, case = await f.submitted(session, me, item)
            advance(datetime(2026, 3, 3, 2, tzinfo=UTC) - MONDAY)
            await _to_supplement(session, case)
            assert case.paused_at is not None
            view = await following.describe_application(session, me.principal, application.id)
            assert view.awaiting_supplement and view.clock is not None and view.clock.paused
            assert view.supplement_request is not None
            assert view.supplement_request.missing == "经营场所平面图不清晰"
            advance(datetime(2026, 3, 5, 2, tzinfo=UTC) - clock.now())
            material = await materials.upload_material(
                session,
                me.principal,
                application.id,
                name="经营场所平面图",
                filename="清晰版.png",
                content=f.PNG,
            )
            assert material.supplement
            await following.supplement(session, me.principal, application.id, note="已重新扫描")
        assert case.state == "reviewing" and case.paused_at is None
        assert case.paused_workdays == 2  # Wednesday and Thursday
        events = (
            await session.execute(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        ).scalars()
        kinds = [(e.kind, e.name) for e in events]
        assert ("attachment", "经营场所平面图") in kinds
        assert kinds[-1] == ("transition", "supplement")
        view = await following.describe_application(session, me.principal, application.id)
        assert [s.filename for s in view.supplements] == ["清晰版.png"]
        last = view.timeline[-1]
        assert "已重新扫描" in last.detail and "清晰版.png" in last.detail and last.by_you

    async def test_other_supplement_name_and_refusals(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, case = await f.submitted(session, me, item)
        with pytest.raises(Conflict):
            await following.supplement(session, me.principal, application.id, note="x")
        await _to_supplement(session, case)
        with pytest.raises(InvalidInput) as nothing:
            await following.supplement(session, me.principal, application.id)
        assert nothing.value.extensions["field"] == "file"
        with pytest.raises(InvalidInput):
            await materials.upload_material(
                session, me.principal, application.id, name="别的", filename="a.pdf", content=f.PDF
            )
        with pytest.raises(UnsupportedMaterial):
            await materials.upload_material(
                session,
                me.principal,
                application.id,
                name=materials.SUPPLEMENT_MATERIAL,
                filename="a.gif",
                content=f.GIF,
            )
        with pytest.raises(InvalidInput):
            await following.supplement(
                session, me.principal, application.id, note="n" * (following.NOTE_MAX + 1)
            )
        await materials.upload_material(
            session,
            me.principal,
            application.id,
            name=materials.SUPPLEMENT_MATERIAL,
            filename="说明.pdf",
            content=f.PDF,
        )
        other = await f.citizen(session)
        with pytest.raises(NotFound):
            await following.supplement(session, other.principal, application.id)
        await following.supplement(session, me.principal, application.id)
        assert case.state == "reviewing"

    async def test_a_note_alone_is_a_supplement(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, case = await f.submitted(session, me, item)
        await _to_supplement(session, case, missing="请说明经营时间")
        await following.supplement(session, me.principal, application.id, note="每天9点至21点")
        assert case.state == "reviewing"


class TestRating:
    async def test_only_after_close_and_once(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, case = await f.submitted(session, me, item)
        with pytest.raises(Conflict):
            await following.rate_application(session, me.principal, application.id, 5)
        officer = await f.staff(session)
        for step in ("accept", "review", "approve", "deliver"):
            await cases.transition(
                session, officer, case.id, step, fields={"opinion": "经审查，同意。"}
            )
        view = await following.describe_application(session, me.principal, application.id)
        assert view.can_rate and view.clock is not None and view.clock.remaining_workdays is None
        with pytest.raises(InvalidInput):
            await following.rate_application(session, me.principal, application.id, 6)
        rating = await following.rate_application(
            session, me.principal, application.id, 4, "办得快"
        )
        assert (rating.score, rating.comment) == (4, "办得快")
        with pytest.raises(Conflict):
            await following.rate_application(session, me.principal, application.id, 5)
        view = await following.describe_application(session, me.principal, application.id)
        assert not view.can_rate and view.rating is not None
        assert view.timeline[-1].title == "You rated the service 4 of 5"

    async def test_draft_cannot_be_rated(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        with pytest.raises(Conflict):
            await following.rate_application(session, me.principal, draft.id, 5)


class TestQualifyingNotAcceptedFlag:
    async def test_refusing_a_complete_application_is_flagged(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, case = await f.submitted(session, me, item)
        officer = await f.staff(session)
        await cases.transition(
            session,
            officer,
            case.id,
            "not_accept",
            fields={"reason": "不属于本机关职权范围", "opinion": "经审查，同意。"},
        )
        supervisor = await f.staff(session, "ZWSJJ", kind="supervisor")
        flagged = await flags.list_flags(session, supervisor, case_id=case.id)
        assert [flag.kind for flag, _case in flagged] == ["qualifying_not_accepted"]
        detail = flagged[0][0].detail
        assert detail["item_code"] == item.code
        assert detail["application_id"] == str(application.id)
        assert detail["reason"] == "不属于本机关职权范围"

    async def test_accepting_raises_nothing(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        _application, case = await f.submitted(session, me, item)
        await cases.transition(session, await f.staff(session), case.id, "accept")
        supervisor = await f.staff(session, "ZWSJJ", kind="supervisor")
        assert await flags.list_flags(session, supervisor, case_id=case.id) == []

    async def test_an_incomplete_application_refused_is_not_flagged(
        self, session: AsyncSession
    ) -> None:
        # Opened at a counter with materials missing (not online, where submission refuses it).
        me = await f.citizen(session)
        await f.citizen_item(session)
        case = await cases.open_case(
            session,
            me.principal,
            case_type=BASE_NAME,
            title="小餐饮经营许可（窗口）",
            department_code="SCJGJ",
            data={"item_code": "SCJGJ-101", "complete": False},
        )
        await cases.transition(
            session,
            await f.staff(session),
            case.id,
            "not_accept",
            fields={"reason": "材料不齐全，缺少平面图", "opinion": "经审查，同意。"},
        )
        supervisor = await f.staff(session, "ZWSJJ", kind="supervisor")
        assert await flags.list_flags(session, supervisor, case_id=case.id) == []


class TestPermissions:
    async def test_another_citizen_sees_nothing(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft_id = await f.ready_draft(session, me, item)
        [material] = (await session.execute(select(Material))).scalars()
        other = await f.citizen(session)
        for call in (
            following.describe_application(session, other.principal, draft_id),
            drafts.save_answers(session, other.principal, draft_id, {"shop": "x"}),
            submission.submit_application(session, other.principal, draft_id),
            drafts.delete_draft(session, other.principal, draft_id),
            materials.get_material(session, other.principal, material.id),
            materials.upload_material(
                session,
                other.principal,
                draft_id,
                name="经营场所平面图",
                filename="a",
                content=f.PDF,
            ),
        ):
            with pytest.raises(NotFound):
                await call
        assert await following.list_my_applications(session, other.principal) == []

    async def test_materials_for_the_cases_department_and_supervisors_only(
        self, session: AsyncSession
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft_id = await f.ready_draft(session, me, item)
        [material] = (await session.execute(select(Material))).scalars()
        officer = await f.staff(session, "SCJGJ")
        with pytest.raises(NotFound):  # a draft is the applicant's alone
            await materials.get_material(session, officer, material.id)
        await submission.submit_application(session, me.principal, draft_id)
        assert (await materials.get_material(session, officer, material.id)).content == f.PDF
        assert (await materials.get_material(session, me.principal, material.id)).id == material.id
        supervisor = await f.staff(session, "ZWSJJ", kind="supervisor")
        assert (await materials.get_material(session, supervisor, material.id)).id == material.id
        for outsider in (
            await f.staff(session, "GAJ"),
            await f.staff(session, "GAJ", kind="admin"),
        ):
            with pytest.raises(NotFound):
                await materials.get_material(session, outsider, material.id)

    async def test_transfer_moves_the_materials_with_the_case(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, case = await f.submitted(session, me, item)
        [material] = (await session.execute(select(Material))).scalars()
        scjgj = await f.staff(session, "SCJGJ")
        await cases.transfer(session, scjgj, case.id, "GAJ", "属公安局职权")
        with pytest.raises(NotFound):
            await materials.get_material(session, scjgj, material.id)
        gaj = await f.staff(session, "GAJ")
        assert (await materials.get_material(session, gaj, material.id)).id == material.id
        view = await following.describe_application(session, me.principal, application.id)
        assert view.timeline[-1].title == "Passed on to 公安局"


class TestFollowing:
    async def test_my_applications_with_state_and_time_left(self, session: AsyncSession) -> None:
        me = await f.citizen(session)
        item = await f.citizen_item(session)
        other_item = await f.citizen_item(session, code="SCJGJ-103", name="个体工商户设立登记")
        with clock.frozen(MONDAY) as advance:
            application, _opened = await f.submitted(session, me, item)
            advance(datetime(2026, 3, 4, 2, tzinfo=UTC) - MONDAY)
            draft, _ = await drafts.start_application(session, me.principal, other_item.code)
            lines = await following.list_my_applications(session, me.principal)
        assert [line.application.id for line in lines] == [draft.id, application.id]
        assert lines[0].case is None and lines[0].state_title == "Draft"
        assert lines[1].state_title == "Application submitted" and lines[1].case is not None
        assert lines[1].clock is not None
        # Promise ends Monday 9 March: after today (Wednesday) Thursday, Friday and Monday are
        # left, as the desk counts them (cases/deadline.py).
        assert lines[1].clock.remaining_workdays == 3 and lines[1].clock.warning == "none"
        assert lines[1].clock.due_date == date(2026, 3, 9) and lines[1].clock.state == "on_time"

    async def test_timeline_in_words_without_internal_lines(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        application, case = await f.submitted(session, me, item)
        officer = await f.staff(session)
        await cases.transition(session, officer, case.id, "accept")
        await cases.comment(session, officer, case.id, "内部意见：现场核查")
        view = await following.describe_application(session, me.principal, application.id)
        titles = [line.title for line in view.timeline]
        assert titles == ["Application submitted", "Accept"]
        assert view.timeline[0].by_you and not view.timeline[1].by_you
        assert view.state_title == "Accepted"

    async def test_staff_case_panel(self, session: AsyncSession) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, name="陈静")
        _application, case = await f.submitted(session, me, item)
        officer = await _to_supplement(session, case)
        await materials.upload_material(
            session,
            me.principal,
            _application.id,
            name=materials.SUPPLEMENT_MATERIAL,
            filename="补充.pdf",
            content=f.PDF,
        )
        [panel_fn] = [p for p in panels_for(case.case_type) if p is case_panel]
        panel = await panel_fn(session, officer, case)
        assert panel is not None and panel.template == "services/_case_panel.html"
        context = panel.context
        named = {field["name"]: field for field in context["fields"]}
        assert named["name"]["value"] == "陈静"
        assert named["name"]["source"]["department_name"] == "公安局"
        assert [m["name"] for m in context["registry_materials"]] == ["居民身份证"]
        [original] = context["files"]
        assert original["url"] == f"/api/v1/services/materials/{original['id']}"
        assert not original["supplement"] and not original["new"]
        [extra] = context["supplements"]
        assert extra["supplement"] and extra["new"] and extra["filename"] == "补充.pdf"
        other_case = await cases.open_case(
            session,
            me.principal,
            case_type=BASE_NAME,
            title="无网上申报",
            department_code="SCJGJ",
        )
        assert await case_panel(session, officer, other_case) is None


def _smartcity(*args: str) -> Any:
    # In a worker thread: the commands run their own event loop.
    runner = CliRunner(env={"LANG": "en_US.UTF-8", "SMARTCITY_LOCALE": ""})
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, app, list(args)).result()


def _in_db(url: str, work: Any) -> Any:
    async def go() -> Any:
        db = Database(make_engine(url))
        try:
            async with db.session_scope() as session:
                return await work(session)
        finally:
            await db.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_cli_links_an_enterprise_account_by_uscc(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'link.db'}"
    assert _smartcity("db", "upgrade", "--database-url", url).exit_code == 0
    code = registry_factories.uscc()

    async def register(session: AsyncSession) -> None:
        await registry_factories.create_organization(
            session, principal=cli_principal(), uscc=code, legal_representative=None
        )

    _in_db(url, register)
    made = _smartcity(
        "users", "create", "firm.one", "--kind", "enterprise", "--name", "测试公司",
        "--database-url", url,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    linked = _smartcity("registry", "link-account", "firm.one", code, "--database-url", url)
    assert linked.exit_code == 0, linked.output
    assert code in linked.output

    async def account_of(session: AsyncSession) -> str:
        org = (
            await session.execute(select(Organization).where(Organization.uscc == code))
        ).scalar_one()
        account = await session.get(Account, org.account_id)
        return account.username if account else ""

    assert _in_db(url, account_of) == "firm.one"
    bad = _smartcity("registry", "link-account", "firm.one", "not-a-code", "--database-url", url)
    assert bad.exit_code == 1
    unknown = _smartcity(
        "registry", "link-account", "firm.one", registry_factories.uscc(), "--database-url", url
    )
    assert unknown.exit_code == 1 and "No organization" in unknown.output
