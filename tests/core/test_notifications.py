"""Notifications (消息): the inbox, read only by its owner; pluggable outside channels whose
failures are recorded and never undo the change; the API and the /messages page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, notifications
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.core.models import Account
from smartcity.core.notifications import Outgoing
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories
from tests.problems import assert_problem

HTML = {"accept": "text/html"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class RecordingChannel:
    """A fake SMS gateway that keeps what it was given."""

    name = "test-recording"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


class FailingChannel:
    name = "test-failing"

    async def send(self, message: Outgoing) -> None:
        raise ConnectionError("gateway unreachable")


@pytest.fixture
def recording() -> Iterator[RecordingChannel]:
    channel = RecordingChannel()
    notifications.register_channel(channel)
    yield channel
    notifications.unregister_channel(channel.name)


@pytest.fixture
def failing() -> Iterator[FailingChannel]:
    channel = FailingChannel()
    notifications.register_channel(channel)
    yield channel
    notifications.unregister_channel(channel.name)


async def _messages(session: AsyncSession, account: Account, n: int) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        with clock.frozen(T0 + timedelta(minutes=i)):
            note = await notifications.notify(
                session, account.id, topic="test.topic", title=f"消息{i}", body=f"正文{i}"
            )
        assert note is not None
        ids.append(note.id)
    return ids


class TestInbox:
    async def test_newest_first_unread_and_marking(self, session: AsyncSession) -> None:
        account = await factories.create_account(session)
        me = factories.principal(account)
        ids = await _messages(session, account, 3)
        inbox = await notifications.inbox(session, me)
        assert [n.title for n in inbox] == ["消息2", "消息1", "消息0"]
        assert await notifications.unread_count(session, me) == 3

        with clock.frozen(T0 + timedelta(hours=1)):
            read = await notifications.mark_read(session, me, ids[0])
        assert read.read_at == T0 + timedelta(hours=1)
        with clock.frozen(T0 + timedelta(hours=2)):
            again = await notifications.mark_read(session, me, ids[0])
        assert again.read_at == T0 + timedelta(hours=1)  # the first reading counts
        assert await notifications.unread_count(session, me) == 2
        unread = await notifications.inbox(session, me, unread_only=True)
        assert [n.title for n in unread] == ["消息2", "消息1"]
        assert [n.title for n in await notifications.inbox(session, me, limit=1, offset=1)] == [
            "消息1"
        ]

        assert await notifications.mark_all_read(session, me) == 2
        assert await notifications.unread_count(session, me) == 0
        assert await notifications.mark_all_read(session, me) == 0
        assert all(n.read_at is not None for n in await notifications.inbox(session, me))

    async def test_only_the_owner_reads_or_marks(self, session: AsyncSession) -> None:
        owner = await factories.create_account(session)
        other = await factories.create_account(session)
        admin = await factories.create_account(session, kind="admin")
        (note_id,) = await _messages(session, owner, 1)
        for who in (other, admin):
            p = factories.principal(who)
            with pytest.raises(NotFound):
                await notifications.get_notification(session, p, note_id)
            with pytest.raises(NotFound):
                await notifications.mark_read(session, p, note_id)
            assert await notifications.inbox(session, p) == []
            assert await notifications.mark_all_read(session, p) == 0
        assert await notifications.unread_count(session, factories.principal(owner)) == 1

    async def test_bad_paging(self, session: AsyncSession) -> None:
        me = factories.principal(await factories.create_account(session))
        for limit in (0, notifications.INBOX_MAX + 1):
            with pytest.raises(InvalidInput) as info:
                await notifications.inbox(session, me, limit=limit)
            assert info.value.extensions["field"] == "limit"
        with pytest.raises(InvalidInput):
            await notifications.inbox(session, me, offset=-1)
        with pytest.raises(NotFound):
            await notifications.mark_read(session, me, uuid.uuid4())

    async def test_nobody_to_tell(self, session: AsyncSession) -> None:
        assert await notifications.notify(session, uuid.uuid4(), topic="t", title="x") is None
        gone = await factories.create_account(session)
        gone.active = False
        assert await notifications.notify(session, gone.id, topic="t", title="x") is None

    async def test_long_texts_are_cut_to_the_columns(self, session: AsyncSession) -> None:
        account = await factories.create_account(session)
        note = await notifications.notify(
            session, account.id, topic="t" * 150, title="标" * 300, body="文" * 3000, link="/x"
        )
        assert note is not None
        assert len(note.topic) == 100
        assert len(note.title) == notifications.TITLE_MAX
        assert len(note.body) == notifications.BODY_MAX


class TestChannels:
    async def test_a_registered_channel_gets_every_message(
        self, session: AsyncSession, recording: RecordingChannel
    ) -> None:
        account = await factories.create_account(session, display_name="王小明")
        note = await notifications.notify(
            session, account.id, topic="services.x", title="标题", body="正文", link="/my"
        )
        assert note is not None
        assert [(m.username, m.display_name, m.title, m.link) for m in recording.sent] == [
            (account.username, "王小明", "标题", "/my")
        ]
        channels = {d["channel"]: d["status"] for d in note.deliveries}
        assert channels == {"log": "sent", "test-recording": "sent"}

    async def test_a_failing_channel_is_recorded_and_the_message_kept(
        self,
        session: AsyncSession,
        failing: FailingChannel,
        recording: RecordingChannel,
    ) -> None:
        account = await factories.create_account(session)
        note = await notifications.notify(session, account.id, topic="t", title="仍然送达")
        assert note is not None
        failed = [d for d in note.deliveries if d["channel"] == "test-failing"]
        assert failed and failed[0]["status"] == "failed"
        assert "gateway unreachable" in failed[0]["error"]
        # The other channels still ran, and the inbox has it.
        assert [m.title for m in recording.sent] == ["仍然送达"]
        inbox = await notifications.inbox(session, factories.principal(account))
        assert [n.title for n in inbox] == ["仍然送达"]


def _bearer(account: Account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


class TestApi:
    async def test_list_read_and_ownership(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        owner = await factories.create_account(session)
        other = await factories.create_account(session, kind="enterprise")
        ids = await _messages(session, owner, 2)
        await session.commit()

        r = await client.get("/api/v1/messages", headers=_bearer(owner))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["unread"] == 2
        assert [m["title"] for m in body["items"]] == ["消息1", "消息0"]
        assert body["items"][0]["read_at"] is None

        r = await client.post(f"/api/v1/messages/{ids[0]}/read", headers=_bearer(owner))
        assert r.status_code == 200 and r.json()["read_at"] is not None
        r = await client.get("/api/v1/messages?unread=true", headers=_bearer(owner))
        assert [m["title"] for m in r.json()["items"]] == ["消息1"]

        for path in (f"/api/v1/messages/{ids[1]}", f"/api/v1/messages/{ids[1]}/read"):
            method = "GET" if path.endswith(str(ids[1])) else "POST"
            r = await client.request(method, path, headers=_bearer(other))
            assert_problem(r, 404, "not-found")
            assert r.headers["content-type"] == "application/problem+json"
        r = await client.get(f"/api/v1/messages/{ids[1]}", headers=_bearer(owner))
        assert r.status_code == 200 and r.json()["read_at"] is None  # untouched by the other

        r = await client.post("/api/v1/messages/read", headers=_bearer(owner))
        assert r.json() == {"marked": 1, "unread": 0}

    async def test_bad_input(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        owner = await factories.create_account(session)
        await session.commit()
        assert_problem(await client.get("/api/v1/messages"), 401, "unauthenticated")
        for query in ("limit=0", "limit=201", "offset=-1", "unread=perhaps"):
            r = await client.get(f"/api/v1/messages?{query}", headers=_bearer(owner))
            assert_problem(r, 422, "invalid-input")
        r = await client.post("/api/v1/messages/not-a-uuid/read", headers=_bearer(owner))
        assert_problem(r, 422, "invalid-input")


class TestPage:
    async def test_inbox_page_marks_and_follows_links(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        owner = await factories.create_account(session)
        with clock.frozen(T0):
            first = await notifications.notify(
                session, owner.id, topic="t", title="申请已受理", link="/my/applications/1"
            )
            second = await notifications.notify(session, owner.id, topic="t", title="无链接的消息")
        assert first is not None and second is not None
        await session.commit()
        headers = {**HTML, **_bearer(owner)}

        page = await client.get("/messages", headers=headers)
        assert page.status_code == 200
        assert "申请已受理" in page.text and "无链接的消息" in page.text
        assert page.text.count('class="message unread"') == 2
        token = csrf_of(page.text)

        r = await client.post(
            f"/messages/{first.id}/read",
            headers=headers,
            data={"csrf_token": token, "next": "link"},
        )
        assert r.status_code == 303 and r.headers["location"] == "/my/applications/1"
        r = await client.post(
            f"/messages/{second.id}/read",
            headers=headers,
            data={"csrf_token": token, "next": "link"},
        )
        assert r.headers["location"] == "/messages"
        page = await client.get("/messages?unread=true", headers=headers)
        assert "申请已受理" not in page.text

        missing_csrf = await client.post(f"/messages/{first.id}/read", headers=headers, data={})
        assert missing_csrf.status_code == 400

    async def test_another_accounts_message_is_not_found(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        owner = await factories.create_account(session)
        other = await factories.create_account(session)
        note = await notifications.notify(session, owner.id, topic="t", title="私人消息")
        assert note is not None
        await session.commit()
        headers = {**HTML, **_bearer(other)}
        page = await client.get("/messages", headers=headers)
        assert "私人消息" not in page.text
        r = await client.post(
            f"/messages/{note.id}/read", headers=headers, data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 404

    async def test_mark_all_and_sign_in_needed(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        owner = await factories.create_account(session)
        await _messages(session, owner, 2)
        await session.commit()
        headers = {**HTML, **_bearer(owner)}
        page = await client.get("/messages", headers=headers)
        r = await client.post(
            "/messages/read", headers=headers, data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303
        me: Any = factories.principal(owner)
        assert await notifications.unread_count(session, me) == 0
        anonymous = await client.get("/messages", headers=HTML)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
