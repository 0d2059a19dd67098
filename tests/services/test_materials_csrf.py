"""A material upload authenticated by the browser's session cookie needs this session's CSRF
token: another site's page cannot upload into a citizen's application."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import PROBLEM_JSON
from tests.core.test_pages import HTML, csrf_of, sign_in
from tests.problems import assert_problem
from tests.registry import factories as registry_factories
from tests.services import factories as f
from tests.services.test_application_api import BASE, auth


@pytest.fixture(autouse=True)
async def _setup(session: AsyncSession) -> None:
    await registry_factories.source_departments(session)


async def _signed_in_draft(client, session) -> tuple[str, str]:
    item = await f.citizen_item(session)
    me = await f.citizen(session)
    r = await client.post(BASE, json={"item_code": item.code}, headers=auth(me.account))
    assert r.status_code == 201, r.text
    assert (await sign_in(client, me.account.username)).status_code == 303
    page = await client.get("/account", headers=HTML)
    return r.json()["id"], csrf_of(page.text)


def _upload(client, application_id: str, headers: dict[str, str]):
    return client.post(
        f"{BASE}/{application_id}/materials",
        data={"name": "经营场所平面图"},
        files={"file": ("平面图.pdf", f.PDF, "application/pdf")},
        headers=headers,
    )


async def test_cross_site_upload_with_the_cookie_is_refused(client, session) -> None:
    application_id, _token = await _signed_in_draft(client, session)
    r = await _upload(
        client, application_id, {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    )
    assert_problem(r, 403, "csrf-failed")
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert r.json()["type"] == "/problems/csrf-failed"
    listed = await client.get(f"{BASE}/{application_id}")
    assert listed.status_code == 200
    plan = next(m for m in listed.json()["materials"] if m["name"] == "经营场所平面图")
    assert plan["provided"] is False


async def test_upload_with_the_sessions_token_is_accepted(client, session) -> None:
    application_id, token = await _signed_in_draft(client, session)
    r = await _upload(client, application_id, {"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
