"""One rule for typed names and free text (core.text): control characters, ANSI escapes and
bidi overrides are refused, and so are values of only whitespace; in the API as a 422 naming
the field, in forms as the marked field, in services as InvalidInput."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from smartcity.core.errors import InvalidInput
from smartcity.core.text import FreeText, Name, clean_name, clean_text
from smartcity.sensing.rules import service as rules
from smartcity.services.application.drafts import clean_answer
from tests.core.test_api import PROBLEM, admin_headers
from tests.core.test_pages import HTML, TestAdminPages, get_form
from tests.problems import assert_problem

BAD = {
    "nul": "王\x00五",
    "ansi": "\x1b[31m王五\x1b[0m",
    "bell": "王五\x07",
    "del": "王五\x7f",
    "c1": "王五\x85",
    "rlo": "invoice\u202efdp.exe",
    "lre": "\u202a王五",
    "isolate": "王\u2066五\u2069",
    "pdi": "王五\u2069",
}


class Named(BaseModel):
    name: Name = Field(min_length=1, max_length=20)


class Noted(BaseModel):
    note: FreeText = Field(default="", max_length=200)


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_controls_and_bidi_are_refused_everywhere(value: str) -> None:
    with pytest.raises(ValidationError) as name_error:
        Named(name=value)
    assert name_error.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(ValidationError):
        Noted(note=value)
    for clean in (clean_name, clean_text):
        with pytest.raises(InvalidInput) as problem:
            clean(value, "field")
        assert problem.value.extensions["field"] == "field"
        assert problem.value.slug == "invalid-input"


@pytest.mark.parametrize("value", [" ", "\t\n", "\u3000", "   \r\n"])
def test_whitespace_only_is_refused(value: str) -> None:
    with pytest.raises(ValidationError):
        Named(name=value)
    with pytest.raises(ValidationError):
        Noted(note=value)


def test_what_people_really_type_is_kept() -> None:
    assert Named(name="  欧阳小明 ").name == "欧阳小明"
    assert Named(name="O'Brien-Smith").name == "O'Brien-Smith"
    assert Noted(note="第一行\n第二行\r\n\t缩进").note == "第一行\n第二行\r\n\t缩进"
    assert Noted().note == ""  # an optional text may be left empty
    assert Named(name="مرحبا").name == "مرحبا"  # right-to-left script itself is fine


def test_a_name_is_one_line() -> None:
    with pytest.raises(ValidationError):
        Named(name="王\n五")
    with pytest.raises(InvalidInput):
        clean_name("王\t五", "name")


def test_services_that_take_text_without_a_schema_use_the_rule() -> None:
    with pytest.raises(InvalidInput) as problem:
        rules._name("\u202e警报")
    assert problem.value.extensions["field"] == "name"
    field = {"name": "business_scope", "label": "经营范围", "type": "textarea"}
    with pytest.raises(InvalidInput) as problem:
        clean_answer(field, "预包装食品\u202e销售")
    assert problem.value.extensions["field"] == "business_scope"
    assert clean_answer(field, "预包装食品\n销售") == "预包装食品\n销售"


class TestApi:
    async def test_department_name_with_an_override_is_422_naming_the_field(
        self, client, session
    ) -> None:
        headers = await admin_headers(session)
        r = await client.post(
            "/api/v1/departments", json={"code": "SWJ", "name": "水务\u202e局"}, headers=headers
        )
        assert_problem(r, 422, "invalid-input")
        assert r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["type"] == "/problems/invalid-input"
        assert [e["field"] for e in body["errors"]] == ["name"]

    async def test_whitespace_display_name_is_422_naming_the_field(self, client, session) -> None:
        headers = await admin_headers(session)
        r = await client.post(
            "/api/v1/accounts",
            json={"username": "wang.wu", "display_name": "   ", "kind": "citizen"},
            headers=headers,
        )
        assert_problem(r, 422, "invalid-input")
        assert [e["field"] for e in r.json()["errors"]] == ["display_name"]


class TestForms:
    async def test_account_form_marks_the_display_name(self, client, session) -> None:
        await TestAdminPages().admin(client, session)
        token = await get_form(client, "/admin/accounts")
        r = await client.post(
            "/admin/accounts",
            headers=HTML,
            data={
                "csrf_token": token,
                "username": "wang.wu",
                "display_name": "\x1b[2J王五",
                "kind": "citizen",
            },
        )
        assert r.status_code == 422
        assert 'id="display_name-error"' in r.text
