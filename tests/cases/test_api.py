"""The cases API: queue, case with timeline, transitions, assignment, transfer, problem+json."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.cases.factories import open_application, world
from tests.problems import assert_problem


def auth(account: Account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


class TestCasesApi:
    async def test_queue_detail_and_steps(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        w = await world(session)
        case = await open_application(session, w)
        officer = auth(w.officer)
        response = await client.get("/api/v1/cases/", headers=officer)
        assert response.status_code == 200
        assert [c["number"] for c in response.json()] == [case.number]
        filtered = await client.get(
            "/api/v1/cases/", params={"state": "reviewing", "department": "SCJGJ"}, headers=officer
        )
        assert filtered.json() == []

        response = await client.post(
            f"/api/v1/cases/{case.id}/transitions/accept", json={"fields": {}}, headers=officer
        )
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "accepted"
        response = await client.post(
            f"/api/v1/cases/{case.id}/assign",
            json={"officer": w.officer.username},
            headers=officer,
        )
        assert response.status_code == 200
        assert response.json()["assignee_account_id"] == str(w.officer.id)

        detail = await client.get(f"/api/v1/cases/{case.id}", headers=auth(w.applicant))
        assert detail.status_code == 200
        # The officer who accepted took the case on; the assignment after names them again.
        assert [e["name"] for e in detail.json()["timeline"]] == [
            "open",
            "assigned",
            "accept",
            "reassigned",
        ]

        response = await client.post(
            f"/api/v1/cases/{case.id}/transfer",
            json={"department": "GAJ", "reason": "属公安局职权"},
            headers=officer,
        )
        assert response.status_code == 200
        gone = await client.get(f"/api/v1/cases/{case.id}", headers=officer)
        assert_problem(gone, 404, "not-found")

    async def test_problems(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        w = await world(session)
        case = await open_application(session, w)
        officer = auth(w.officer)
        # a step not allowed from this state
        response = await client.post(
            f"/api/v1/cases/{case.id}/transitions/approve", json={}, headers=officer
        )
        assert_problem(response, 409, "conflict")
        assert response.headers["content-type"] == "application/problem+json"
        # a missing field
        response = await client.post(
            f"/api/v1/cases/{case.id}/transitions/not_accept", json={"fields": {}}, headers=officer
        )
        assert_problem(response, 422, "invalid-input")
        assert response.json()["field"] == "reason"
        # a wrong department: the case is not even visible
        response = await client.post(
            f"/api/v1/cases/{case.id}/transitions/accept", json={}, headers=auth(w.outsider)
        )
        assert_problem(response, 404, "not-found")
        # the applicant sees the case but may not accept it
        response = await client.post(
            f"/api/v1/cases/{case.id}/transitions/accept", json={}, headers=auth(w.applicant)
        )
        assert_problem(response, 403, "forbidden")
        # citizens cannot assign at all
        response = await client.post(
            f"/api/v1/cases/{case.id}/assign", json={"officer": "x"}, headers=auth(w.applicant)
        )
        assert_problem(response, 403, "forbidden")
        response = await client.post(
            f"/api/v1/cases/{case.id}/transfer",
            json={"department": "GAJ", "reason": ""},
            headers=officer,
        )
        assert_problem(response, 422, "invalid-input")
        response = await client.get("/api/v1/cases/", params={"warning": "blue"}, headers=officer)
        assert_problem(response, 422, "invalid-input")
        response = await client.get(f"/api/v1/cases/{uuid.uuid4()}", headers=officer)
        assert_problem(response, 404, "not-found")
        response = await client.get("/api/v1/cases/")
        assert_problem(response, 401, "unauthenticated")
