"""The cases API's additions: comments, corrections, flags and their review, the caller's
steps and the applicant's rating, each with bad input."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service
from smartcity.cases.models import Case
from smartcity.core.models import Account
from smartcity.services.types import BASE_NAME
from tests.cases.factories import World, open_application, world
from tests.cases.test_api import auth
from tests.problems import assert_problem


async def account_of(session: AsyncSession, account_id: uuid.UUID | None) -> Account:
    account = await session.get(Account, account_id)
    assert account is not None
    return account


class TestComments:
    async def test_comment_goes_on_the_timeline(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        r = await client.post(
            f"/api/v1/cases/{case.id}/comments",
            json={"text": "  已联系申请人  "},
            headers=auth(w.officer),
        )
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "comment" and r.json()["data"] == {"text": "已联系申请人"}
        supervisor = await account_of(session, w.supervisor_p.id)
        r = await client.post(
            f"/api/v1/cases/{case.id}/comments", json={"text": "请加快"}, headers=auth(supervisor)
        )
        assert r.status_code == 201
        detail = await client.get(f"/api/v1/cases/{case.id}", headers=auth(w.officer))
        assert [e["kind"] for e in detail.json()["timeline"]] == [
            "transition",
            "comment",
            "comment",
        ]

    async def test_bad_comments(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/api/v1/cases/{case.id}/comments"
        r = await client.post(path, json={"text": "   "}, headers=auth(w.officer))
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "text"
        r = await client.post(path, json={"text": "长" * 2001}, headers=auth(w.officer))
        assert_problem(r, 422, "invalid-input")
        r = await client.post(path, json={"note": "wrong key"}, headers=auth(w.officer))
        assert_problem(r, 422, "invalid-input")
        r = await client.post(path, json={"text": "越权"}, headers=auth(w.outsider))
        assert_problem(r, 404, "not-found")
        r = await client.post(path, json={"text": "申请人"}, headers=auth(w.applicant))
        assert_problem(r, 403, "forbidden")
        r = await client.post(
            f"/api/v1/cases/{uuid.uuid4()}/comments", json={"text": "x"}, headers=auth(w.officer)
        )
        assert_problem(r, 404, "not-found")


class TestCorrection:
    async def test_correction_moves_and_flags(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/api/v1/cases/{case.id}/correction"
        r = await client.post(
            path,
            json={"to_state": "reviewing", "reason": "受理已线下完成"},
            headers=auth(w.officer),
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "reviewing"
        r = await client.get(f"/api/v1/cases/{case.id}/flags", headers=auth(w.officer))
        assert r.status_code == 200
        [flag] = r.json()
        assert flag["kind"] == "out_of_order" and flag["case_number"] == case.number
        assert flag["detail"]["reason"] == "受理已线下完成" and flag["reviewed_at"] is None

    async def test_bad_corrections(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/api/v1/cases/{case.id}/correction"
        for body, field in (
            ({"to_state": "nowhere", "reason": "误操作"}, "to_state"),
            ({"to_state": "accepted", "reason": "  "}, "reason"),
            ({"to_state": "submitted", "reason": "已在此环节"}, "to_state"),
        ):
            r = await client.post(path, json=body, headers=auth(w.officer))
            assert_problem(r, 422, "invalid-input")
            assert r.json()["field"] == field
        r = await client.post(path, json={"to_state": ""}, headers=auth(w.officer))
        assert_problem(r, 422, "invalid-input")
        supervisor = await account_of(session, w.supervisor_p.id)
        body = {"to_state": "accepted", "reason": "监察纠错"}
        r = await client.post(path, json=body, headers=auth(supervisor))
        assert_problem(r, 403, "forbidden")
        r = await client.post(path, json=body, headers=auth(w.outsider))
        assert_problem(r, 404, "not-found")
        r = await client.get(f"/api/v1/cases/{case.id}", headers=auth(w.officer))
        assert r.json()["case"]["state"] == "submitted"


class TestFlags:
    async def _flagged(self, session: AsyncSession) -> tuple[World, Case, Case]:
        w = await world(session)
        ours = await open_application(session, w)
        await service.correct(session, w.officer_p, ours.id, "reviewing", "受理已线下完成")
        # A refusal of acceptance with an empty formula for a reason, in another department.
        theirs = await service.open_case(
            session,
            w.applicant_p,
            case_type=BASE_NAME,
            title="居住证办理",
            department_code="GAJ",
        )
        await service.transition(
            session,
            w.outsider_p,
            theirs.id,
            "not_accept",
            fields={"reason": "不符合条件", "opinion": "不予受理"},
        )
        return w, ours, theirs

    async def test_listing_by_reader(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w, ours, theirs = await self._flagged(session)
        supervisor = await account_of(session, w.supervisor_p.id)
        r = await client.get("/api/v1/cases/flags", headers=auth(supervisor))
        assert r.status_code == 200, r.text
        assert {f["kind"] for f in r.json()} == {"out_of_order", "refusal_without_reason"}
        r = await client.get(
            "/api/v1/cases/flags",
            params={"kind": "refusal_without_reason"},
            headers=auth(supervisor),
        )
        assert [f["case_number"] for f in r.json()] == [theirs.number]
        # Staff see their own department's flags only.
        r = await client.get("/api/v1/cases/flags", headers=auth(w.officer))
        assert [f["case_number"] for f in r.json()] == [ours.number]
        r = await client.get(f"/api/v1/cases/{theirs.id}/flags", headers=auth(w.officer))
        assert_problem(r, 404, "not-found")

    async def test_review(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        w, ours, _theirs = await self._flagged(session)
        supervisor = await account_of(session, w.supervisor_p.id)
        [flag] = (
            await client.get(
                "/api/v1/cases/flags", params={"kind": "out_of_order"}, headers=auth(supervisor)
            )
        ).json()
        path = f"/api/v1/cases/flags/{flag['id']}/review"
        r = await client.post(path, json={"note": "  "}, headers=auth(supervisor))
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "note"
        r = await client.post(path, json={"note": "x" * 501}, headers=auth(supervisor))
        assert_problem(r, 422, "invalid-input")
        r = await client.post(path, json={"note": "自己纠正"}, headers=auth(w.officer))
        assert_problem(r, 403, "forbidden")
        r = await client.post(
            path, json={"note": "经核查，属实，已约谈。"}, headers=auth(supervisor)
        )
        assert r.status_code == 200, r.text
        assert r.json()["reviewed_by"] == supervisor.username
        assert r.json()["review_note"] == "经核查，属实，已约谈。"
        r = await client.post(path, json={"note": "再核查一次"}, headers=auth(supervisor))
        assert_problem(r, 409, "conflict")
        r = await client.post(
            f"/api/v1/cases/flags/{uuid.uuid4()}/review",
            json={"note": "x"},
            headers=auth(supervisor),
        )
        assert_problem(r, 404, "not-found")
        # Reviewed flags leave the open list but stay on the case.
        r = await client.get(
            "/api/v1/cases/flags", params={"kind": "out_of_order"}, headers=auth(supervisor)
        )
        assert r.json() == []
        r = await client.get(
            "/api/v1/cases/flags",
            params={"kind": "out_of_order", "open_only": "false"},
            headers=auth(supervisor),
        )
        assert len(r.json()) == 1
        r = await client.get(
            f"/api/v1/cases/{ours.id}/flags", params={"open_only": "true"}, headers=auth(supervisor)
        )
        assert r.json() == []

    async def test_bad_queries(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        w = await world(session)
        case = await open_application(session, w)
        supervisor = await account_of(session, w.supervisor_p.id)
        r = await client.get(
            "/api/v1/cases/flags", params={"kind": "late"}, headers=auth(supervisor)
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "kind"
        r = await client.get(
            "/api/v1/cases/flags", params={"open_only": "maybe"}, headers=auth(supervisor)
        )
        assert_problem(r, 422, "invalid-input")
        r = await client.get("/api/v1/cases/flags", headers=auth(w.applicant))
        assert_problem(r, 403, "forbidden")
        r = await client.get(f"/api/v1/cases/{case.id}/flags", headers=auth(w.applicant))
        assert_problem(r, 403, "forbidden")


class TestSteps:
    async def test_the_callers_steps_with_their_fields(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/api/v1/cases/{case.id}/steps"
        r = await client.get(path, headers=auth(w.officer))
        assert r.status_code == 200
        assert r.json() == [
            {
                "name": "accept",
                "title": "受理",
                "to_state": "accepted",
                "to_state_title": "受理",
                "required_fields": [],
                "refusal": False,
                "decisive": False,
            },
            {
                "name": "not_accept",
                "title": "不予受理",
                "to_state": "not_accepted",
                "to_state_title": "不予受理",
                "required_fields": ["reason"],
                "refusal": False,
                "decisive": False,
            },
        ]
        r = await client.get(path, headers=auth(w.applicant))
        assert r.json() == []
        r = await client.get(path, headers=auth(w.outsider))
        assert_problem(r, 404, "not-found")
        await service.transition(session, w.officer_p, case.id, "accept")
        await service.assign(session, w.officer_p, case.id, w.officer.username)
        await service.transition(session, w.officer_p, case.id, "review")
        await service.transition(
            session, w.officer_p, case.id, "request_supplement", fields={"reason": "缺少合同"}
        )
        r = await client.get(path, headers=auth(w.applicant))
        assert [s["name"] for s in r.json()] == ["supplement"]
        r = await client.get(path, headers=auth(w.officer))
        assert r.json() == []


class TestRating:
    async def test_the_applicant_rates_a_finished_case_once(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        path = f"/api/v1/cases/{case.id}/rating"
        r = await client.post(path, json={"score": 5}, headers=auth(w.applicant))
        assert r.status_code == 409  # still open
        await service.transition(
            session, w.officer_p, case.id, "not_accept", fields={"reason": "不属于本部门职权范围"}
        )
        for body in ({"score": 6}, {"score": 0}, {"score": "5"}, {"score": True}, {}):
            r = await client.post(path, json=body, headers=auth(w.applicant))
            assert_problem(r, 422, "invalid-input")
        r = await client.post(
            path, json={"score": 4, "comment": "x" * 501}, headers=auth(w.applicant)
        )
        assert_problem(r, 422, "invalid-input")
        r = await client.post(path, json={"score": 5}, headers=auth(w.officer))
        assert_problem(r, 403, "forbidden")
        stranger = await account_of(session, w.stranger_p.id)
        r = await client.post(path, json={"score": 1}, headers=auth(stranger))
        assert_problem(r, 404, "not-found")
        r = await client.post(
            path, json={"score": 4, "comment": "说明清楚"}, headers=auth(w.applicant)
        )
        assert r.status_code == 201, r.text
        assert r.json()["score"] == 4 and r.json()["comment"] == "说明清楚"
        r = await client.post(path, json={"score": 5}, headers=auth(w.applicant))
        assert_problem(r, 409, "conflict")


async def test_fixed_paths_are_not_read_as_case_ids(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    w = await world(session)
    r = await client.get("/api/v1/cases/flags", headers=auth(w.officer))
    assert r.status_code == 200 and r.json() == []
    r = await client.get("/api/v1/cases/not-a-uuid", headers=auth(w.officer))
    assert_problem(r, 404, "not-found")
