"""The working-day calendar (工作日历) over HTTP: the API and the admin pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts, clock
from smartcity.core.models import AuditEntry, CalendarDay
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories
from tests.core.factories import ROOT
from tests.problems import assert_problem

PROBLEM = "application/problem+json"
Params = dict[str, str | int]
NATIONAL_DAY: Params = {"start": "2026-09-30T10:00:00+08:00", "days": 1}
INTO_2027: Params = {"start": "2026-12-30T10:00:00+08:00", "days": 5}
BODY_2027 = {
    "notice": "国办发明电〔2026〕test",
    "entries": [
        {"start": "2027-01-01", "kind": "holiday", "name": "元旦"},
        {"start": "2027-02-06", "end": "2027-02-12", "kind": "holiday", "name": "春节"},
        {"start": "2027-02-20", "kind": "workday", "name": "春节调休"},
    ],
}


async def admin_headers(session: AsyncSession) -> dict[str, str]:
    admin = await factories.create_account(session, kind="admin")
    await session.commit()
    token = issue_access_token(get_settings(), admin, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}", "accept-language": "en"}


async def system_headers(session: AsyncSession) -> dict[str, str]:
    account = await factories.create_account(session, kind="system")
    _row, key = await accounts.issue_api_key(session, ROOT, username=account.username, name="t")
    await session.commit()
    return {"Authorization": f"Bearer {key}"}


async def citizen_headers(session: AsyncSession) -> dict[str, str]:
    account = await factories.create_account(session, kind="citizen")
    await session.commit()
    token = issue_access_token(get_settings(), account, amr=["pwd"])
    return {"Authorization": f"Bearer {token}", "accept-language": "en"}


class TestGetYear:
    async def test_anonymous_is_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/calendar/2026")
        assert_problem(r, 401, "unauthenticated")
        assert r.headers["content-type"] == PROBLEM

    async def test_2026_from_the_package(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get("/api/v1/calendar/2026", headers=await system_headers(session))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["year"], body["source"], body["provisional"], body["notice"]) == (
            2026,
            "official_package",
            False,
            "",
        )
        special = {d["date"]: d for d in body["special_days"]}
        assert special["2026-01-04"] == {
            "date": "2026-01-04",
            "is_workday": True,
            "name": "元旦调休",
        }
        assert special["2026-02-14"]["is_workday"] is True
        assert special["2026-10-01"] == {
            "date": "2026-10-01",
            "is_workday": False,
            "name": "国庆节",
        }
        assert "2026-01-03" not in special  # a Saturday inside 元旦: a weekend anyway
        assert body["months"][1] == {"month": 2, "workdays": 16}
        assert body["months"][9] == {"month": 10, "workdays": 18}
        assert body["workdays"] == sum(m["workdays"] for m in body["months"])

    async def test_uncovered_year_is_provisional(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get("/api/v1/calendar/2027", headers=await system_headers(session))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["source"], body["provisional"], body["special_days"]) == (
            "weekend_rule",
            True,
            [],
        )

    async def test_year_out_of_range(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get("/api/v1/calendar/1800", headers=await system_headers(session))
        assert_problem(r, 422, "invalid-input")
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["errors"][0]["field"] == "year"


class TestDeadline:
    async def test_across_national_day(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get(
            "/api/v1/calendar/deadline", params=NATIONAL_DAY, headers=await system_headers(session)
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "start": "2026-09-30T10:00:00+08:00",
            "days": 1,
            "at": "2026-10-08T16:00:00Z",
            "due_date": "2026-10-08",
            "provisional": False,
        }

    async def test_into_2027_is_provisional(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get(
            "/api/v1/calendar/deadline", params=INTO_2027, headers=await system_headers(session)
        )
        assert (r.json()["due_date"], r.json()["provisional"]) == ("2027-01-06", True)

    async def test_anonymous_is_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/calendar/deadline", params=NATIONAL_DAY)
        assert_problem(r, 401, "unauthenticated")

    async def test_bad_input(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        headers = await system_headers(session)
        cases: list[tuple[Params, str]] = [
            ({"start": "2026-09-30T10:00:00+08:00", "days": -1}, "days"),
            ({"start": "2026-09-30T10:00:00", "days": 1}, "start"),  # naive
            ({"start": "yesterday", "days": 1}, "start"),
            ({"start": "1800-01-02T10:00:00+08:00", "days": 1}, "start"),
            ({"start": "2026-09-30T10:00:00+08:00", "days": 100_000}, "days"),
            ({"days": 1}, "start"),
        ]
        for params, field in cases:
            r = await client.get("/api/v1/calendar/deadline", params=params, headers=headers)
            assert_problem(r, 422, "invalid-input")
            assert r.headers["content-type"] == PROBLEM
            body = r.json()
            fields = [e["field"] for e in body.get("errors", [])] or [body.get("field")]
            assert field in fields, (params, body)


class TestPutYear:
    async def test_admin_enters_a_year(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        # Frozen at the real time: PyJWT checks the token's times against the wall clock.
        entered_at = datetime.now(UTC).replace(microsecond=0)
        with clock.frozen(entered_at):
            headers = await admin_headers(session)
            r = await client.put("/api/v1/calendar/2027", json=BODY_2027, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["source"], body["provisional"], body["notice"]) == (
            "entered",
            False,
            "国办发明电〔2026〕test",
        )
        assert body["entered_at"] == entered_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert {d["date"] for d in body["special_days"]} == {
            "2027-01-01",
            "2027-02-08",
            "2027-02-09",
            "2027-02-10",
            "2027-02-11",
            "2027-02-12",
            "2027-02-20",
        }
        # The deadline that was provisional is now counted with the entered 元旦.
        r = await client.get("/api/v1/calendar/deadline", params=INTO_2027, headers=headers)
        assert (r.json()["due_date"], r.json()["provisional"]) == ("2027-01-07", False)
        entry = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.action == "core.calendar.enter_year")
                    .order_by(AuditEntry.seq.desc())
                )
            )
            .scalars()
            .first()
        )
        assert entry is not None
        assert entry.target == "2027"
        assert entry.detail == {
            "notice": "国办发明电〔2026〕test",
            "holidays": 8,
            "workdays": 1,
            "replaced": False,
        }

    async def test_anonymous_is_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.put("/api/v1/calendar/2027", json=BODY_2027)
        assert_problem(r, 401, "unauthenticated")

    async def test_non_admin_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        for headers in (await system_headers(session), await citizen_headers(session)):
            r = await client.put("/api/v1/calendar/2027", json=BODY_2027, headers=headers)
            assert_problem(r, 403, "forbidden")
            assert r.headers["content-type"] == PROBLEM
        days = await session.execute(select(CalendarDay).where(CalendarDay.year == 2027))
        assert days.scalars().all() == []

    async def test_bad_body_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = await admin_headers(session)
        holiday = {"start": "2027-01-01", "kind": "holiday", "name": "元旦"}
        bodies: list[dict[str, Any]] = [
            {"notice": "n", "entries": [{**holiday, "kind": "vacation"}]},
            {"notice": "n", "entries": [{**holiday, "end": "2026-12-31"}]},
            {"notice": "n", "entries": [{**holiday, "start": "2027-02-30"}]},
            {"notice": "n", "entries": [{**holiday, "name": ""}]},
            {"notice": "", "entries": [holiday]},
            {"notice": "n", "entries": []},
            {"entries": [holiday]},
        ]
        for body in bodies:
            r = await client.put("/api/v1/calendar/2027", json=body, headers=headers)
            assert_problem(r, 422, "invalid-input")
            assert r.headers["content-type"] == PROBLEM

    async def test_same_rules_as_the_text_format(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = await admin_headers(session)
        body = {
            "notice": "n",
            "entries": [
                {"start": "2027-01-01", "kind": "holiday", "name": "元旦"},
                {"start": "2028-01-01", "kind": "holiday", "name": "元旦"},
                {"start": "2026-12-31", "end": "2027-01-01", "kind": "holiday", "name": "元旦"},
                {"start": "2027-01-01", "kind": "workday", "name": "x"},
            ],
        }
        r = await client.put("/api/v1/calendar/2027", json=body, headers=headers)
        assert_problem(r, 422, "invalid-input")
        assert r.json()["errors"] == [
            {"entry": 2, "message": "the dates must be in 2027"},
            {"entry": 3, "message": "the dates must be in 2027"},
            {"entry": 4, "message": "2027-01-01 listed twice (also on entry 1)"},
        ]
        assert "entry 2:" in r.json()["detail"]

    async def test_year_out_of_range(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.put(
            "/api/v1/calendar/1800", json=BODY_2027, headers=await admin_headers(session)
        )
        assert_problem(r, 422, "invalid-input")


HTML = {"accept": "text/html"}
LINES_2027 = (
    "# 2027\n2027-01-01 holiday 元旦\n2027-02-06..2027-02-12 holiday 春节\n"
    "2027-02-20 workday 春节调休\n"
)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


class TestCalendarPages:
    async def test_anonymous_goes_to_sign_in(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/admin/calendar", headers=HTML)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")

    async def test_non_admin_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        r = await client.get("/admin/calendar", headers={**HTML, **await citizen_headers(session)})
        assert r.status_code == 403

    async def test_admin_enters_a_year_after_fixing_errors(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = {**HTML, **await admin_headers(session)}
        page = await client.get("/admin/calendar", headers=headers)
        assert page.status_code == 200, page.text
        assert 'href="/admin/calendar"' in page.text  # the menu entry
        assert 'name="entries"' in page.text
        token = csrf_of(page.text)

        typed = LINES_2027 + "2027-13-01 holiday 坏日期\n2027-05-01 vacation 劳动节\n"
        r = await client.post(
            "/admin/calendar",
            headers=headers,
            data={"csrf_token": token, "year": "2027", "notice": "通知", "entries": typed},
        )
        assert r.status_code == 422
        assert 'id="entries-error"' in r.text
        assert "Line 5:" in r.text and "2027-13-01 is not a date" in r.text
        assert "Line 6:" in r.text and "unknown kind vacation" in r.text
        assert "2027-02-06..2027-02-12 holiday 春节" in r.text  # what was typed is kept
        assert 'value="通知"' in r.text

        r = await client.post(
            "/admin/calendar",
            headers=headers,
            data={"csrf_token": token, "year": "20x7", "notice": "", "entries": LINES_2027},
        )
        assert r.status_code == 422
        assert 'id="year-error"' in r.text and 'id="notice-error"' in r.text

        r = await client.post(
            "/admin/calendar",
            headers=headers,
            data={"csrf_token": token, "year": "2027", "notice": "通知", "entries": LINES_2027},
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/admin/calendar/2027?entered=1"

        year = await client.get("/admin/calendar/2027?entered=1", headers=headers)
        assert year.status_code == 200
        assert "春节调休" in year.text and "2027-02-20" in year.text
        assert "通知" in year.text
        listing = await client.get("/admin/calendar", headers=headers)
        assert 'href="/admin/calendar/2027"' in listing.text

    async def test_missing_csrf_is_refused(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = {**HTML, **await admin_headers(session)}
        r = await client.post(
            "/admin/calendar",
            headers=headers,
            data={"year": "2027", "notice": "通知", "entries": LINES_2027},
        )
        assert r.status_code == 400
        days = await session.execute(select(CalendarDay).where(CalendarDay.year == 2027))
        assert days.scalars().all() == []

    async def test_uncovered_year_page_says_provisional(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        headers = {**HTML, **await admin_headers(session)}
        r = await client.get("/admin/calendar/2030", headers=headers)
        assert r.status_code == 200
        assert "Provisional" in r.text
        r = await client.get("/admin/calendar/1800", headers=headers)
        assert r.status_code == 422
