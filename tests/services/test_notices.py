"""Step notices (办件进度通知): the applicant hears of every step, in order, in Chinese, with
the licence number on approval; a failing outside channel is recorded and undoes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service as cases
from smartcity.cases.hooks import OnTransition, hooks_for, order_hooks
from smartcity.cases.models import Case
from smartcity.core import clock, notifications
from smartcity.core.models import Notification
from smartcity.core.notifications import Outgoing
from smartcity.services import ISSUE_LICENCE, MODULE, licences, notices
from smartcity.services.models import Application
from smartcity.services.types import BASE_NAME
from tests.cases.factories import World, world
from tests.services.test_licences import DAY, food_item, licence_of, open_application


class FailingGateway:
    name = "test-failing-sms"

    async def send(self, message: Outgoing) -> None:
        raise TimeoutError("SMS gateway timed out")


class RecordingGateway:
    name = "test-recording-sms"

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message)


@pytest.fixture
def gateway() -> Iterator[RecordingGateway]:
    channel = RecordingGateway()
    notifications.register_channel(channel)
    yield channel
    notifications.unregister_channel(channel.name)


@pytest.fixture
def failing() -> Iterator[None]:
    notifications.register_channel(FailingGateway())
    yield
    notifications.unregister_channel(FailingGateway.name)


async def _inbox(session: AsyncSession, w: World) -> list[Notification]:
    rows = await session.execute(
        select(Notification)
        .where(Notification.account_id == w.applicant.id)
        .order_by(Notification.created_at, Notification.topic)
    )
    return list(rows.scalars())


async def _with_application(session: AsyncSession, w: World, case_: Case) -> Application:
    item = await food_item(session)
    application = Application(
        id=uuid.uuid4(),
        item_id=item.id,
        applicant_account_id=w.applicant.id,
        answers={},
        status="submitted",
        submitted_at=clock.now(),
        case_id=case_.id,
    )
    session.add(application)
    await session.flush()
    return application


def test_the_licence_is_issued_before_the_notice() -> None:
    hooks = hooks_for(BASE_NAME)
    assert licences.issue_on_approval in hooks and notices.notify_applicant in hooks
    assert hooks.index(licences.issue_on_approval) < hooks.index(notices.notify_applicant)


def test_the_order_is_declared_not_imported() -> None:
    """The notice follows the licence because its declaration says so: in any order of
    declaration the engine puts the issue first."""
    declared = [d for d in MODULE.extends if isinstance(d, OnTransition)]
    [notice] = [d for d in declared if d.run is notices.notify_applicant]
    assert notice.after == (ISSUE_LICENCE,)
    for order in (declared, declared[::-1]):
        runs = [h.run for h in order_hooks(order)]
        assert runs.index(licences.issue_on_approval) < runs.index(notices.notify_applicant)


class TestNotices:
    async def test_every_step_in_order(
        self, session: AsyncSession, gateway: RecordingGateway
    ) -> None:
        w = await world(session)
        item = await food_item(session)
        steps = [
            ("accept", {}),
            ("review", {}),
            ("request_supplement", {"missing": "经营场所平面图"}),
            ("supplement", {}),
            ("approve", {"opinion": "经审查，同意。"}),
            ("deliver", {}),
        ]
        with clock.frozen(DAY) as advance:
            case_ = await open_application(session, w, item)
            application = await _with_application(session, w, case_)
            for name, fields in steps:
                advance(timedelta(minutes=1))
                who = w.applicant_p if name == "supplement" else w.officer_p
                case_ = await cases.transition(session, who, case_.id, name, fields=fields)
        inbox = await _inbox(session, w)
        assert [n.topic for n in inbox] == [f"{BASE_NAME}.{name}" for name, _ in steps]
        assert all(n.link == f"/my/applications/{application.id}" for n in inbox)
        assert all(case_.number in n.body for n in inbox)
        by_step = {n.topic.rsplit(".", 1)[1]: n for n in inbox}
        assert by_step["accept"].title == "申请已受理：食品经营许可"
        assert "经营场所平面图" in by_step["request_supplement"].body
        number = (await licence_of(session, case_)).number
        assert number in by_step["approve"].body
        assert by_step["deliver"].title.startswith("已送达")
        # The outside channel got the same messages, in the same order.
        assert [m.topic for m in gateway.sent] == [n.topic for n in inbox]
        assert {m.username for m in gateway.sent} == {w.applicant.username}

    async def test_refusals_carry_their_reason(self, session: AsyncSession) -> None:
        w = await world(session)
        item = await food_item(session)
        not_accepted = await open_application(session, w, item)
        await cases.transition(
            session,
            w.officer_p,
            not_accepted.id,
            "not_accept",
            fields={"reason": "不属于本机关职权", "opinion": "经审查，同意。"},
        )
        refused = await open_application(session, w, item)
        for step in ("accept", "review"):
            await cases.transition(session, w.officer_p, refused.id, step)
        await cases.transition(
            session,
            w.officer_p,
            refused.id,
            "refuse",
            fields={"reason": "经营场所不符合要求", "opinion": "经审查，同意。"},
        )
        inbox = {n.topic.rsplit(".", 1)[1]: n for n in await _inbox(session, w)}
        assert "不属于本机关职权" in inbox["not_accept"].body
        assert "行政复议" in inbox["not_accept"].body
        assert "经营场所不符合要求" in inbox["refuse"].body
        assert inbox["refuse"].title == "不予许可：食品经营许可"
        # No application row behind these cases: the link goes to the list.
        assert inbox["refuse"].link == "/my/applications"
        assert await licences.licence_for_case(session, refused.id) is None

    async def test_a_failing_channel_does_not_undo_the_step(
        self, session: AsyncSession, failing: None
    ) -> None:
        w = await world(session)
        item = await food_item(session)
        case_ = await open_application(session, w, item)
        case_ = await cases.transition(session, w.officer_p, case_.id, "accept")
        assert case_.state == "accepted"
        (note,) = await _inbox(session, w)
        statuses = {d["channel"]: d["status"] for d in note.deliveries}
        assert statuses == {"log": "sent", FailingGateway.name: "failed"}
        failed = next(d for d in note.deliveries if d["channel"] == FailingGateway.name)
        assert "timed out" in failed["error"]

    async def test_no_applicant_no_notice(self, session: AsyncSession) -> None:
        w = await world(session)
        item = await food_item(session)
        # Opened by staff at the counter for nobody with an account.
        case_ = await cases.open_case(
            session,
            w.officer_p,
            case_type=BASE_NAME,
            title=item.name,
            department_code="SCJGJ",
            category=item.code,
        )
        await cases.transition(session, w.officer_p, case_.id, "accept")
        sent = (await session.execute(select(Notification.id))).scalars().all()
        assert sent == []
