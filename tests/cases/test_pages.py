"""The staff pages of the case engine (办件工作台): the work queue and the case page with its
timeline, panels and the forms of the steps and actions open to the caller."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import clocks, hooks, pages, service, views
from smartcity.cases.deadline import case_deadline
from smartcity.cases.hooks import Panel
from smartcity.cases.models import Case, CaseEvent, CaseFlag
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.core.security import (
    PRESESSION_COOKIE,
    csrf_token_for,
    issue_access_token,
    seal_totp_secret,
)
from smartcity.core.workdays import WorkCalendar
from smartcity.services.types import BASE_NAME
from smartcity.settings import get_settings
from tests.cases.factories import World, open_application, person, world
from tests.core.test_pages import get_form, sign_in

# The browser's pre-session id; its forms carry the token the platform derives from it.
PRESESSION = "desk-test-browser"


def csrf() -> str:
    return csrf_token_for(get_settings(), session_token=None, presession=PRESESSION)


# Monday 2026-03-02, 10:00 in Shenzhen: a plain working week.
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[object]:
    with clock.frozen(MONDAY) as advance:
        yield advance


def as_(client: httpx.AsyncClient, account: Account) -> dict[str, str]:
    """Headers of a page request by the account; the CSRF cookie is set for its forms."""
    client.cookies.set(PRESESSION_COOKIE, PRESESSION)
    # Issued at the wall clock's time: PyJWT checks the token against it even while the
    # platform's clock is frozen in the past.
    with clock.frozen(datetime.now(UTC)):
        token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}", "accept": "text/html"}


async def post(
    client: httpx.AsyncClient, account: Account, path: str, **data: str
) -> httpx.Response:
    headers = as_(client, account)
    return await client.post(path, headers=headers, data={"csrf_token": csrf(), **data})


async def reload(session: AsyncSession, case: Case) -> Case:
    """The case as the database has it now (the pages changed it in their own session)."""
    await session.refresh(case)
    return case


async def accounts(session: AsyncSession, w: World) -> tuple[Account, Account, Account]:
    """The colleague's and the supervisor's accounts (the world keeps their principals)."""
    colleague = await session.get(Account, w.colleague_p.id)
    supervisor = await session.get(Account, w.supervisor_p.id)
    assert colleague is not None and supervisor is not None
    return colleague, supervisor, w.applicant


def numbers_in(html: str) -> list[str]:
    return re.findall(r'class="case-no">(SQ-\d{8}-\d{6})', html)


class TestQueuePage:
    async def test_only_readable_cases_in_urgency_order_with_days_left(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen: object
    ) -> None:
        w = await world(session)
        late = await open_application(session, w, "最早的申请")
        # Two days later, a second case; the first one's two-day acceptance limit runs out.
        advance = frozen
        assert callable(advance)
        advance(timedelta(days=1))
        middle = await open_application(session, w, "第二件申请")
        advance(timedelta(days=1))
        fresh = await open_application(session, w, "最新的申请")
        other = await service.open_case(
            session,
            w.applicant_p,
            case_type="test.application",
            title="公安局的申请",
            department_code="GAJ",
        )
        advance(timedelta(days=1))  # Thursday: the first case's step limit (Tue) has run out
        headers, applicant_name = as_(client, w.officer), w.applicant.display_name
        expected = [late.number, middle.number, fresh.number]
        other_number = other.number
        await clocks.sweep_warnings(session)  # (expires the session's objects)
        r = await client.get("/cases", params={"tab": "department"}, headers=headers)
        assert r.status_code == 200, r.text
        assert numbers_in(r.text) == expected
        assert other_number not in r.text
        # Applicants by name, the red case marked and counted as overdue.
        assert applicant_name in r.text
        assert 'class="is-red"' in r.text
        row = r.text.split(expected[0])[0].rsplit("<tr", 1)[1]
        assert "is-red" in row
        # The red case's step limit ended Tue 24:00: one working day overdue.
        late = await reload(session, late)
        calendar = WorkCalendar()
        assert late.step_due_at is not None and late.promised_due_at is not None
        step = case_deadline(late, calendar, clock.now(), "step")
        assert (step.remaining, step.state) == (-1, "overdue")
        assert case_deadline(late, calendar, clock.now()).remaining == 7
        first_row = r.text.split(late.number)[1].split("</tr>")[0]
        assert "days over" in first_row and "<strong>7</strong>" in first_row

    async def test_tabs_counts_and_filters(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen: object
    ) -> None:
        w = await world(session)
        mine = await open_application(session, w, "分给我的")
        theirs = await open_application(session, w, "分给同事的")
        free = await open_application(session, w, "没人管的")
        await service.transition(session, w.officer_p, mine.id, "accept")
        await service.assign(session, w.officer_p, mine.id, w.officer.username)
        colleague, _supervisor, _applicant = await accounts(session, w)
        await service.assign(session, w.officer_p, theirs.id, colleague.username)
        headers = as_(client, w.officer)
        r = await client.get("/cases", headers=headers)
        # Without a tab: one's own cases first.
        assert numbers_in(r.text) == [mine.number]
        counts = dict(re.findall(r'tab=(\w+)[^"]*"[^>]*>[^<]*<span class="count">(\d+)', r.text))
        assert counts == {"mine": "1", "department": "3", "unassigned": "1"}
        r = await client.get("/cases", params={"tab": "unassigned"}, headers=headers)
        assert numbers_in(r.text) == [free.number]
        r = await client.get(
            "/cases", params={"tab": "department", "state": "accepted"}, headers=headers
        )
        assert numbers_in(r.text) == [mine.number]
        r = await client.get(
            "/cases", params={"tab": "department", "warning": "red"}, headers=headers
        )
        assert numbers_in(r.text) == []
        # Nonsense parameters are ignored, never a 500.
        r = await client.get(
            "/cases",
            params={"tab": "all", "warning": "purple", "state": "x" * 300, "offset": "-3"},
            headers=headers,
        )
        assert r.status_code == 200
        assert numbers_in(r.text) == [mine.number]

    async def test_pages_through_a_long_queue(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        frozen: object,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(pages, "PAGE_SIZE", 2)
        w = await world(session)
        opened = [await open_application(session, w, f"申请{i}") for i in range(3)]
        headers = as_(client, w.officer)
        r = await client.get("/cases", params={"tab": "department"}, headers=headers)
        assert numbers_in(r.text) == [c.number for c in opened[:2]]
        more = re.search(r'href="(/cases\?[^"]*offset=2[^"]*)"', r.text)
        assert more is not None
        r = await client.get(more.group(1).replace("&amp;", "&"), headers=headers)
        assert numbers_in(r.text) == [opened[2].number]

    async def test_supervisor_sees_every_department_and_filters_by_one(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        ours = await open_application(session, w)
        theirs = await service.open_case(
            session,
            w.applicant_p,
            case_type="test.application",
            title="公安局的申请",
            department_code="GAJ",
        )
        _colleague, supervisor, _applicant = await accounts(session, w)
        headers = as_(client, supervisor)
        r = await client.get("/cases", headers=headers)
        assert set(numbers_in(r.text)) == {ours.number, theirs.number}
        r = await client.get("/cases", params={"department": "GAJ"}, headers=headers)
        assert numbers_in(r.text) == [theirs.number]

    async def test_citizen_refused_anonymous_sent_to_sign_in(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        for path in ("/cases", f"/cases/{case.id}"):
            r = await client.get(path, headers=as_(client, w.applicant))
            assert r.status_code == 403
            client.cookies.clear()
            r = await client.get(path, headers={"accept": "text/html"})
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = await post(client, w.applicant, f"/cases/{case.id}/steps/accept")
        assert r.status_code == 403
        assert (await reload(session, case)).state == "submitted"


class TestCasePage:
    async def test_shows_the_facts_clocks_and_only_the_callers_steps(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen: object
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert r.status_code == 200
        assert case.number in r.text and w.applicant.display_name in r.text
        # Accept and refuse acceptance are the department's; the rest of the type is not shown.
        assert f'action="/cases/{case.id}/steps/accept"' in r.text
        assert 'id="step-not_accept-reason"' in r.text
        assert "/steps/review" not in r.text and "/steps/approve" not in r.text
        assert 'id="assign-officer"' in r.text and 'id="transfer-department"' in r.text
        assert 'id="correct-to_state"' in r.text and 'id="comment-text"' in r.text
        # The clocks: statutory 20, promised 10, step 2 working days from Monday.
        assert "2026-03-16" in r.text  # promised: Mon + 10 working days
        assert "2026-03-04" in r.text  # step: Wednesday
        await service.transition(session, w.colleague_p, case.id, "accept")
        r = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        # Review is the assignee's: the colleague who accepted took the case on.
        assert "/steps/" not in r.text
        await service.assign(session, w.officer_p, case.id, w.officer.username)
        r = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert f'action="/cases/{case.id}/steps/review"' in r.text
        colleague, supervisor, _applicant = await accounts(session, w)
        r = await client.get(f"/cases/{case.id}", headers=as_(client, colleague))
        assert "/steps/" not in r.text
        # A supervisor reads and comments, but neither takes steps nor corrects nor assigns.
        r = await client.get(f"/cases/{case.id}", headers=as_(client, supervisor))
        assert r.status_code == 200
        assert "/steps/" not in r.text and 'id="comment-text"' in r.text
        assert 'id="correct-to_state"' not in r.text and 'id="assign-officer"' not in r.text

    async def test_other_department_gets_404(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await client.get(f"/cases/{case.id}", headers=as_(client, w.outsider))
        assert r.status_code == 404
        for action, data in (
            ("steps/accept", {}),
            ("assign", {"officer": w.outsider.username}),
            ("transfer", {"department": "GAJ", "reason": "抢过来"}),
            ("comment", {"text": "看看"}),
            ("correct", {"to_state": "accepted", "reason": "纠错"}),
        ):
            r = await post(client, w.outsider, f"/cases/{case.id}/{action}", **data)
            assert r.status_code == 404, action
        assert (await reload(session, case)).state == "submitted"
        r = await client.get(f"/cases/{uuid.uuid4()}", headers=as_(client, w.officer))
        assert r.status_code == 404
        r = await client.get("/cases/not-a-case", headers=as_(client, w.officer))
        assert r.status_code == 404

    async def test_taking_a_step_moves_the_case_and_writes_the_timeline(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await post(client, w.officer, f"/cases/{case.id}/steps/accept", state="submitted")
        assert r.status_code == 303
        assert r.headers["location"] == f"/cases/{case.id}?done=step&step=accept"
        assert (await reload(session, case)).state == "accepted"
        events = await service.timeline(session, w.officer_p, case.id)
        assert [(e.kind, e.name) for e in events][-1] == ("transition", "accept")
        page = await client.get(r.headers["location"], headers=as_(client, w.officer))
        assert 'class="notice ok"' in page.text
        assert 'class="ev ev-transition"' in page.text

    async def test_a_step_with_a_reason(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await post(
            client,
            w.officer,
            f"/cases/{case.id}/steps/not_accept",
            state="submitted",
            reason="经营场所不在本区，应向所在区申请。",
            ignored="not a field of the step",
        )
        assert r.status_code == 303
        case = await reload(session, case)
        assert case.state == "not_accepted" and case.closed_at is not None
        [event] = [
            e
            for e in await service.timeline(session, w.officer_p, case.id)
            if e.name == "not_accept"
        ]
        assert event.data["fields"] == {"reason": "经营场所不在本区，应向所在区申请。"}
        page = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert "经营场所不在本区" in page.text
        # A closed case offers no step, no assignment, no transfer.
        assert "/steps/" not in page.text and 'id="assign-officer"' not in page.text

    async def test_missing_field_comes_back_marked_with_422(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await post(
            client, w.officer, f"/cases/{case.id}/steps/not_accept", state="submitted", reason="  "
        )
        assert r.status_code == 422
        assert 'id="step-not_accept-reason-error"' in r.text
        assert 'aria-invalid="true"' in r.text
        assert 'href="#step-not_accept-reason"' in r.text  # the error summary links to it
        assert re.search(r'<details class="action" open>\s*<summary>不予受理', r.text)
        assert (await reload(session, case)).state == "submitted"

    async def test_wrong_state_comes_back_with_409(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        colleague, _s, _a = await accounts(session, w)
        # The colleague accepts first; the officer's page still shows 申报.
        await service.transition(session, w.colleague_p, case.id, "accept")
        r = await post(client, w.officer, f"/cases/{case.id}/steps/accept", state="submitted")
        assert r.status_code == 409
        assert 'class="error-summary"' in r.text and 'href="#step-accept"' in r.text
        # A refusal from a form of a state the case has left is refused the same way, even
        # where the step itself might be allowed.
        r = await post(
            client, w.officer, f"/cases/{case.id}/steps/not_accept", reason="理由充分的说明"
        )
        assert r.status_code == 409
        assert (await reload(session, case)).state == "accepted"
        events = await service.timeline(session, w.officer_p, case.id)
        assert [e.name for e in events] == ["open", "assigned", "accept"]
        r = await post(client, w.officer, f"/cases/{case.id}/steps/no_such_step")
        assert r.status_code == 404
        # The assignee-only step, by a colleague who is not the assignee: 403.
        await service.assign(session, w.officer_p, case.id, w.officer.username)
        r = await post(client, colleague, f"/cases/{case.id}/steps/review", state="accepted")
        assert r.status_code == 403
        assert 'class="error-summary"' in r.text

    async def test_forms_need_the_csrf_token(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await client.post(
            f"/cases/{case.id}/steps/accept",
            headers=as_(client, w.officer),
            data={"csrf_token": "forged", "state": "submitted"},
        )
        assert r.status_code == 400
        assert (await reload(session, case)).state == "submitted"


class TestActionForms:
    async def test_assign(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/cases/{case.id}/assign"
        for officer in ("", "nobody-here", w.outsider.username, w.applicant.username):
            r = await post(client, w.officer, path, officer=officer)
            assert r.status_code == 422, officer
            assert 'id="assign-officer-error"' in r.text
        assert (await reload(session, case)).assignee_account_id is None
        colleague, supervisor, _a = await accounts(session, w)
        r = await post(client, w.officer, path, officer=colleague.username)
        assert r.status_code == 303 and r.headers["location"].endswith("?done=assigned")
        assert (await reload(session, case)).assignee_account_id == colleague.id
        page = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert colleague.display_name in page.text
        # A supervisor may not assign.
        r = await post(client, supervisor, path, officer=w.officer.username)
        assert r.status_code == 403

    async def test_transfer(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/cases/{case.id}/transfer"
        for data, field in (
            ({"department": "GAJ", "reason": ""}, "transfer-reason"),
            ({"department": "SCJGJ", "reason": "转给自己"}, "transfer-department"),
            ({"department": "NOPE", "reason": "没有这个部门"}, "transfer-department"),
            ({"department": "", "reason": "没选部门"}, "transfer-department"),
        ):
            r = await post(client, w.officer, path, **data)
            assert r.status_code == 422, data
            assert f'id="{field}-error"' in r.text
            assert '<details class="action" open>' in r.text
        # What was typed stays.
        assert "没选部门" in r.text
        r = await post(client, w.officer, path, department="GAJ", reason="属公安局职权")
        assert r.status_code == 303 and r.headers["location"] == "/cases?done=transferred"
        case = await reload(session, case)
        assert case.department_id == w.outsider.department_id
        queue = await client.get(r.headers["location"], headers=as_(client, w.officer))
        assert 'class="notice ok"' in queue.text and case.number not in queue.text
        page = await client.get(f"/cases/{case.id}", headers=as_(client, w.outsider))
        assert page.status_code == 200 and "属公安局职权" in page.text

    async def test_comment(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/cases/{case.id}/comment"
        for text in ("", "   ", "长" * 2001):
            r = await post(client, w.officer, path, text=text)
            assert r.status_code == 422
            assert 'id="comment-text-error"' in r.text
        r = await post(client, w.officer, path, text="已电话联系申请人，材料明日补交。")
        assert r.status_code == 303
        page = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert 'class="ev ev-comment"' in page.text and "材料明日补交" in page.text
        _c, supervisor, _a = await accounts(session, w)
        r = await post(client, supervisor, path, text="请加快办理。")
        assert r.status_code == 303

    async def test_correction(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/cases/{case.id}/correct"
        for data, field in (
            ({"to_state": "accepted", "reason": ""}, "correct-reason"),
            ({"to_state": "nowhere", "reason": "误操作"}, "correct-to_state"),
            ({"to_state": "submitted", "reason": "已在此环节"}, "correct-to_state"),
        ):
            r = await post(client, w.officer, path, **data)
            assert r.status_code == 422, data
            assert f'id="{field}-error"' in r.text
            assert '<details class="action correction" open>' in r.text
        r = await post(client, w.officer, path, to_state="reviewing", reason="受理环节已线下完成")
        assert r.status_code == 303 and r.headers["location"].endswith("?done=corrected")
        assert (await reload(session, case)).state == "reviewing"
        [flag] = (await session.execute(select(CaseFlag))).scalars().all()
        assert flag.kind == "out_of_order"
        page = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert 'id="flags"' in page.text and 'class="ev ev-correction"' in page.text
        _c, supervisor, _a = await accounts(session, w)
        r = await post(client, supervisor, path, to_state="accepted", reason="监察纠错")
        assert r.status_code == 403


class TestTimelineAndPanels:
    async def test_every_kind_reads_as_a_line(
        self, client: httpx.AsyncClient, session: AsyncSession, frozen: object
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        await service.transition(session, w.officer_p, case.id, "accept")
        await service.assign(session, w.officer_p, case.id, w.officer.username)
        await service.transition(session, w.officer_p, case.id, "review")
        await service.transition(
            session, w.officer_p, case.id, "request_supplement", fields={"reason": "缺少租赁合同"}
        )
        await service.record_attachment(
            session,
            w.applicant_p,
            case,
            name="lease",
            filename="租赁合同.pdf",
            sha256="0" * 64,
            size=204800,
        )
        await service.transition(session, w.applicant_p, case.id, "supplement")
        await service.comment(session, w.officer_p, case.id, "材料齐全。")
        assert callable(frozen)
        frozen(timedelta(days=8))  # Tuesday after: the review's five days have run out
        headers, case_id = as_(client, w.officer), case.id
        await clocks.sweep_warnings(session)
        await service.correct(session, w.officer_p, case_id, "accepted", "退回受理环节")
        r = await client.get(f"/cases/{case_id}", headers=headers)
        assert r.status_code == 200
        kinds = re.findall(r'<li class="ev ([a-z -]+)">', r.text)
        for kind in (
            "ev-transition",
            "ev-assignment",
            "ev-clock",
            "ev-attachment",
            "ev-comment",
            "ev-warning ev-red",
            "ev-flag",
            "ev-correction",
        ):
            assert kind in kinds, kind
        assert "缺少租赁合同" in r.text and "租赁合同.pdf" in r.text
        assert r.text.count('<li class="ev ') == len(
            await service.timeline(session, w.officer_p, case_id)
        )

    def test_describe_in_english(self) -> None:
        from smartcity.cases.types import get_case_type

        ct = get_case_type("test.application")
        at = clock.now()

        def line(kind: str, name: str = "", **data: object) -> str:
            event = CaseEvent(
                at=at,
                actor="u1",
                kind=kind,
                name=name,
                from_state="submitted",
                to_state="accepted",
                data=data,
            )
            return views._describe(event, ct, {"u1": "张三"}, {"GAJ": "公安局"}).text

        assert line("transition", "accept") == "受理: 申报 → 受理"
        assert (
            line("transfer", "transferred", to="GAJ", **{"from": "SCJGJ"})
            == "Transferred from SCJGJ to 公安局"
        )
        assert line("assignment", "assigned", officer="u1") == "Assigned to 张三"
        assert line("warning", "step_red", clock="step", level="red").startswith("Red warning")
        assert line("flag", "reopened") == "Supervision flag: Reopened after closing"
        assert line("mystery", "thing") == "mystery thing"

    async def test_domain_panels_show_on_the_page(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def shop_panel(s: AsyncSession, principal: Principal, case: Case) -> Panel | None:
            return Panel(
                title="申请信息",
                template="cases/data_panel.html",
                context={"rows": [("店名", case.data.get("shop", ""))]},
            )

        async def nothing(s: AsyncSession, principal: Principal, case: Case) -> Panel | None:
            return None

        # the app is built: the engine's extension point takes these in place of the platform's
        # (the fixtures install the platform again afterwards)
        hooks.install_panels(
            [
                hooks.CasePanel("test.", shop_panel),
                hooks.CasePanel("test.", nothing),
                hooks.CasePanel("other.", shop_panel),
            ]
        )
        w = await world(session)
        case = await open_application(session, w)
        r = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert r.text.count('class="panel case-panel"') == 1
        assert "申请信息" in r.text and "老街面馆" in r.text


class TestServicesApplication:
    async def test_the_service_halls_steps_through_the_pages(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        w = await world(session)
        case = await service.open_case(
            session,
            w.applicant_p,
            case_type=BASE_NAME,
            title="个体工商户设立登记",
            department_code="SCJGJ",
            statutory_days=15,
            promised_days=5,
        )
        for name, fields in (
            ("accept", {}),
            ("review", {}),
            ("request_supplement", {"missing": "经营场所证明"}),
        ):
            r = await post(client, w.officer, f"/cases/{case.id}/steps/{name}", **fields)
            assert r.status_code == 303, (name, r.text)
        case = await reload(session, case)
        assert case.state == "awaiting_supplement" and case.paused_at is not None
        page = await client.get(f"/cases/{case.id}", headers=as_(client, w.officer))
        assert 'class="chip paused"' in page.text
        # Supplementing is the applicant's: no step for the officer while paused.
        assert "/steps/" not in page.text
        queue = await client.get(
            "/cases", params={"tab": "department"}, headers=as_(client, w.officer)
        )
        assert case.number in queue.text and 'class="chip paused"' in queue.text


async def test_a_signed_in_browser_session_works(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The pages over a real sign-in with the second factor, not only bearer tokens."""
    secret = pyotp.random_base32()
    w = await world(session)
    w.officer.totp_secret_enc = seal_totp_secret(get_settings(), secret)
    w.officer.totp_enabled = True
    case = await open_application(session, w)
    await session.commit()
    await sign_in(client, w.officer.username)
    token = await get_form(client, "/login/totp")
    r = await client.post(
        "/login/totp",
        headers={"accept": "text/html"},
        data={"csrf_token": token, "code": pyotp.TOTP(secret).now(), "next": "/cases"},
    )
    assert r.status_code == 303
    page = await client.get(f"/cases/{case.id}", headers={"accept": "text/html"})
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    r = await client.post(
        f"/cases/{case.id}/steps/accept",
        headers={"accept": "text/html"},
        data={"csrf_token": csrf.group(1), "state": "submitted"},
    )
    assert r.status_code == 303
    nav = await client.get("/cases", headers={"accept": "text/html"})
    assert 'href="/cases"' in nav.text


async def test_the_service_halls_panel_shows_the_application(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The online service hall's own panel (its form and materials) on the generic page."""
    from tests.services import factories as services_factories

    item = await services_factories.citizen_item(session)
    applicant = await services_factories.citizen(session)
    _application, case = await services_factories.submitted(session, applicant, item)
    officer, _p = await person(session, "staff", "SCJGJ")
    r = await client.get(f"/cases/{case.id}", headers=as_(client, officer))
    assert r.status_code == 200, r.text
    assert r.text.count('class="panel case-panel"') == 1
    assert "平面图.pdf" in r.text
