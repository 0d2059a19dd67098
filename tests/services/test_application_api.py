"""The applying-online API (/api/v1/services/applications, /materials): problem+json for every
refusal, the multipart upload, submission, 补正, 好差评 and who may download a material."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service as cases
from smartcity.core import i18n
from smartcity.core.errors import PROBLEM_JSON
from smartcity.core.models import Account
from smartcity.core.security import issue_access_token
from smartcity.services.application import materials
from smartcity.settings import get_settings
from tests.registry import factories as registry_factories
from tests.services import factories as f

BASE = "/api/v1/services/applications"


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


def auth(account: Account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


def problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{type_suffix}", body
    return body


async def _staff_account(session: AsyncSession, code: str) -> Account:
    return await registry_factories.department_account(session, code)


async def _draft(client: httpx.AsyncClient, me: f.Applicant, code: str) -> dict[str, Any]:
    r = await client.post(BASE, json={"item_code": code}, headers=auth(me.account))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def _upload(
    client: httpx.AsyncClient,
    me: f.Applicant,
    application_id: str,
    content: bytes,
    name: str = "经营场所平面图",
    filename: str = "平面图.pdf",
) -> httpx.Response:
    return await client.post(
        f"{BASE}/{application_id}/materials",
        data={"name": name},
        files={"file": (filename, content, "application/pdf")},
        headers=auth(me.account),
    )


async def _submitted(
    client: httpx.AsyncClient, session: AsyncSession
) -> tuple[f.Applicant, dict[str, Any]]:
    item = await f.citizen_item(session)
    me = await f.citizen(session)
    draft = await _draft(client, me, item.code)
    r = await client.patch(
        f"{BASE}/{draft['id']}", json={"answers": f.GOOD_ANSWERS}, headers=auth(me.account)
    )
    assert r.status_code == 200, r.text
    assert (await _upload(client, me, draft["id"], f.PDF)).status_code == 201
    r = await client.post(f"{BASE}/{draft['id']}/submit", headers=auth(me.account))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return me, body


class TestDraftsApi:
    async def test_start_read_and_reuse(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session, name="林小雨")
        draft = await _draft(client, me, item.code)
        assert draft["status"] == "draft" and draft["state_title"] == "Draft"
        assert draft["case_number"] is None and draft["clock"] is None
        fields = {field["name"]: field for field in draft["fields"]}
        assert fields["name"]["prefilled"] and fields["name"]["value"] == "林小雨"
        assert fields["name"]["source"] == {
            "registry": "person",
            "field": "name",
            "department_code": "GAJ",
            "department_name": "公安局",
        }
        assert not fields["shop"]["prefilled"] and fields["shop"]["source"] is None
        id_card = draft["materials"][0]
        assert id_card["provided"] and id_card["source"]["department_code"] == "GAJ"
        again = await client.post(BASE, json={"item_code": item.code}, headers=auth(me.account))
        assert again.status_code == 200 and again.json()["id"] == draft["id"]
        read = await client.get(f"{BASE}/{draft['id']}", headers=auth(me.account))
        assert read.status_code == 200 and read.json()["id"] == draft["id"]

    async def test_refusals_are_problems(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.enterprise_item(session)
        me = await f.citizen(session)
        body = problem(
            await client.post(BASE, json={"item_code": item.code}, headers=auth(me.account)),
            403,
            "forbidden",
        )
        assert body["applicant_kinds"] == ["enterprise"]
        problem(
            await client.post(BASE, json={"item_code": "NOPE-1"}, headers=auth(me.account)),
            404,
            "not-found",
        )
        problem(
            await client.post(BASE, json={"item_code": "bad code"}, headers=auth(me.account)),
            422,
            "invalid-input",
        )
        staff = await _staff_account(session, "SCJGJ")
        problem(
            await client.post(BASE, json={"item_code": item.code}, headers=auth(staff)),
            403,
            "forbidden",
        )
        problem(await client.post(BASE, json={"item_code": item.code}), 401, "unauthenticated")

    async def test_patch_saves_and_lists_every_refused_field(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft = await _draft(client, me, item.code)
        r = await client.patch(
            f"{BASE}/{draft['id']}",
            json={"answers": {"shop": "老街面馆", "staff": 4}},
            headers=auth(me.account),
        )
        assert r.status_code == 200, r.text
        fields = {field["name"]: field["value"] for field in r.json()["fields"]}
        assert fields["shop"] == "老街面馆" and fields["staff"] == "4"
        body = problem(
            await client.patch(
                f"{BASE}/{draft['id']}",
                json={"answers": {"opening": "tomorrow", "contact_phone": "123", "phone": "1"}},
                headers=auth(me.account),
            ),
            422,
            "invalid-input",
        )
        assert {e["field"] for e in body["errors"]} == {"opening", "contact_phone", "phone"}
        problem(
            await client.patch(
                f"{BASE}/{draft['id']}",
                json={"answers": {"shop": {"x": 1}}},
                headers=auth(me.account),
            ),
            422,
            "invalid-input",
        )

    async def test_delete_draft(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft = await _draft(client, me, item.code)
        other = await f.citizen(session)
        problem(
            await client.delete(f"{BASE}/{draft['id']}", headers=auth(other.account)),
            404,
            "not-found",
        )
        r = await client.delete(f"{BASE}/{draft['id']}", headers=auth(me.account))
        assert r.status_code == 204
        problem(
            await client.get(f"{BASE}/{draft['id']}", headers=auth(me.account)), 404, "not-found"
        )


class TestMaterialsApi:
    async def test_upload_hash_and_remove(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft = await _draft(client, me, item.code)
        r = await _upload(client, me, draft["id"], f.PNG, filename="平面图.pdf")
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["sha256"] == hashlib.sha256(f.PNG).hexdigest()
        assert body["content_type"] == "image/png" and body["size"] == len(f.PNG)
        assert body["download"] == f"/api/v1/services/materials/{body['id']}"
        read = (await client.get(f"{BASE}/{draft['id']}", headers=auth(me.account))).json()
        plan = next(m for m in read["materials"] if m["name"] == "经营场所平面图")
        assert [x["id"] for x in plan["files"]] == [body["id"]]
        r = await client.delete(
            f"{BASE}/{draft['id']}/materials/{body['id']}", headers=auth(me.account)
        )
        assert r.status_code == 204
        problem(
            await client.delete(
                f"{BASE}/{draft['id']}/materials/{body['id']}", headers=auth(me.account)
            ),
            404,
            "not-found",
        )

    async def test_wrong_type_415_too_large_413_empty_422(
        self, session: AsyncSession, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft = await _draft(client, me, item.code)
        body = problem(
            await _upload(client, me, draft["id"], b"GIF89a....", filename="a.pdf"),
            415,
            "unsupported-media-type",
        )
        assert body["field"] == "file" and "application/pdf" in body["accepted"]
        monkeypatch.setattr(materials, "MAX_MATERIAL_BYTES", 64)
        body = problem(
            await _upload(client, me, draft["id"], f.PDF[:5] + b"0" * 64), 413, "payload-too-large"
        )
        assert body["field"] == "file" and body["max_bytes"] == 64
        assert (await _upload(client, me, draft["id"], f.PDF[:5] + b"0" * 59)).status_code == 201
        problem(await _upload(client, me, draft["id"], b""), 422, "invalid-input")
        problem(await _upload(client, me, draft["id"], f.PDF, name="户口本"), 422, "invalid-input")
        problem(
            await _upload(client, me, draft["id"], f.PDF, name="居民身份证"), 422, "invalid-input"
        )
        missing_file = await client.post(
            f"{BASE}/{draft['id']}/materials",
            data={"name": "经营场所平面图"},
            headers=auth(me.account),
        )
        problem(missing_file, 422, "invalid-input")

    async def test_download_for_applicant_department_and_supervisor_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, application = await _submitted(client, session)
        plan = next(m for m in application["materials"] if m["name"] == "经营场所平面图")
        url = plan["files"][0]["download"]
        r = await client.get(url, headers=auth(me.account))
        assert r.status_code == 200 and r.content == f.PDF
        assert r.headers["content-type"] == "application/pdf"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert (
            "filename*=UTF-8''%E5%B9%B3%E9%9D%A2%E5%9B%BE.pdf" in r.headers["content-disposition"]
        )
        scjgj = await _staff_account(session, "SCJGJ")
        assert (await client.get(url, headers=auth(scjgj))).content == f.PDF
        supervisor = await registry_factories.department_account(
            session, "ZWSJJ", kind="supervisor"
        )
        assert (await client.get(url, headers=auth(supervisor))).status_code == 200
        problem(
            await client.get(url, headers=auth(await _staff_account(session, "GAJ"))),
            404,
            "not-found",
        )
        problem(
            await client.get(url, headers=auth((await f.citizen(session)).account)),
            404,
            "not-found",
        )
        problem(await client.get(url), 401, "unauthenticated")
        admin = await registry_factories.department_account(session, "GAJ", kind="admin")
        problem(await client.get(url, headers=auth(admin)), 403, "forbidden")


class TestSubmitApi:
    async def test_missing_items_are_named(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        item = await f.citizen_item(session)
        me = await f.citizen(session)
        draft = await _draft(client, me, item.code)
        body = problem(
            await client.post(f"{BASE}/{draft['id']}/submit", headers=auth(me.account)),
            422,
            "invalid-input",
        )
        assert {m["name"] for m in body["missing"]} == {
            "shop",
            "scope",
            "opening",
            "staff",
            "经营场所平面图",
        }
        assert body["field"] == "shop"

    async def test_submit_list_and_follow(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, application = await _submitted(client, session)
        assert application["status"] == "submitted" and application["state"] == "submitted"
        assert application["state_title"] == "Application submitted"
        assert application["case_number"].startswith("SQ-")
        assert application["clock"]["remaining_workdays"] >= 1
        assert application["timeline"][0]["title"] == "Application submitted"
        prefilled = [field["name"] for field in application["fields"] if field["prefilled"]]
        assert prefilled == ["name", "id_number", "phone", "address"]
        listing = await client.get(BASE, headers=auth(me.account))
        assert listing.status_code == 200
        [line] = listing.json()
        assert line["id"] == application["id"] and line["case_number"] == application["case_number"]
        problem(
            await client.post(f"{BASE}/{application['id']}/submit", headers=auth(me.account)),
            409,
            "conflict",
        )
        problem(
            await client.patch(
                f"{BASE}/{application['id']}", json={"answers": {}}, headers=auth(me.account)
            ),
            409,
            "conflict",
        )
        other = await f.citizen(session)
        problem(
            await client.get(f"{BASE}/{application['id']}", headers=auth(other.account)),
            404,
            "not-found",
        )
        assert (await client.get(BASE, headers=auth(other.account))).json() == []


class TestSupplementAndRatingApi:
    async def test_supplement_then_rate_once(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        me, application = await _submitted(client, session)
        officer = await registry_factories.department_principal(session, "SCJGJ")
        case_id = uuid.UUID(application["case_id"])
        problem(
            await client.post(
                f"{BASE}/{application['id']}/supplement", json={}, headers=auth(me.account)
            ),
            409,
            "conflict",
        )
        for step in ("accept", "review"):
            await cases.transition(session, officer, case_id, step)
        await cases.transition(
            session, officer, case_id, "request_supplement", fields={"missing": "平面图需盖章"}
        )
        read = (await client.get(f"{BASE}/{application['id']}", headers=auth(me.account))).json()
        assert read["state"] == "awaiting_supplement" and read["clock"]["paused"]
        assert read["supplement_request"]["missing"] == "平面图需盖章"
        problem(
            await client.post(
                f"{BASE}/{application['id']}/supplement", json={}, headers=auth(me.account)
            ),
            422,
            "invalid-input",
        )
        r = await _upload(client, me, application["id"], f.JPEG, filename="盖章版.jpg")
        assert r.status_code == 201 and r.json()["supplement"]
        r = await client.post(
            f"{BASE}/{application['id']}/supplement",
            json={"note": "已盖章"},
            headers=auth(me.account),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["state"] == "reviewing" and not body["clock"]["paused"]
        assert [s["filename"] for s in body["supplements"]] == ["盖章版.jpg"]
        rating_url = f"{BASE}/{application['id']}/rating"
        problem(
            await client.post(rating_url, json={"score": 5}, headers=auth(me.account)),
            409,
            "conflict",
        )
        await cases.transition(
            session,
            officer,
            case_id,
            "refuse",
            fields={"reason": "选址不符合规划要求", "opinion": "经审查，同意。"},
        )
        problem(
            await client.post(rating_url, json={"score": 0}, headers=auth(me.account)),
            422,
            "invalid-input",
        )
        r = await client.post(
            rating_url, json={"score": 2, "comment": "理由说明清楚"}, headers=auth(me.account)
        )
        assert r.status_code == 201 and r.json()["score"] == 2
        problem(
            await client.post(rating_url, json={"score": 5}, headers=auth(me.account)),
            409,
            "conflict",
        )
        read = (await client.get(f"{BASE}/{application['id']}", headers=auth(me.account))).json()
        assert read["rating"]["score"] == 2 and not read["can_rate"]
        assert read["clock"]["closed_at"] is not None and read["clock"]["on_time"] is True
