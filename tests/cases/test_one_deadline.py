"""One deadline, everywhere (issue #12, item 1): for one application, at several instants —
the day it opens, paused for 补正, after resuming, its last day, the day after — the citizen's
page, 我的申请, the officer's queue and case page, the acceptance and resume messages, the
cases and services API answers, the supervision board's list, its API and its CSV all give
the same working days left, the same due date and the same state."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service as cases
from smartcity.cases.deadline import DEADLINE_STATE_TITLES, case_deadline
from smartcity.cases.models import Case
from smartcity.cases.supervision.export import _CASE_HEADER
from smartcity.core import clock, i18n
from smartcity.core.models import Account, Notification
from smartcity.core.security import PRESESSION_COOKIE, issue_access_token
from smartcity.core.workdays import load_calendar
from smartcity.services.types import BASE_NAME
from smartcity.settings import get_settings
from tests.cases.factories import person
from tests.services import factories as f

CST = clock.CITY_TZ
# Mon 7 Dec 2026, 10:00 in Shenzhen: a December without holidays, the 10-day promise in it.
OPENED = datetime(2026, 12, 7, 10, tzinfo=CST)

# What every place must say at each instant: (state, working days left, due date).
Expected = tuple[str, int, date]

TRIPLE = re.compile(
    r'data-deadline="(\w+)" data-remaining="(-?\d+)".*?data-due="(\d{4}-\d{2}-\d{2})"', re.S
)


def headers(account: Account, *, html: bool = True, lang: str = "zh-CN") -> dict[str, str]:
    # Issued at the wall clock's time (PyJWT checks it against the real time), and long
    # enough to outlast the weeks the platform's frozen clock is moved through.
    settings = get_settings().model_copy(update={"access_token_minutes": 60 * 24 * 60})
    with clock.frozen(datetime.now(UTC)):
        token = issue_access_token(settings, account, amr=["pwd", "otp"])
    return {
        "Authorization": f"Bearer {token}",
        "accept": "text/html" if html else "application/json",
        "Accept-Language": lang,
    }


def triple(html: str, after: str = "") -> Expected:
    """The first deadline marked in the page (after the text ``after``)."""
    if after:
        assert after in html, f"{after!r} not on the page"
        html = html.split(after, 1)[1]
    match = TRIPLE.search(html)
    assert match, "no deadline shown"
    return match[1], int(match[2]), date.fromisoformat(match[3])


class Scene:
    def __init__(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        self.client, self.session = client, session

    async def build(self) -> None:
        self.me = await f.citizen(self.session)
        item = await f.citizen_item(self.session, statutory_days=20, promised_days=10)
        self.officer, self.officer_p = await person(self.session, "staff", "SCJGJ")
        self.supervisor, _p = await person(self.session, "supervisor", "ZWSJJ")
        application, case_ = await f.submitted(self.session, self.me, item)
        # Plain values: the sweep expires the session's objects.
        self.app_id, self.case_id, self.number = application.id, case_.id, case_.number
        self.me_id = self.me.account.id

    async def step(self, name: str, who: Any = None, **fields: str) -> None:
        await cases.transition(
            self.session, who or self.officer_p, self.case_id, name, fields=fields
        )

    async def get(self, path: str, account: Account, **kw: Any) -> httpx.Response:
        # Pages with forms want the browser's pre-session cookie for their CSRF tokens.
        self.client.cookies.set(PRESESSION_COOKIE, "one-deadline-test")
        await self.session.refresh(account)  # the sweep expires the session's objects
        r = await self.client.get(path, headers=headers(account, **kw))
        assert r.status_code == 200, (path, r.headers.get("location"), r.text[:300])
        return r

    async def everywhere(self) -> dict[str, Expected]:
        """The deadline as every page, answer and export gives it now."""
        app = f"/my/applications/{self.app_id}"
        seen: dict[str, Expected] = {}
        page = (await self.get(app, self.me.account)).text
        seen["citizen page"] = triple(page, 'class="status-line"')
        seen["my applications"] = triple(
            (await self.get("/my/applications", self.me.account)).text, app
        )
        queue = (await self.get("/cases?tab=department", self.officer)).text
        seen["queue"] = triple(queue, self.number)
        case_page = (await self.get(f"/cases/{self.case_id}", self.officer)).text
        seen["case page"] = triple(case_page, 'data-clock="promised"')
        board = (await self.get("/supervision/cases?status=open", self.supervisor)).text
        seen["board"] = triple(board, self.number)

        api = (await self.get(f"/api/v1/cases/{self.case_id}", self.officer, html=False)).json()
        d = api["case"]["deadline"]
        seen["cases api"] = (d["state"], d["remaining"], date.fromisoformat(d["due_date"]))
        api = (
            await self.get(
                f"/api/v1/services/applications/{self.app_id}", self.me.account, html=False
            )
        ).json()["clock"]
        seen["services api"] = (
            api["state"],
            api["remaining_workdays"],
            date.fromisoformat(api["due_date"]),
        )
        items = (
            await self.get("/api/v1/supervision/cases?status=open", self.supervisor, html=False)
        ).json()["items"]
        [line] = [i for i in items if i["number"] == self.number]
        seen["board api"] = (
            line["deadline_state"],
            line["remaining_workdays"],
            date.fromisoformat(line["due_date"]),
        )

        raw = (await self.get("/supervision/cases.csv?status=open", self.supervisor)).content
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        [row] = [r for r in rows[1:] if r[0] == self.number]
        zh = i18n.translations("zh_CN").gettext
        titles = {zh(t): s for s, t in DEADLINE_STATE_TITLES.items()}
        seen["csv"] = (
            titles[row[_CASE_HEADER.index("Deadline")]],
            int(row[_CASE_HEADER.index("Working days left")]),
            date.fromisoformat(row[_CASE_HEADER.index("Due date")]),
        )
        # The pages write the date as the locale does, with the one helper.
        for name, html in (("citizen page", page), ("case page", case_page), ("board", board)):
            assert i18n.format_day(seen[name][2], "zh_CN") in html, name
        # And the engine's function itself says the same.
        case_ = await self.session.get(Case, self.case_id)
        assert case_ is not None
        await self.session.refresh(case_)
        line_ = case_deadline(case_, await load_calendar(self.session), clock.now())
        seen["case_deadline"] = (line_.state, line_.remaining, line_.due_date)
        return seen

    async def message(self, step: str) -> str:
        rows = await self.session.execute(
            select(Notification.body).where(
                Notification.account_id == self.me_id,
                Notification.topic == f"{BASE_NAME}.{step}",
            )
        )
        return rows.scalar_one()


def agree(seen: dict[str, Expected], expected: Expected) -> None:
    wrong = {name: value for name, value in seen.items() if value != expected}
    assert not wrong, f"expected {expected}, but {wrong}"


@pytest.fixture
async def scene(client: httpx.AsyncClient, session: AsyncSession) -> Scene:
    return Scene(client, session)


async def test_every_place_gives_the_same_deadline(scene: Scene) -> None:
    with clock.frozen(OPENED) as advance:

        def at(instant: datetime) -> None:
            advance(instant - clock.now())

        await scene.build()
        await scene.step("accept")
        # The day it opens: the whole promise of 10 working days, 12-08 .. 12-21.
        due = date(2026, 12, 21)
        agree(await scene.everywhere(), ("on_time", 10, due))
        assert "承诺于2026年12月21日前办结" in await scene.message("accept")

        at(datetime(2026, 12, 8, 10, tzinfo=CST))
        await scene.step("review")
        at(datetime(2026, 12, 9, 10, tzinfo=CST))
        await scene.step("request_supplement", missing="经营场所平面图")
        # Paused for 补正 on Wed 12-09: 8 working days stay left (12-10 .. 12-21); on Fri
        # 12-11 the limit would end two working days later (12-10 and 12-11 added) if the
        # clock ran again now.
        at(datetime(2026, 12, 11, 10, tzinfo=CST))
        agree(await scene.everywhere(), ("paused", 8, date(2026, 12, 23)))

        # Resumed on Mon 12-14: three working days of pause added, the 8 left now end Thu 12-24.
        at(datetime(2026, 12, 14, 10, tzinfo=CST))
        await cases.transition(scene.session, scene.me.principal, scene.case_id, "supplement")
        due = date(2026, 12, 24)
        agree(await scene.everywhere(), ("on_time", 8, due))
        assert "承诺于2026年12月24日前办结" in await scene.message("supplement")

        # The last day, late afternoon: nothing left but today, past the yellow threshold.
        at(datetime(2026, 12, 24, 16, tzinfo=CST))
        agree(await scene.everywhere(), ("warning", 0, due))

        # The day after: overdue by one working day.
        at(datetime(2026, 12, 25, 10, tzinfo=CST))
        agree(await scene.everywhere(), ("overdue", -1, due))
        # The board's red list, after the sweep, says so too.
        from smartcity.cases import clocks

        await clocks.sweep_warnings(scene.session)
        board = (await scene.get("/supervision", scene.supervisor)).text
        assert triple(board, scene.number) == ("overdue", -1, due)
        # In English the same day reads as English writes it.
        english = (
            await scene.get(f"/my/applications/{scene.app_id}", scene.me.account, lang="en")
        ).text
        assert "24 Dec 2026" in english and "2026年12月24日" not in english


async def test_an_unknown_case_has_no_deadline_answer(scene: Scene) -> None:
    await scene.build()
    r = await scene.client.get(
        f"/api/v1/cases/{uuid.uuid4()}", headers=headers(scene.officer, html=False)
    )
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
