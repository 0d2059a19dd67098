"""The registration and recovery pages over HTTP: marked fields on bad input, the whole
journey to a signed-in citizen whose /my/data shows their record, and recovery."""

from __future__ import annotations

import re

from smartcity.core import notifications
from tests.core.test_pages import HTML, csrf_of, get_form
from tests.portal.test_registration import PASSWORD, Outbox, _person, outbox  # noqa: F401


def _code_id(html: str) -> str:
    found = re.search(r'name="code_id" value="([^"]+)"', html)
    assert found, "no code id on the page"
    return found.group(1)


async def test_register_page_marks_bad_fields(client, session) -> None:  # type: ignore[no-untyped-def]
    await _person(session)
    token = await get_form(client, "/register")
    r = await client.post(
        "/register",
        headers=HTML,
        data={
            "csrf_token": token,
            "name": "",
            "id_number": "123",
            "channel": "sms",
            "address": "13800138000",
        },
    )
    assert r.status_code == 422
    assert 'id="name-error"' in r.text and 'aria-invalid="true"' in r.text


async def test_register_then_my_data_then_recover(client, session, outbox: Outbox) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    person = await _person(session)
    token = await get_form(client, "/register")
    r = await client.post(
        "/register",
        headers=HTML,
        data={
            "csrf_token": token,
            "name": person.name,
            "id_number": person.id_number,
            "channel": "sms",
            "address": "13800138000",
        },
    )
    assert r.status_code == 200, r.text
    code_id = _code_id(r.text)
    r = await client.post(
        "/register/verify",
        headers=HTML,
        data={
            "csrf_token": csrf_of(r.text),
            "code_id": code_id,
            "code": "99999",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 422 and 'id="code-error"' in r.text
    r = await client.post(
        "/register/verify",
        headers=HTML,
        data={
            "csrf_token": csrf_of(r.text),
            "code_id": code_id,
            "code": outbox.last_code(),
            "password": "Reg-Password-1",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/account"
    r = await client.get("/my/data", headers=HTML)
    assert r.status_code == 200 and person.name in r.text
    client.cookies.clear()
    token = await get_form(client, "/recover")
    r = await client.post(
        "/recover",
        headers=HTML,
        data={"csrf_token": token, "channel": "sms", "address": "13800138000"},
    )
    assert r.status_code == 200
    r = await client.post(
        "/recover/reset",
        headers=HTML,
        data={
            "csrf_token": csrf_of(r.text),
            "code_id": _code_id(r.text),
            "code": outbox.last_code(),
            "password": "weak",
        },
    )
    assert r.status_code == 422 and 'id="password-error"' in r.text
    r = await client.post(
        "/recover/reset",
        headers=HTML,
        data={
            "csrf_token": csrf_of(r.text),
            "code_id": _code_id(r.text),
            "code": outbox.last_code(),
            "password": "New-Password-77",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/login?reset=1"
    assert notifications.address_channel("sms") is outbox
