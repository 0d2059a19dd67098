"""Subscriptions to service items (订阅事项): following and unfollowing; an administrator's
change or withdrawal of an item reaches every follower, saying what changed."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry, Notification
from smartcity.services import service, subscriptions
from smartcity.services.schemas import Material
from smartcity.services.subscriptions import ServiceItemUpdate
from tests.cases.factories import person
from tests.problems import assert_problem
from tests.services.factories import ADMIN
from tests.services.test_licences import bearer, csrf_of, food_item

HTML = {"accept": "text/html"}


async def _messages(session: AsyncSession, account_id: object) -> list[Notification]:
    rows = await session.execute(select(Notification).where(Notification.account_id == account_id))
    return list(rows.scalars())


class TestFollowing:
    async def test_follow_and_unfollow(self, session: AsyncSession) -> None:
        item = await food_item(session)
        _account, me = await person(session, "citizen")
        first = await subscriptions.subscribe(session, me, item.code)
        again = await subscriptions.subscribe(session, me, item.code)
        assert first is again
        assert await subscriptions.is_subscribed(session, me, item)
        assert [i.code for i in await subscriptions.my_subscriptions(session, me)] == [item.code]
        assert await subscriptions.unsubscribe(session, me, item.code) is True
        assert await subscriptions.unsubscribe(session, me, item.code) is False
        assert not await subscriptions.is_subscribed(session, me, item)
        assert not await subscriptions.is_subscribed(session, None, item)

    async def test_who_and_what_may_be_followed(self, session: AsyncSession) -> None:
        item = await food_item(session)
        _c, company = await person(session, "enterprise")
        await subscriptions.subscribe(session, company, item.code)
        _s, staff = await person(session, "staff", "SCJGJ")
        with pytest.raises(Forbidden):
            await subscriptions.subscribe(session, staff, item.code)
        with pytest.raises(Forbidden):
            await subscriptions.subscribe(session, ADMIN, item.code)
        _a, citizen = await person(session, "citizen")
        with pytest.raises(NotFound):
            await subscriptions.subscribe(session, citizen, "NO-SUCH")
        with pytest.raises(NotFound):
            await subscriptions.unsubscribe(session, citizen, "NO-SUCH")
        # A withdrawn item cannot be followed, but its followers can still stop.
        await subscriptions.update_service_item(
            session, ADMIN, item.code, ServiceItemUpdate(active=False)
        )
        with pytest.raises(NotFound):
            await subscriptions.subscribe(session, citizen, item.code)
        assert [i.code for i in await subscriptions.my_subscriptions(session, company)] == [
            item.code
        ]
        assert await subscriptions.unsubscribe(session, company, item.code) is True


class TestChanges:
    async def test_followers_are_told_what_changed(self, session: AsyncSession) -> None:
        item = await food_item(session)
        follower, follower_p = await person(session, "citizen")
        bystander, _b = await person(session, "citizen")
        await subscriptions.subscribe(session, follower_p, item.code)
        changed, lines = await subscriptions.update_service_item(
            session,
            ADMIN,
            item.code,
            ServiceItemUpdate(
                promised_days=5,
                fee_fen=5000,
                materials=[
                    Material(name="营业执照", required=True, from_registry="uscc"),
                    Material(name="从业人员健康证明", required=True),
                ],
                description="新的说明",
            ),
        )
        assert changed.promised_days == 5 and changed.fee_fen == 5000
        assert "承诺时限：10 → 5 个工作日" in lines
        assert "收费标准：不收费 → 50.00 元" in lines
        assert "申请材料：新增 从业人员健康证明" in lines
        assert "办事说明已更新" in lines
        (note,) = await _messages(session, follower.id)
        assert note.topic == "services.item.updated"
        assert note.title == "您订阅的事项有变更：食品经营许可"
        assert "承诺时限：10 → 5 个工作日" in note.body
        assert note.link == f"/services/{item.code}"
        assert await _messages(session, bystander.id) == []
        audit = (
            await session.execute(
                select(AuditEntry).where(
                    AuditEntry.action == "services.item.updated", AuditEntry.target == item.code
                )
            )
        ).scalar_one()
        assert audit.detail["fields"] == ["description", "fee_fen", "materials", "promised_days"]

    async def test_withdrawal_and_return(self, session: AsyncSession) -> None:
        item = await food_item(session)
        follower, follower_p = await person(session, "citizen")
        await subscriptions.subscribe(session, follower_p, item.code)
        _item, lines = await subscriptions.update_service_item(
            session, ADMIN, item.code, ServiceItemUpdate(active=False)
        )
        assert lines[0].startswith("该事项已于") and "停止办理" in lines[0]
        assert item.code not in [i.code for i in await service.list_service_items(session, None)]
        (note,) = await _messages(session, follower.id)
        assert note.topic == "services.item.withdrawn"
        assert note.title == "事项已停止办理：食品经营许可"
        assert note.link == "/services"
        await subscriptions.update_service_item(
            session, ADMIN, item.code, ServiceItemUpdate(active=True, name="食品经营许可（新）")
        )
        titles = {n.title for n in await _messages(session, follower.id)}
        assert titles == {"您订阅的事项有变更：食品经营许可（新）", "事项已停止办理：食品经营许可"}

    async def test_nothing_changed_tells_nobody(self, session: AsyncSession) -> None:
        item = await food_item(session)
        follower, follower_p = await person(session, "citizen")
        await subscriptions.subscribe(session, follower_p, item.code)
        _item, lines = await subscriptions.update_service_item(
            session, ADMIN, item.code, ServiceItemUpdate(promised_days=10, active=True)
        )
        assert lines == []
        assert await _messages(session, follower.id) == []

    async def test_bad_input(self, session: AsyncSession) -> None:
        item = await food_item(session)
        _s, staff = await person(session, "staff", "SCJGJ")
        with pytest.raises(Forbidden):
            await subscriptions.update_service_item(
                session, staff, item.code, ServiceItemUpdate(promised_days=5)
            )
        with pytest.raises(InvalidInput) as info:
            await subscriptions.update_service_item(
                session, ADMIN, item.code, ServiceItemUpdate(promised_days=30)
            )
        assert info.value.extensions["field"] == "promised_days"
        with pytest.raises(InvalidInput):
            await subscriptions.update_service_item(session, ADMIN, item.code, ServiceItemUpdate())
        with pytest.raises(NotFound):
            await subscriptions.update_service_item(
                session, ADMIN, "NO-SUCH", ServiceItemUpdate(fee_fen=1)
            )
        for bad in ({"fee_fen": -1}, {"name": ""}, {"statutory_days": 0}, {"colour": "red"}):
            with pytest.raises(ValidationError):
                ServiceItemUpdate.model_validate(bad)
        assert item.promised_days == 10


class TestApiAndPages:
    async def test_api(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        item = await food_item(session)
        follower, _f = await person(session, "citizen")
        admin, _a = await person(session, "admin")
        await session.commit()
        path = f"/api/v1/services/items/{item.code}/subscription"
        r = await client.put(path, headers=bearer(follower))
        assert r.status_code == 200 and r.json() == {"code": item.code, "subscribed": True}
        r = await client.get("/api/v1/services/subscriptions", headers=bearer(follower))
        assert [i["code"] for i in r.json()] == [item.code]

        r = await client.patch(
            f"/api/v1/services/items/{item.code}",
            json={"promised_days": 5},
            headers=bearer(admin),
        )
        assert r.status_code == 200, r.text
        assert r.json()["changes"] == ["承诺时限：10 → 5 个工作日"]
        assert r.json()["item"]["promised_days"] == 5
        r = await client.get("/api/v1/messages", headers=bearer(follower))
        assert [m["topic"] for m in r.json()["items"]] == ["services.item.updated"]

        bad = [
            ({"promised_days": 50}, 422),
            ({"unknown": 1}, 422),
            ({}, 422),
            ({"fee_fen": "free"}, 422),
        ]
        for body, status in bad:
            r = await client.patch(
                f"/api/v1/services/items/{item.code}", json=body, headers=bearer(admin)
            )
            assert r.status_code == status, (body, r.text)
        r = await client.patch(
            "/api/v1/services/items/NO-SUCH", json={"fee_fen": 1}, headers=bearer(admin)
        )
        assert_problem(r, 404, "not-found")
        r = await client.patch(
            f"/api/v1/services/items/{item.code}", json={"fee_fen": 1}, headers=bearer(follower)
        )
        assert_problem(r, 403, "forbidden")
        r = await client.put(
            "/api/v1/services/items/NO-SUCH/subscription", headers=bearer(follower)
        )
        assert_problem(r, 404, "not-found")
        r = await client.delete(path, headers=bearer(follower))
        assert r.json() == {"code": item.code, "subscribed": False}
        assert_problem(await client.put(path), 401, "unauthenticated")

    async def test_page(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        item = await food_item(session)
        follower, follower_p = await person(session, "citizen")
        await session.commit()
        headers = {**HTML, **bearer(follower)}
        page = await client.get(f"/services/{item.code}/subscription", headers=headers)
        assert page.status_code == 200 and 'value="subscribe"' in page.text
        r = await client.post(
            f"/services/{item.code}/subscription",
            headers=headers,
            data={"csrf_token": csrf_of(page.text), "action": "subscribe"},
        )
        assert r.status_code == 303 and r.headers["location"] == f"/services/{item.code}"
        assert await subscriptions.is_subscribed(session, follower_p, item)
        page = await client.get(f"/services/{item.code}/subscription", headers=headers)
        assert 'value="unsubscribe"' in page.text
        r = await client.post(
            f"/services/{item.code}/subscription",
            headers=headers,
            data={"csrf_token": csrf_of(page.text), "action": "unsubscribe", "next": "//evil"},
        )
        assert r.headers["location"] == "/"  # only same-site targets
        assert not await subscriptions.is_subscribed(session, follower_p, item)
        r = await client.post(f"/services/{item.code}/subscription", headers=headers, data={})
        assert r.status_code == 400
        missing = await client.get("/services/NO-SUCH/subscription", headers=headers)
        assert missing.status_code == 404

    async def test_include_renders_for_each_visitor(
        self, app: object, session: AsyncSession
    ) -> None:
        item = await food_item(session)
        env = app.state.templates  # type: ignore[attr-defined]
        template = env.get_template("services/_subscribe.html")
        _c, citizen = await person(session, "citizen")
        _s, staff = await person(session, "staff", "SCJGJ")
        base = {"item": item, "csrf_field": "csrf_token", "csrf_token": "t"}
        toggle = template.render(**base, principal=citizen, subscribed=False)
        assert (
            'action="/services/SCJGJ-003/subscription"' in toggle and 'value="subscribe"' in toggle
        )
        link = template.render(**base, principal=citizen)
        assert 'href="/services/SCJGJ-003/subscription"' in link
        assert "/login?next=/services/SCJGJ-003" in template.render(**base, principal=None)
        assert "<form" not in template.render(**base, principal=staff)
