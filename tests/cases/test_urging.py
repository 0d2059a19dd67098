"""Supervisors act (issue 12, item 6): 督办 with a note and a reply deadline, the department's
reply, both on the timeline, the board and in the inboxes; a flag reviewed from the case page
with its finding; the board kept as the way back from a case."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import flags, pages, service
from smartcity.cases.models import CaseEvent, CaseUrge
from smartcity.cases.service import urging
from smartcity.core import clock
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import Account, Notification
from tests.cases.factories import World, open_application, world
from tests.cases.test_api import auth
from tests.cases.test_pages import accounts, as_, post

# Monday 2026-03-02, 10:00 in the city: three working days later is Thursday 03-05.
MONDAY = datetime(2026, 3, 2, 10, tzinfo=clock.CITY_TZ)


async def _inbox(session: AsyncSession, account_id: uuid.UUID | None) -> list[Notification]:
    rows = await session.execute(select(Notification).where(Notification.account_id == account_id))
    return list(rows.scalars())


async def _urged(session: AsyncSession, w: World) -> tuple[uuid.UUID, CaseUrge]:
    with clock.frozen(MONDAY):
        case_ = await open_application(session, w)
        item = await urging.urge(session, w.supervisor_p, case_.id, "请说明受理进度", 3)
    return case_.id, item


class TestUrge:
    async def test_a_supervisor_urges_the_department(self, session: AsyncSession) -> None:
        w = await world(session)
        case_id, item = await _urged(session, w)
        assert clock.to_city(item.reply_due_at - timedelta(seconds=1)).date().isoformat() == (
            "2026-03-05"
        )
        assert (
            item.department_id
            == (await service.get_case(session, w.officer_p, case_id)).department_id
        )
        [line] = [
            e for e in await service.timeline(session, w.officer_p, case_id) if e.kind == "urge"
        ]
        assert line.data["note"] == "请说明受理进度" and line.data["reply_due"] == "2026-03-05"
        # every officer of the department is told; another department's is not
        for officer in (w.officer_p, w.colleague_p):
            [note] = await _inbox(session, officer.id)
            assert note.link == f"/cases/{case_id}#urges" and "请说明受理进度" in note.body
        assert await _inbox(session, w.outsider_p.id) == []
        assert not urging.is_overdue(item, MONDAY + timedelta(days=3))
        assert urging.is_overdue(item, item.reply_due_at)

    async def test_only_supervisors_urge_within_bounds(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await open_application(session, w)
        with pytest.raises(Forbidden):
            await urging.urge(session, w.officer_p, case_.id, "请加快", 3)
        for days in (0, 11, -1):
            with pytest.raises(InvalidInput) as info:
                await urging.urge(session, w.supervisor_p, case_.id, "请加快", days)
            assert info.value.extensions["field"] == "reply_days"
        with pytest.raises(InvalidInput):
            await urging.urge(session, w.supervisor_p, case_.id, "请加快", True)  # type: ignore[arg-type]
        for note in ("", "   ", "x" * (urging.URGE_NOTE_MAX + 1)):
            with pytest.raises(InvalidInput) as info:
                await urging.urge(session, w.supervisor_p, case_.id, note, 3)
            assert info.value.extensions["field"] == "note"
        with pytest.raises(NotFound):
            await urging.urge(session, w.supervisor_p, uuid.uuid4(), "请加快", 3)
        await service.transition(
            session, w.officer_p, case_.id, "not_accept", fields={"reason": "不属于本机关职权"}
        )
        with pytest.raises(Conflict):
            await urging.urge(session, w.supervisor_p, case_.id, "请加快", 3)


class TestReply:
    async def test_the_department_replies_once(self, session: AsyncSession) -> None:
        w = await world(session)
        case_id, item = await _urged(session, w)
        with clock.frozen(MONDAY + timedelta(days=1)):
            replied = await urging.reply(
                session, w.colleague_p, item.id, "已于今日受理，将按时办结"
            )
        assert replied.replied_by == w.colleague_p.name and replied.reply.startswith("已于今日")
        [note] = await _inbox(session, w.supervisor_p.id)
        assert "已于今日受理" in note.body and note.link == f"/cases/{case_id}#urges"
        lines = [
            e for e in await service.timeline(session, w.officer_p, case_id) if e.kind == "urge"
        ]
        assert [e.name for e in lines] == ["urged", "replied"]
        assert lines[1].data["overdue"] is False
        assert not urging.is_overdue(replied, replied.reply_due_at + timedelta(days=9))
        with pytest.raises(Conflict):
            await urging.reply(session, w.officer_p, item.id, "再次回复")

    async def test_only_the_urged_department_replies(self, session: AsyncSession) -> None:
        w = await world(session)
        case_id, item = await _urged(session, w)
        with pytest.raises(NotFound):
            await urging.reply(session, w.outsider_p, item.id, "不是我们的")
        with pytest.raises(Forbidden):
            await urging.reply(session, w.supervisor_p, item.id, "督办人不回复自己")
        with pytest.raises(NotFound):
            await urging.reply(session, w.officer_p, uuid.uuid4(), "没有这条督办")
        for text in ("", "x" * (urging.REPLY_MAX + 1)):
            with pytest.raises(InvalidInput) as info:
                await urging.reply(session, w.officer_p, item.id, text)
            assert info.value.extensions["field"] == "reply"
        # moved to another department: that one reads the case but was not the one urged
        await service.transfer(session, w.officer_p, case_id, "GAJ", "属公安局职权")
        with pytest.raises(Forbidden):
            await urging.reply(session, w.outsider_p, item.id, "我们刚收到")


class TestApi:
    async def test_urge_and_reply_over_the_api(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await open_application(session, w)
        _colleague, supervisor, _a = await accounts(session, w)
        path = f"/api/v1/cases/{case_.id}/urges"
        r = await client.post(
            path, json={"note": "请加快", "reply_days": 3}, headers=auth(w.officer)
        )
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        for body in (
            {"note": "请加快", "reply_days": 11},
            {"note": "", "reply_days": 3},
            {"note": "x" * 501},
        ):
            r = await client.post(path, json=body, headers=auth(supervisor))
            assert r.status_code == 422, body
            assert r.headers["content-type"] == "application/problem+json"
        r = await client.post(
            path, json={"note": "请加快", "reply_days": 2}, headers=auth(supervisor)
        )
        assert r.status_code == 201, r.text
        urge_id = r.json()["id"]
        listed = await client.get(path, headers=auth(w.officer))
        assert [u["overdue"] for u in listed.json()] == [False]
        # two working days later and no reply: overdue
        item = await session.get(CaseUrge, uuid.UUID(urge_id))
        assert item is not None
        item.reply_due_at = clock.now() - timedelta(minutes=1)
        await session.commit()
        listed = await client.get(path, headers=auth(w.officer))
        assert [u["overdue"] for u in listed.json()] == [True]
        reply = f"/api/v1/cases/urges/{urge_id}/reply"
        outsider = await session.get(Account, w.outsider_p.id)
        assert outsider is not None
        r = await client.post(reply, json={"reply": "不是我们的"}, headers=auth(outsider))
        assert r.status_code == 404
        r = await client.post(reply, json={"reply": "已办"}, headers=auth(supervisor))
        assert r.status_code == 403
        r = await client.post(reply, json={"reply": ""}, headers=auth(w.officer))
        assert r.status_code == 422
        r = await client.post(reply, json={"reply": "已加快办理"}, headers=auth(w.officer))
        assert r.status_code == 200 and r.json()["reply"] == "已加快办理"
        r = await client.post(reply, json={"reply": "再次"}, headers=auth(w.officer))
        assert r.status_code == 409


class TestPages:
    async def test_urge_reply_and_the_board(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await open_application(session, w)
        colleague, supervisor, _a = await accounts(session, w)
        page = await client.get(f"/cases/{case_.id}", headers=as_(client, supervisor))
        assert f'action="/cases/{case_.id}/urge"' in page.text
        officer_page = await client.get(f"/cases/{case_.id}", headers=as_(client, w.officer))
        assert '/urge"' not in officer_page.text
        path = f"/cases/{case_.id}/urge"
        r = await post(client, w.officer, path, note="请加快", reply_days="3")
        assert r.status_code == 403
        r = await post(client, supervisor, path, note="请加快", reply_days="30")
        assert r.status_code == 422 and 'id="urge-reply_days-error"' in r.text
        r = await post(client, supervisor, path, note=" ", reply_days="3")
        assert r.status_code == 422 and 'id="urge-note-error"' in r.text
        back = "/supervision?department=SCJGJ"
        r = await post(client, supervisor, path, note="请说明进度", reply_days="3", back=back)
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/cases/{case_.id}?done=urged&back=")
        [item] = await urging.case_urges(session, w.officer_p, case_.id)
        page = await client.get(f"/cases/{case_.id}", headers=as_(client, w.officer))
        assert f'action="/cases/urges/{item.id}/reply"' in page.text
        assert supervisor.display_name in page.text
        reply = f"/cases/urges/{item.id}/reply"
        outsider = await session.get(Account, w.outsider_p.id)
        assert outsider is not None
        assert (await post(client, outsider, reply, reply="不是我们的")).status_code == 404
        assert (await post(client, supervisor, reply, reply="x")).status_code == 403
        r = await post(client, colleague, reply, reply="")
        assert r.status_code == 422 and f'id="reply-{item.id}-reply-error"' in r.text
        r = await post(client, colleague, reply, reply="已受理，周四前办结")
        assert (
            r.status_code == 303
            and r.headers["location"] == f"/cases/{case_.id}?done=replied#urges"
        )
        board = await client.get("/supervision", headers=as_(client, supervisor))
        assert "请说明进度" in board.text and "已受理，周四前办结" in board.text
        assert f'href="/cases/{case_.id}?back=/supervision#urges"' in board.text
        timeline = await client.get(f"/cases/{case_.id}", headers=as_(client, supervisor))
        assert "部门已回复督办" in timeline.text  # pages speak Chinese first

    async def test_the_board_is_the_way_back(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await open_application(session, w)
        _c, supervisor, _a = await accounts(session, w)
        url = f"/cases/{case_.id}"
        r = await client.get(
            url,
            params={"back": "/supervision/cases?status=open&department=SCJGJ"},
            headers=as_(client, supervisor),
        )
        assert 'href="/supervision/cases?status=open&amp;department=SCJGJ"' in r.text
        for bad in (
            "//evil.example/supervision",
            "/admin",
            "https://evil.example",
            "/supervisionx",
        ):
            r = await client.get(url, params={"back": bad}, headers=as_(client, supervisor))
            assert r.status_code == 200
            assert '<a href="/cases">' in r.text, bad
        assert (
            pages.board_back("/supervision/flags?kind=reopened")
            == "/supervision/flags?kind=reopened"
        )
        assert pages.board_back("/supervision" + "x" * 600) == ""


class TestReviewFromTheCase:
    async def test_confirm_or_dismiss_a_flag_from_the_case_page(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await open_application(session, w)
        await service.correct(session, w.officer_p, case_.id, "reviewing", "线下已受理")
        [(flag, _case)] = await flags.list_flags(session, w.supervisor_p, case_id=case_.id)
        _c, supervisor, _a = await accounts(session, w)
        page = await client.get(f"/cases/{case_.id}", headers=as_(client, supervisor))
        assert f'id="review-{flag.id}"' in page.text
        officer_page = await client.get(f"/cases/{case_.id}", headers=as_(client, w.officer))
        assert f'id="review-{flag.id}"' not in officer_page.text
        path = f"/supervision/flags/{flag.id}/review"
        form = {"case": str(case_.id), "next": f"/cases/{case_.id}?done=reviewed#flags"}
        r = await post(client, supervisor, path, **form, note=" ", outcome="confirmed")
        assert r.status_code == 422 and f'id="review-{flag.id}-note-error"' in r.text
        r = await post(client, supervisor, path, **form, note="已核实", outcome="maybe")
        assert r.status_code == 422 and f'id="review-{flag.id}-outcome-error"' in r.text
        r = await post(client, w.officer, path, **form, note="自己核查", outcome="dismissed")
        assert r.status_code == 403
        r = await post(
            client, supervisor, path, **form, note="纠错有据，不属违规", outcome="dismissed"
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/cases/{case_.id}?done=reviewed")
        await session.refresh(flag)
        assert (flag.review_outcome, flag.review_note) == ("dismissed", "纠错有据，不属违规")
        events = (
            (
                await session.execute(
                    select(CaseEvent).where(
                        CaseEvent.case_id == case_.id, CaseEvent.kind == "review"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert [e.name for e in events] == ["dismissed"]
        page = await client.get(f"/cases/{case_.id}", headers=as_(client, supervisor))
        assert "异常核查不属实" in page.text  # pages speak Chinese first
        assert "不属实：无异常" in page.text
        assert supervisor.display_name in page.text
