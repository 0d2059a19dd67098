"""The alert lifecycle (open → acknowledged → resolved) and the rules API, over HTTP: who may
do what, bad input as 422, and the staff page with its forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account, AuditEntry, Department, OutboxEvent
from smartcity.core.security import issue_access_token
from smartcity.sensing.rules.models import SensingAlert, SensingRule
from smartcity.settings import get_settings
from tests.core import factories
from tests.core.test_pages import HTML, csrf_of, get_form, sign_in
from tests.problems import assert_problem
from tests.sensing.rule_helpers import feed, station

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RULES = "/api/v1/sensing/rules"
ALERTS = "/api/v1/sensing/alerts"


def bearer(account: Account) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}"}


class City:
    """A department with an officer, another department's officer, a supervisor, a citizen."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


@pytest.fixture
async def city(session: AsyncSession) -> City:
    department = await factories.create_department(session, name="生态环境局")
    officer = await factories.create_account(session, kind="staff", department=department)
    outsider = await factories.create_account(session, kind="staff")
    supervisor = await factories.create_account(session, kind="supervisor")
    citizen = await factories.create_account(session, kind="citizen")
    stream = await station(session)
    await session.flush()
    return City(
        department=department,
        officer=officer,
        outsider=outsider,
        supervisor=supervisor,
        citizen=citizen,
        stream=stream,
    )


def threshold_body(city: City, **kw: Any) -> dict[str, Any]:
    return {
        "name": "PM2.5 超标",
        "kind": "threshold",
        "params": {"op": "above", "value": 75, "hysteresis": 5},
        "severity": "critical",
        "datastream_id": city.stream[0],
        "department_id": str(city.department.id),
        **kw,
    }


async def open_alert(client: httpx.AsyncClient, session: AsyncSession, city: City) -> int:
    r = await client.post(RULES, json=threshold_body(city), headers=bearer(city.officer))
    assert r.status_code == 201, r.text
    await feed(session, city.stream, [(T0, 90)])
    [alert] = (await session.scalars(select(SensingAlert))).all()
    return alert.id


class TestRulesApi:
    async def test_crud(self, client: httpx.AsyncClient, session: AsyncSession, city: City) -> None:
        h = bearer(city.officer)
        r = await client.post(RULES, json=threshold_body(city), headers=h)
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["params"] == {"op": "above", "value": 75.0, "hysteresis": 5.0}
        r = await client.get(RULES, params={"datastream_id": city.stream[0]}, headers=h)
        assert [x["id"] for x in r.json()] == [rule["id"]]
        r = await client.patch(
            f"{RULES}/{rule['id']}",
            json={"params": {"op": "above", "value": 100}, "active": False},
            headers=h,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["params"]["value"], r.json()["active"]) == (100.0, False)
        r = await client.get(f"{RULES}/{rule['id']}", headers=bearer(city.supervisor))
        assert r.status_code == 200
        r = await client.delete(f"{RULES}/{rule['id']}", headers=h)
        assert r.status_code == 204
        r = await client.get(f"{RULES}/{rule['id']}", headers=h)
        assert_problem(r, 404, "not-found")

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"params": {"op": "above", "value": 1, "n": 2}}, "params.n"),
            ({"params": {"op": "sideways", "value": 1}}, "params.op"),
            ({"datastream_id": 987654}, "datastream_id"),
            ({"name": "  "}, "name"),
        ],
    )
    async def test_bad_rules_are_422(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        city: City,
        change: dict[str, Any],
        field: str,
    ) -> None:
        r = await client.post(
            RULES, json=threshold_body(city, **change), headers=bearer(city.officer)
        )
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == field
        assert (await session.scalars(select(SensingRule))).all() == []

    async def test_kind_and_extra_fields_are_checked_by_the_schema(
        self, client: httpx.AsyncClient, city: City
    ) -> None:
        h = bearer(city.officer)
        assert_problem(
            await client.post(RULES, json=threshold_body(city, kind="x"), headers=h),
            422,
            "invalid-input",
        )
        body = threshold_body(city, colour="red")
        assert_problem(await client.post(RULES, json=body, headers=h), 422, "invalid-input")
        r = await client.post(RULES, json=threshold_body(city), headers=h)
        r = await client.patch(f"{RULES}/{r.json()['id']}", json={"kind": "rate"}, headers=h)
        assert_problem(r, 422, "invalid-input")

    async def test_who_may_define_rules(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        body = threshold_body(city)
        assert_problem(await client.post(RULES, json=body), 401, "unauthenticated")
        for who in (city.citizen, city.supervisor):
            assert_problem(
                await client.post(RULES, json=body, headers=bearer(who)), 403, "forbidden"
            )
        # Staff of another department cannot make rules that page this one.
        r = await client.post(RULES, json=body, headers=bearer(city.outsider))
        assert_problem(r, 403, "forbidden")
        r = await client.post(
            RULES, json=threshold_body(city, department_id=None), headers=bearer(city.outsider)
        )
        assert r.status_code == 201
        assert_problem(await client.get(RULES, headers=bearer(city.citizen)), 403, "forbidden")


class TestLifecycle:
    async def test_acknowledge_then_resolve_by_hand(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        alert_id = await open_alert(client, session, city)
        h = bearer(city.officer)
        r = await client.get(ALERTS, params={"status": "open"}, headers=h)
        assert [a["id"] for a in r.json()] == [alert_id]
        r = await client.post(
            f"{ALERTS}/{alert_id}/acknowledge", json={"note": "在处理"}, headers=h
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["acknowledged_by"]) == (
            "acknowledged",
            city.officer.username,
        )
        r = await client.post(f"{ALERTS}/{alert_id}/acknowledge", headers=h)
        assert_problem(r, 409, "conflict")
        # A repeat breach while acknowledged updates the same alert.
        await feed(session, city.stream, [(T0 + timedelta(minutes=1), 95)])
        r = await client.get(f"{ALERTS}/{alert_id}", headers=h)
        assert (r.json()["status"], r.json()["breach_count"]) == ("acknowledged", 2)
        r = await client.post(f"{ALERTS}/{alert_id}/resolve", json={"note": " "}, headers=h)
        assert_problem(r, 422, "invalid-input")
        assert r.json()["field"] == "note"
        r = await client.post(
            f"{ALERTS}/{alert_id}/resolve", json={"note": "更换了滤膜"}, headers=h
        )
        assert r.status_code == 200
        assert (r.json()["status"], r.json()["resolution"], r.json()["note"]) == (
            "resolved",
            "manual",
            "更换了滤膜",
        )
        r = await client.post(f"{ALERTS}/{alert_id}/resolve", json={"note": "again"}, headers=h)
        assert_problem(r, 409, "conflict")
        topics = (
            await session.scalars(
                select(OutboxEvent.topic)
                .where(OutboxEvent.topic.like("sensing.alert.%"))
                .order_by(OutboxEvent.seq)
            )
        ).all()
        assert list(topics) == [
            "sensing.alert.opened",
            "sensing.alert.acknowledged",
            "sensing.alert.resolved",
        ]
        audited = (
            await session.scalars(
                select(AuditEntry.actor).where(AuditEntry.action == "sensing.alert.acknowledged")
            )
        ).all()
        assert list(audited) == [city.officer.username]
        r = await client.get(ALERTS, params={"active": True}, headers=h)
        assert r.json() == []

    async def test_permissions(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        alert_id = await open_alert(client, session, city)
        for who, code in ((city.outsider, 403), (city.supervisor, 403), (city.citizen, 403)):
            r = await client.post(f"{ALERTS}/{alert_id}/acknowledge", headers=bearer(who))
            assert r.status_code == code, (who.kind, r.text)
            r = await client.post(
                f"{ALERTS}/{alert_id}/resolve", json={"note": "x"}, headers=bearer(who)
            )
            assert r.status_code == code
        assert (await client.get(ALERTS, headers=bearer(city.supervisor))).status_code == 200
        assert_problem(await client.get(ALERTS, headers=bearer(city.citizen)), 403, "forbidden")
        r = await client.post(f"{ALERTS}/999999/acknowledge", headers=bearer(city.officer))
        assert_problem(r, 404, "not-found")
        r = await client.get(ALERTS, params={"status": "closed"}, headers=bearer(city.officer))
        assert_problem(r, 422, "invalid-input")


class TestPage:
    async def signed_in(
        self, client: httpx.AsyncClient, session: AsyncSession, department: Department
    ) -> Account:
        secret = pyotp.random_base32()
        account = await factories.create_account(
            session, kind="staff", department=department, totp_secret=secret
        )
        await session.commit()
        await sign_in(client, account.username)
        token = await get_form(client, "/login/totp")
        r = await client.post(
            "/login/totp",
            headers=HTML,
            data={"csrf_token": token, "code": pyotp.TOTP(secret).now(), "next": "/"},
        )
        assert r.status_code == 303, r.text
        return account

    async def test_acknowledge_and_resolve_from_the_page(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        alert_id = await open_alert(client, session, city)
        await self.signed_in(client, session, city.department)
        r = await client.get("/sensing/alerts", headers=HTML)
        assert r.status_code == 200
        assert f'id="alert-{alert_id}"' in r.text and "PM2.5 超标" in r.text
        token = csrf_of(r.text)
        r = await client.post(
            f"/sensing/alerts/{alert_id}/acknowledge", headers=HTML, data={"csrf_token": token}
        )
        assert r.status_code == 303
        alert = await session.get(SensingAlert, alert_id)
        assert alert is not None
        await session.refresh(alert)
        assert alert.status == "acknowledged"
        r = await client.post(
            f"/sensing/alerts/{alert_id}/resolve", headers=HTML, data={"csrf_token": token}
        )
        assert r.status_code == 422
        assert 'id="f-resolve-note-error"' in r.text
        r = await client.post(
            f"/sensing/alerts/{alert_id}/resolve",
            headers=HTML,
            data={"csrf_token": token, "note": "已处理"},
        )
        assert r.status_code == 303
        await session.refresh(alert)
        assert (alert.status, alert.note) == ("resolved", "已处理")

    async def test_anonymous_visitors_go_to_sign_in(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/sensing/alerts", headers=HTML)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
