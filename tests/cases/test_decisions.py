"""Decisions with safeguards (issue 12, item 5): a decisive step needs an approval opinion
(审批意见) and, on the pages, a confirmation; the officer who acts on an unassigned case takes
it on; the timeline names people as people read them."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service, views
from smartcity.cases.models import Case
from smartcity.cases.types import get_case_type
from smartcity.core import people
from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.errors import InvalidInput
from smartcity.services.types import BASE_NAME
from tests.cases.factories import World, world
from tests.cases.test_api import auth
from tests.cases.test_pages import accounts, as_, post, reload

OPINION = "经审查，申请材料齐全，符合法定条件，同意准予许可。"


async def _reviewing(session: AsyncSession, w: World) -> Case:
    """An application of the service hall's type, accepted and under review by the officer."""
    case_ = await service.open_case(
        session, w.applicant_p, case_type=BASE_NAME, title="食品经营许可", department_code="SCJGJ"
    )
    await service.transition(session, w.officer_p, case_.id, "accept")
    return await service.transition(session, w.officer_p, case_.id, "review")


class TestDeclaration:
    def test_the_service_halls_decisions_are_marked_decisive(self) -> None:
        ct = get_case_type(BASE_NAME)
        decisive = {t.name for t in ct.transitions if t.decisive}
        assert decisive == {"approve", "refuse", "not_accept"}


class TestOpinion:
    async def test_a_decision_needs_an_opinion_of_bounded_length(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        for fields in ({}, {"opinion": "   "}, {"opinion": "x" * (service.OPINION_MAX + 1)}):
            with pytest.raises(InvalidInput) as info:
                await service.transition(session, w.officer_p, case_.id, "approve", fields=fields)
            assert info.value.extensions["field"] == "opinion"
        # a refusal is asked for its reason first, then for the opinion
        with pytest.raises(InvalidInput) as info:
            await service.transition(session, w.officer_p, case_.id, "refuse", fields={})
        assert info.value.extensions["field"] == "reason"
        with pytest.raises(InvalidInput) as info:
            await service.transition(
                session, w.officer_p, case_.id, "refuse", fields={"reason": "选址不符合规划要求"}
            )
        assert info.value.extensions["field"] == "opinion"
        assert (await reload(session, case_)).state == "reviewing"
        done = await service.transition(
            session, w.officer_p, case_.id, "approve", fields={"opinion": f"  {OPINION}  "}
        )
        assert done.state == "approved"
        events = await service.timeline(session, w.officer_p, case_.id)
        assert events[-1].name == "approve"
        assert events[-1].data["fields"]["opinion"] == OPINION

    async def test_other_fields_are_bounded_too(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        with pytest.raises(InvalidInput) as info:
            await service.transition(
                session,
                w.officer_p,
                case_.id,
                "request_supplement",
                fields={"missing": "x" * 2001},
            )
        assert info.value.extensions["field"] == "missing"
        with pytest.raises(InvalidInput):
            await service.transition(
                session,
                w.officer_p,
                case_.id,
                "request_supplement",
                fields={f"f{n}": "x" for n in range(21)},
            )

    async def test_checking_a_step_changes_nothing(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        before = len(await service.timeline(session, w.officer_p, case_.id))
        found, step, fields = await service.check_transition(
            session, w.officer_p, case_.id, "approve", fields={"opinion": OPINION}
        )
        assert (found.id, step.name, fields) == (case_.id, "approve", {"opinion": OPINION})
        assert (await reload(session, case_)).state == "reviewing"
        assert len(await service.timeline(session, w.officer_p, case_.id)) == before


class TestTakingOver:
    async def test_the_officer_who_acts_on_an_unassigned_case_takes_it_on(
        self, session: AsyncSession
    ) -> None:
        w = await world(session)
        case_ = await service.open_case(
            session,
            w.applicant_p,
            case_type=BASE_NAME,
            title="食品经营许可",
            department_code="SCJGJ",
        )
        assert case_.assignee_account_id is None
        await service.transition(session, w.colleague_p, case_.id, "accept")
        assert (await reload(session, case_)).assignee_account_id == w.colleague_p.id
        # an assigned case stays with its officer when another one of the department acts
        await service.transition(session, w.officer_p, case_.id, "review")
        assert (await reload(session, case_)).assignee_account_id == w.colleague_p.id
        events = await service.timeline(session, w.officer_p, case_.id)
        assert [(e.kind, e.name) for e in events] == [
            ("transition", "open"),
            ("assignment", "assigned"),
            ("transition", "accept"),
            ("transition", "review"),
        ]
        assert events[1].data == {
            "officer": w.colleague_p.name,
            "automatic": True,
            "step": "accept",
        }

    async def test_applicants_and_the_platform_take_on_nothing(self, session: AsyncSession) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        case_.assignee_account_id = None
        await session.flush()
        await service.transition(
            session, w.officer_p, case_.id, "request_supplement", fields={"missing": "平面图"}
        )
        case_.assignee_account_id = None
        await session.flush()
        await service.transition(session, w.applicant_p, case_.id, "supplement")
        assert (await reload(session, case_)).assignee_account_id is None


class TestNames:
    def test_actors_read_as_people(self) -> None:
        names = {"officer.scjgj": "王芳（市场监督管理局）"}
        assert views.actor_name("officer.scjgj", names) == "王芳（市场监督管理局）"
        assert views.actor_name(SYSTEM.name, names) == "Platform (automatic)"
        assert views.actor_name("cli:root", names) == "Administrator (command line)"


class TestApi:
    async def test_the_api_asks_for_the_opinion_too(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        path = f"/api/v1/cases/{case_.id}/transitions/approve"
        r = await client.post(path, json={}, headers=auth(w.officer))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["field"] == "opinion"
        r = await client.post(path, json={"opinion": "x" * 1001}, headers=auth(w.officer))
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        steps = await client.get(f"/api/v1/cases/{case_.id}/steps", headers=auth(w.officer))
        assert {s["name"]: s["decisive"] for s in steps.json()} == {
            "request_supplement": False,
            "approve": True,
            "refuse": True,
        }
        r = await client.post(path, json={"opinion": OPINION}, headers=auth(w.officer))
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "approved"


class TestConfirmationPage:
    async def test_decide_confirm_and_read_it_on_the_timeline(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        page = await client.get(f"/cases/{case_.id}", headers=as_(client, w.officer))
        # the decision's form asks for the opinion and leads to a confirmation
        assert 'id="step-approve-opinion"' in page.text
        assert f'action="/cases/{case_.id}/steps/approve"' in page.text
        path = f"/cases/{case_.id}/steps/approve"
        missing = await post(client, w.officer, path, state="reviewing", opinion=" ")
        assert missing.status_code == 422
        assert 'id="step-approve-opinion-error"' in missing.text
        too_long = await post(client, w.officer, path, state="reviewing", opinion="x" * 1001)
        assert too_long.status_code == 422
        asked = await post(client, w.officer, path, state="reviewing", opinion=OPINION)
        assert asked.status_code == 200
        assert case_.number in asked.text and OPINION in asked.text
        assert 'name="confirmed" value="1"' in asked.text
        assert (await reload(session, case_)).state == "reviewing"  # nothing taken yet
        done = await post(
            client, w.officer, path, state="reviewing", opinion=OPINION, confirmed="1"
        )
        assert done.status_code == 303
        assert (await reload(session, case_)).state == "approved"
        page = await client.get(f"/cases/{case_.id}", headers=as_(client, w.officer))
        assert f"审批意见：{OPINION}" in page.text  # pages speak Chinese first
        assert w.officer.display_name in page.text
        when = re.findall(r'<p class="when">([^<]*)</p>', page.text)
        assert when and not any(w.officer.username in line for line in when)

    async def test_a_refused_confirmation_keeps_the_case_as_it_was(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case_ = await _reviewing(session, w)
        colleague, _supervisor, _a = await accounts(session, w)
        path = f"/cases/{case_.id}/steps/refuse"
        # the confirmation of a refusal needs its reason as well
        r = await post(client, w.officer, path, state="reviewing", opinion=OPINION)
        assert r.status_code == 422 and 'id="step-refuse-reason-error"' in r.text
        # another department cannot even reach the confirmation
        outsider = await session.get(type(w.officer), w.outsider_p.id)
        assert outsider is not None
        r = await post(client, outsider, path, state="reviewing", opinion=OPINION, reason="理由")
        assert r.status_code == 404
        # the case moved on since the form was read: refused, nothing confirmed
        await service.transition(
            session, w.colleague_p, case_.id, "approve", fields={"opinion": OPINION}
        )
        r = await post(
            client,
            w.officer,
            path,
            state="reviewing",
            opinion=OPINION,
            reason="选址不符合规划要求",
            confirmed="1",
        )
        assert r.status_code == 409
        assert (await reload(session, case_)).state == "approved"
        assert colleague.id == w.colleague_p.id
        unknown = await client.get(f"/cases/{uuid.uuid4()}", headers=as_(client, w.officer))
        assert unknown.status_code == 404


def test_principal_kinds_used() -> None:
    # The console principal's name is what views.actor_name reads.
    from smartcity.core.cli import cli_principal

    p: Principal = cli_principal()
    assert p.name.startswith(people.CONSOLE_PREFIX)
