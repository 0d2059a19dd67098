"""The applicant's pages: the apply button, the form with 免提交 fields and uploads (no
JavaScript needed), errors next to their fields with 422, 我的申请, the application page with
补正 and 好差评, and the application's panel on the staff case page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service as cases
from smartcity.cases.models import Case
from smartcity.core import i18n
from smartcity.core.models import Account
from smartcity.core.security import PRESESSION_COOKIE, csrf_token_for, issue_access_token
from smartcity.services.application import drafts, materials
from smartcity.services.application.panel import case_panel
from smartcity.services.models import Application, Material
from smartcity.settings import get_settings
from tests.registry import factories as registry_factories
from tests.services import factories as f

# The browser's pre-session id; its forms carry the token the platform derives from it.
PRESESSION = "apply-test-browser"


def csrf() -> str:
    return csrf_token_for(get_settings(), session_token=None, presession=PRESESSION)


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    """These tests assert the English msgids; Chinese is covered by tests/core/test_i18n.py."""
    client.headers["Accept-Language"] = "en"
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture(autouse=True)
async def _departments(session: AsyncSession) -> None:
    await registry_factories.source_departments(session)


def as_(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """Headers of a page request by the account, with the CSRF cookie its forms need."""
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}", "accept": "text/html"}


async def post(
    client: httpx.AsyncClient,
    account: Account,
    path: str,
    data: dict[str, str],
    files: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    return await client.post(
        path, headers=as_(client, account), data={"csrf_token": csrf(), **data}, files=files
    )


def error_of(html: str, key: str) -> str:
    match = re.search(rf'id="{re.escape(key)}-error">([^<]*)<', html)
    assert match, f"no error shown for {key}"
    return match.group(1)


async def _application(session: AsyncSession, account: Account) -> Application:
    found = (
        await session.execute(
            select(Application).where(Application.applicant_account_id == account.id)
        )
    ).scalar_one()
    await session.refresh(found)
    return found


class TestItemPage:
    async def test_apply_button_for_who_may_apply(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        page = await client.get(f"/services/{item.code}", headers=as_(client, me.account))
        assert page.status_code == 200
        assert f'href="/services/{item.code}/apply"' in page.text and "Apply online" in page.text
        await drafts.start_application(session, me.principal, item.code)
        page = await client.get(f"/services/{item.code}", headers=as_(client, me.account))
        assert "Continue your application" in page.text
        firm = await f.enterprise(session)
        page = await client.get(f"/services/{item.code}", headers=as_(client, firm.account))
        assert f'href="/services/{item.code}/apply"' not in page.text
        assert "for citizens" in page.text

    async def test_apply_form_refuses_other_kinds_and_sends_visitors_to_sign_in(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        firm = await f.enterprise(session)
        r = await client.get(f"/services/{item.code}/apply", headers=as_(client, firm.account))
        assert r.status_code == 403 and "for citizens" in r.text
        officer = await registry_factories.department_account(session, "SCJGJ")
        r = await client.get(f"/services/{item.code}/apply", headers=as_(client, officer))
        assert r.status_code == 403
        r = await client.get(f"/services/{item.code}/apply", headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


class TestApplyForm:
    async def test_prefilled_fields_shown_with_their_source_not_as_inputs(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, name="林小雨")
        police = await registry_factories.source_department(session, "GAJ")
        police.name_en = "Public Security Bureau"
        await session.flush()
        page = await client.get(f"/services/{item.code}/apply", headers=as_(client, me.account))
        assert page.status_code == 200
        assert "林小雨" in page.text and "from Public Security Bureau" in page.text
        # The phone's source is named in English too (the factory's English name).
        phone_source = await registry_factories.source_department(session, "ZWSJJ")
        assert f"from {phone_source.name_en}" in page.text
        assert "政务服务数据管理局" not in page.text
        assert 'name="name"' not in page.text and 'name="phone"' not in page.text
        assert 'name="shop"' in page.text and 'type="date"' in page.text
        assert 'name="file-1"' in page.text and 'name="file-0"' not in page.text
        assert 'enctype="multipart/form-data"' in page.text
        # Looking is no draft yet.
        assert (await session.execute(select(Application))).first() is None

    async def test_not_linked_citizen_gets_inputs_and_the_reason(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, linked=False)
        page = await client.get(f"/services/{item.code}/apply", headers=as_(client, me.account))
        assert 'id="not-linked"' in page.text and "not linked" in page.text
        assert 'name="name"' in page.text and 'name="file-0"' in page.text

    async def test_save_draft_then_reload(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        url = f"/services/{item.code}/apply"
        r = await post(client, me.account, url, {"action": "save", "shop": "老街面馆", "staff": ""})
        assert r.status_code == 303 and r.headers["location"] == f"{url}?saved=draft"
        page = await client.get(r.headers["location"], headers=as_(client, me.account))
        assert 'value="老街面馆"' in page.text and "Your draft is saved" in page.text
        assert "Delete this draft" in page.text
        assert (await _application(session, me.account)).answers == {"shop": "老街面馆"}

    async def test_errors_next_to_each_field_with_422_and_values_kept(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        r = await post(
            client,
            me.account,
            f"/services/{item.code}/apply",
            {"action": "save", "shop": "老街面馆", "opening": "next week", "staff": "many"},
        )
        assert r.status_code == 422
        assert "2026-10-09" in error_of(r.text, "opening")
        assert error_of(r.text, "staff")
        assert 'value="next week"' in r.text and 'value="老街面馆"' in r.text
        assert 'href="#opening"' in r.text  # the error summary links to the field
        assert 'aria-invalid="true"' in r.text

    async def test_upload_with_the_form_and_remove(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        url = f"/services/{item.code}/apply"
        r = await post(
            client,
            me.account,
            url,
            {"action": "upload", "shop": "老街面馆"},
            files={
                "file-1": ("平面图.pdf", f.PDF, "application/pdf"),
                # A file input left empty: browsers send a nameless, empty part.
                "file-2": ("", b"", "application/octet-stream"),
            },
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"{url}?saved=file#materials"
        [material] = (await session.execute(select(Material))).scalars()
        assert material.name == "经营场所平面图" and material.filename == "平面图.pdf"
        page = await client.get(url, headers=as_(client, me.account))
        assert "平面图.pdf" in page.text and f'value="remove:{material.id}"' in page.text
        r = await post(client, me.account, url, {"action": f"remove:{material.id}"})
        assert r.status_code == 303
        assert (await session.execute(select(Material))).first() is None
        r = await post(client, me.account, url, {"action": f"remove:{uuid.uuid4()}"})
        assert r.status_code == 422 and "could not be removed" in r.text

    async def test_wrong_type_and_too_large_marked_at_the_material(
        self, session: AsyncSession, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(materials, "MAX_MATERIAL_BYTES", 64)
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        r = await post(
            client,
            me.account,
            f"/services/{item.code}/apply",
            {"action": "upload", "shop": "老街面馆"},
            files={
                "file-1": ("plan.pdf", b"GIF89a not a pdf", "application/pdf"),
                "file-2": ("health.pdf", f.PDF[:5] + b"0" * 100, "application/pdf"),
            },
        )
        assert r.status_code == 422
        assert "PDF, JPEG and PNG" in error_of(r.text, "material:经营场所平面图")
        assert "larger than 64 bytes" in error_of(r.text, "material:健康证明")
        # What was accepted stays: the answer is saved though both files were refused.
        assert (await _application(session, me.account)).answers == {"shop": "老街面馆"}
        assert (await session.execute(select(Material))).first() is None

    async def test_submit_with_items_missing_marks_each(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        r = await post(
            client, me.account, f"/services/{item.code}/apply", {"action": "submit", "shop": "店"}
        )
        assert r.status_code == 422
        assert error_of(r.text, "scope") == "Fill in 经营范围."
        assert error_of(r.text, "material:经营场所平面图") == "Hand in 经营场所平面图."
        assert (await _application(session, me.account)).status == "draft"

    async def test_submit_goes_to_the_application_page(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        r = await post(
            client,
            me.account,
            f"/services/{item.code}/apply",
            {"action": "submit", **f.GOOD_ANSWERS},
            files={"file-1": ("平面图.png", f.PNG, "image/png")},
        )
        assert r.status_code == 303, r.text
        application = await _application(session, me.account)
        assert application.status == "submitted"
        assert r.headers["location"] == f"/my/applications/{application.id}?submitted=1"
        page = await client.get(r.headers["location"], headers=as_(client, me.account))
        assert page.status_code == 200
        case = await session.get(Case, application.case_id)
        assert case is not None and case.number in page.text
        assert "Your application is submitted" in page.text and "Application submitted" in page.text
        assert "working days left" in page.text and "平面图.png" in page.text
        listing = await client.get("/my/applications", headers=as_(client, me.account))
        assert case.number in listing.text and item.name in listing.text
        # The same form sent again (a double click) leads to the application, no new draft.
        again = await post(
            client,
            me.account,
            f"/services/{item.code}/apply",
            {"action": "submit", "application": str(application.id), **f.GOOD_ANSWERS},
        )
        assert again.status_code == 303
        assert again.headers["location"] == f"/my/applications/{application.id}"
        count = (await session.execute(select(func.count()).select_from(Application))).scalar()
        assert count == 1

    async def test_delete_draft(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        r = await post(client, me.account, f"/my/applications/{draft.id}/delete", {})
        assert r.status_code == 303 and r.headers["location"] == "/my/applications?deleted=1"
        assert (await session.execute(select(Application))).first() is None

    async def test_form_without_csrf_is_refused(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        r = await client.post(
            f"/services/{item.code}/apply",
            headers=as_(client, me.account),
            data={"action": "save", "shop": "x"},
        )
        assert r.status_code == 400
        assert (await session.execute(select(Application))).first() is None


async def _submitted(session: AsyncSession) -> tuple[f.Applicant, Application, Case]:
    item = await f.citizen_item(session)
    me = await f.citizen(session)
    application, case = await f.submitted(session, me, item)
    return me, application, case


class TestFollowing:
    async def test_my_applications_lists_drafts_and_cases(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, application, case = await _submitted(session)
        other = await f.citizen_item(session, code="SCJGJ-103", name="个体工商户设立登记")
        await drafts.start_application(session, me.principal, other.code)
        page = await client.get("/my/applications", headers=as_(client, me.account))
        assert page.status_code == 200
        assert case.number in page.text and f"/my/applications/{application.id}" in page.text
        assert "个体工商户设立登记" in page.text and f"/services/{other.code}/apply" in page.text
        stranger = await f.citizen(session)
        empty = await client.get("/my/applications", headers=as_(client, stranger.account))
        assert "You have no applications yet" in empty.text

    async def test_only_the_applicant_sees_it(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        _me, application, _case = await _submitted(session)
        stranger = await f.citizen(session)
        url = f"/my/applications/{application.id}"
        assert (await client.get(url, headers=as_(client, stranger.account))).status_code == 404
        officer = await registry_factories.department_account(session, "SCJGJ")
        assert (await client.get(url, headers=as_(client, officer))).status_code == 403
        r = await client.get(url, headers={"accept": "text/html"})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

    async def test_a_draft_page_leads_to_its_form(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft, _ = await drafts.start_application(session, me.principal, item.code)
        r = await client.get(f"/my/applications/{draft.id}", headers=as_(client, me.account))
        assert r.status_code == 303 and r.headers["location"] == f"/services/{item.code}/apply"

    async def test_supplement_on_the_page(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, application, case = await _submitted(session)
        officer = await registry_factories.department_principal(session, "SCJGJ")
        for step in ("accept", "review"):
            await cases.transition(session, officer, case.id, step)
        await cases.transition(
            session, officer, case.id, "request_supplement", fields={"missing": "请补充健康证明"}
        )
        url = f"/my/applications/{application.id}"
        page = await client.get(url, headers=as_(client, me.account))
        assert "请补充健康证明" in page.text and f'action="{url}/supplement"' in page.text
        assert "Clock stopped" in page.text
        r = await post(client, me.account, f"{url}/supplement", {"action": "send"})
        assert r.status_code == 422 and error_of(r.text, "file")
        r = await post(
            client,
            me.account,
            f"{url}/supplement",
            {"action": "upload", "material": "健康证明"},
            files={"file": ("health.exe", b"MZ\x90\x00", "application/pdf")},
        )
        assert r.status_code == 422 and "PDF, JPEG and PNG" in error_of(r.text, "file")
        r = await post(
            client,
            me.account,
            f"{url}/supplement",
            {"action": "upload", "material": "健康证明"},
            files={"file": ("健康证明.jpg", f.JPEG, "image/jpeg")},
        )
        assert r.status_code == 303 and r.headers["location"] == f"{url}?uploaded=1#supplement"
        r = await post(
            client, me.account, f"{url}/supplement", {"action": "send", "note": "已补充"}
        )
        assert r.status_code == 303 and r.headers["location"] == f"{url}?supplemented=1"
        await session.refresh(case)
        assert case.state == "reviewing"
        page = await client.get(url, headers=as_(client, me.account))
        assert "健康证明.jpg" in page.text and f'action="{url}/supplement"' not in page.text

    async def test_rating_once_after_close(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, application, case = await _submitted(session)
        url = f"/my/applications/{application.id}"
        page = await client.get(url, headers=as_(client, me.account))
        assert f'action="{url}/rating"' not in page.text
        officer = await registry_factories.department_principal(session, "SCJGJ")
        await cases.transition(
            session,
            officer,
            case.id,
            "not_accept",
            fields={"reason": "不属于本机关职权范围", "opinion": "经审查，同意。"},
        )
        page = await client.get(url, headers=as_(client, me.account))
        assert f'action="{url}/rating"' in page.text
        r = await post(client, me.account, f"{url}/rating", {"comment": "no stars"})
        assert r.status_code == 422 and "no stars" in r.text
        r = await post(client, me.account, f"{url}/rating", {"score": "9"})
        assert r.status_code == 422 and error_of(r.text, "score")
        r = await post(client, me.account, f"{url}/rating", {"score": "3", "comment": "一般"})
        assert r.status_code == 303 and r.headers["location"] == f"{url}?rated=1"
        page = await client.get(r.headers["location"], headers=as_(client, me.account))
        assert "★★★☆☆" in page.text and f'action="{url}/rating"' not in page.text
        r = await post(client, me.account, f"{url}/rating", {"score": "5"})
        assert r.status_code == 422


class TestCasePanel:
    async def test_staff_case_page_shows_the_application(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, _application, case = await _submitted(session)
        officer = await registry_factories.department_account(session, "SCJGJ")
        page = await client.get(f"/cases/{case.id}", headers=as_(client, officer))
        assert page.status_code == 200, page.text
        assert "Application form and materials" in page.text
        assert "From the registries" in page.text and "公安局" in page.text
        [material] = (await session.execute(select(Material))).scalars()
        assert f'href="/api/v1/services/materials/{material.id}"' in page.text
        assert me.person is not None and me.person.name in page.text

    async def test_panel_template_marks_new_supplements(
        self, session: AsyncSession, client: httpx.AsyncClient, app: Any
    ) -> None:
        me, application, case = await _submitted(session)
        officer = await registry_factories.department_principal(session, "SCJGJ")
        for step in ("accept", "review"):
            await cases.transition(session, officer, case.id, step)
        await cases.transition(
            session, officer, case.id, "request_supplement", fields={"missing": "盖章"}
        )
        await materials.upload_material(
            session,
            me.principal,
            application.id,
            name="经营场所平面图",
            filename="盖章版.pdf",
            content=f.PDF,
        )
        panel = await case_panel(session, officer, case)
        assert panel is not None
        html = app.state.templates.get_template(panel.template).render(panel=panel, case=case)
        assert "盖章版.pdf" in html and 'class="new"' in html and "supplement" in html
