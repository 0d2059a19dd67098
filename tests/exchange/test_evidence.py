"""Reading through the exchange, X-Road style: grants enforced, the answer signed and bound to
the request, every call (refused ones too) in the hash-chained message log."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from smartcity.core import clock, signatures
from smartcity.core.errors import InvalidInput, NotFound
from smartcity.core.security import issue_access_token
from smartcity.exchange import evidence, grants, service
from smartcity.exchange.models import ExchangeMessage
from smartcity.exchange.schemas import ExchangeQuery, ResourceUpdate
from smartcity.registry.models import AccessLog
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.core.factories import ROOT, as_database_owner
from tests.exchange import factories
from tests.problems import assert_problem

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def body_of(**kwargs) -> bytes:
    return json.dumps(kwargs, ensure_ascii=False).encode()


async def call(client, key: str, code: str, body: bytes, **headers: str):
    sent = {"X-API-Key": key, "Content-Type": "application/json"}
    sent.update({name.replace("_", "-"): value for name, value in headers.items()})
    return await client.post(f"/api/v1/exchange/resources/{code}/query", content=body, headers=sent)


async def setup(session, *, fields=("name", "sex", "id_number"), **approval):
    """GAJ publishes persons; ZWSJJ's system account holds a grant; one person exists."""
    resource = await factories.create_resource(session)
    grant = await factories.grant(session, resource, "ZWSJJ", fields=list(fields), **approval)
    _account, key = await factories.system(session, "ZWSJJ")
    person = await factories.person(session)
    await session.commit()
    return resource, grant, key, person


class TestAnsweredCall:
    async def test_granted_fields_signed_and_logged(self, client, session):
        resource, grant, key, person = await setup(session)
        body = body_of(filters={"id_number": person.id_number}, purpose="核验身份")
        r = await call(
            client,
            key,
            resource.code,
            body,
            X_Road_Client="CN/GOV/ZWSJJ/yiwang",
            X_Road_UserId="CN440303198506150011",
            X_Road_Issue="BJ-2026-000123",
        )
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["records"] == [
            {
                "id": str(person.id),
                "name": person.name,
                "sex": person.sex,
                "id_number": person.id_number,
            }
        ]
        assert answer["fields"] == ["name", "sex", "id_number"]
        assert answer["count"] == 1 and answer["case_number"] == "BJ-2026-000123"
        message_id = r.headers["X-Road-Id"]
        assert uuid.UUID(message_id)
        assert r.headers["X-Road-Client"] == "CN/GOV/ZWSJJ/yiwang"
        assert r.headers["X-Road-Service"] == f"smartcity/GAJ/{resource.code}"

        message = (
            await session.execute(
                select(ExchangeMessage).where(ExchangeMessage.message_id == uuid.UUID(message_id))
            )
        ).scalar_one()
        assert str(message.seq) == r.headers["X-Smartcity-Message-Seq"]
        assert (message.outcome, message.grant_id, message.case_number, message.end_user) == (
            "answered",
            grant.id,
            "BJ-2026-000123",
            "CN440303198506150011",
        )
        assert message.record_ids == [str(person.id)]
        assert message.fields == ["name", "sex", "id_number"]
        assert message.purpose == "核验身份"

        logged = (
            await session.execute(select(AccessLog).where(AccessLog.person_id == person.id))
        ).scalar_one()
        assert (logged.via, logged.case_number, logged.department_code) == (
            "exchange",
            "BJ-2026-000123",
            "ZWSJJ",
        )

    async def test_request_hash_is_the_documented_construction(self, client, session):
        resource, _grant, key, person = await setup(session)
        body = body_of(filters={"id": str(person.id)}, fields=["name"], purpose="p")
        message_id = str(uuid.uuid4())
        r = await call(client, key, resource.code, body, X_Road_Id=message_id, X_Road_Issue="A1")
        assert r.status_code == 200 and r.headers["X-Road-Id"] == message_id
        headers = (
            f"POST\n/api/v1/exchange/resources/{resource.code}/query\n"
            f"x-road-client:\nx-road-userid:\nx-road-issue:A1\nx-road-id:{message_id}\n"
        ).encode()
        expected = base64.b64encode(
            hashlib.sha512(
                hashlib.sha512(headers).digest() + hashlib.sha512(body).digest()
            ).digest()
        ).decode()
        assert r.headers["X-Road-Request-Hash"] == expected
        assert r.json()["request_hash"] == expected
        message = (
            await session.execute(select(ExchangeMessage).where(ExchangeMessage.seq == 1))
        ).scalar_one()
        assert message.request_hash == expected
        assert (
            message.response_hash == base64.b64encode(hashlib.sha512(r.content).digest()).decode()
        )

    async def test_signature_verifies_and_breaks_on_a_changed_answer(self, client, session):
        resource, _grant, key, person = await setup(session)
        r = await call(
            client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
        )
        signature = base64.b64decode(r.headers["X-Smartcity-Signature"])
        result, signing_key = await signatures.verify_document(
            session, document=r.content, signature_json=signature
        )
        assert result.valid, result.reason
        assert signing_key is not None and signing_key.algorithm == "SM2"
        message = (await session.execute(select(ExchangeMessage))).scalar_one()
        assert message.signature.encode() == signature
        forged = r.content.replace(person.name.encode(), "李四".encode())
        result, _key = await signatures.verify_document(
            session, document=forged, signature_json=signature
        )
        assert not result.valid

    async def test_default_fields_are_all_granted_ones(self, client, session):
        resource, _grant, key, person = await setup(session, fields=("name",))
        r = await call(
            client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
        )
        assert r.json()["records"] == [{"id": str(person.id), "name": person.name}]

    async def test_staff_may_call_too(self, client, session):
        resource, _grant, _key, person = await setup(session)
        account, _principal = await factories.staff(session, "ZWSJJ")
        await session.commit()
        token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
        r = await client.post(
            f"/api/v1/exchange/resources/{resource.code}/query",
            json={"filters": {"id": str(person.id)}, "purpose": "p"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200
        message = (await session.execute(select(ExchangeMessage))).scalar_one()
        assert message.consumer == account.username


class TestRefusedCall:
    async def refused(self, client, session, key, code, body=None):
        r = await call(
            client, key, code, body or body_of(filters={"name_prefix": "张"}, purpose="p")
        )
        message = (
            (await session.execute(select(ExchangeMessage).order_by(ExchangeMessage.seq.desc())))
            .scalars()
            .first()
        )
        return r, message

    async def test_without_a_grant(self, client, session):
        resource = await factories.create_resource(session)
        _account, key = await factories.system(session, "ZWSJJ")
        await session.commit()
        r, message = await self.refused(client, session, key, resource.code)
        assert_problem(r, 403, "exchange-no-grant")
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "/problems/exchange-no-grant"
        assert r.json()["reason"] == "no-grant"
        assert (message.outcome, message.grant_id, message.record_ids) == ("refused", None, [])
        assert message.query["refusal"] == {"status": 403, "type": "/problems/exchange-no-grant"}
        assert r.headers["X-Smartcity-Message-Seq"] == str(message.seq)
        assert "X-Smartcity-Signature" not in r.headers

    async def test_expired_grant(self, client, session):
        with clock.frozen(T0) as advance:
            resource, _grant, key, _person = await setup(session, expires_at=T0 + timedelta(days=7))
            advance(timedelta(days=7, seconds=1))
            r, message = await self.refused(client, session, key, resource.code)
        assert_problem(r, 403, "exchange-expired")
        assert r.json()["reason"] == "expired"
        assert message.outcome == "refused"

    async def test_revoked_grant(self, client, session):
        resource, grant, key, _person = await setup(session)
        await grants.revoke_grant(session, ROOT, grant.id)
        await session.commit()
        r, _message = await self.refused(client, session, key, resource.code)
        assert_problem(r, 403, "exchange-revoked")
        assert r.json()["reason"] == "revoked"

    async def test_request_not_yet_approved(self, client, session):
        resource = await factories.create_resource(session)
        await factories.grant(session, resource, "ZWSJJ", approve=False)
        _account, key = await factories.system(session, "ZWSJJ")
        await session.commit()
        r, _message = await self.refused(client, session, key, resource.code)
        assert_problem(r, 403, "exchange-not-approved")
        assert r.json()["reason"] == "not-approved"

    async def test_fields_beyond_the_grant_are_named(self, client, session):
        resource, _grant, key, _person = await setup(session, fields=("name",))
        r, message = await self.refused(
            client,
            session,
            key,
            resource.code,
            body_of(
                filters={"name_prefix": "张"}, fields=["name", "phone", "id_number"], purpose="p"
            ),
        )
        assert_problem(r, 403, "exchange-fields-not-granted")
        assert r.json()["fields"] == ["phone", "id_number"]
        assert "phone, id_number" in r.json()["detail"]
        assert message.outcome == "refused" and message.fields == []

    async def test_resource_now_not_shared(self, client, session):
        resource, _grant, key, _person = await setup(session)
        await service.update_resource(
            session, ROOT, resource.code, ResourceUpdate(sharing_class="none")
        )
        await session.commit()
        r, _message = await self.refused(client, session, key, resource.code)
        assert_problem(r, 403, "exchange-not-shared")
        assert r.json()["reason"] == "not-shared"

    async def test_bad_filter_is_a_logged_422(self, client, session):
        resource, _grant, key, _person = await setup(session)
        r, message = await self.refused(
            client, session, key, resource.code, body_of(filters={"phone": "1"}, purpose="p")
        )
        assert_problem(r, 422, "invalid-input")
        assert message.outcome == "refused" and message.query["refusal"]["status"] == 422

    async def test_malformed_message_id(self, client, session):
        resource, _grant, key, _person = await setup(session)
        r = await call(client, key, resource.code, body_of(purpose="p"), X_Road_Id="not-a-uuid")
        assert_problem(r, 422, "invalid-input")

    async def test_reused_message_id(self, client, session):
        resource, _grant, key, person = await setup(session)
        body = body_of(filters={"id": str(person.id)}, purpose="p")
        message_id = str(uuid.uuid4())
        assert (
            await call(client, key, resource.code, body, X_Road_Id=message_id)
        ).status_code == 200
        r = await call(client, key, resource.code, body, X_Road_Id=message_id)
        assert_problem(r, 409, "conflict")

    async def test_missing_purpose(self, client, session):
        resource, _grant, key, _person = await setup(session)
        r = await call(client, key, resource.code, body_of(filters={}))
        assert_problem(r, 422, "invalid-input")

    async def test_unknown_resource(self, client, session):
        _account, key = await factories.system(session, "ZWSJJ")
        await session.commit()
        r = await call(client, key, "no-such-thing", body_of(purpose="p"))
        assert_problem(r, 404, "not-found")

    async def test_citizens_are_refused_at_the_door(self, client, session):
        resource, _grant, _key, _person = await setup(session)
        citizen = await core_factories.create_account(session)
        await session.commit()
        token = issue_access_token(get_settings(), citizen, amr=["pwd"])
        r = await client.post(
            f"/api/v1/exchange/resources/{resource.code}/query",
            json={"purpose": "p"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert_problem(r, 403, "forbidden")
        assert (await session.execute(select(ExchangeMessage))).first() is None


class TestMessageLog:
    async def test_tampering_is_detected(self, client, session):
        resource, _grant, key, person = await setup(session)
        for _ in range(3):
            r = await call(
                client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
            )
            assert r.status_code == 200
        verdict = await evidence.verify_log(session, ROOT)
        assert (verdict.intact, verdict.checked) == (True, 3)
        await as_database_owner(session)
        await session.execute(
            text("UPDATE exchange_message SET purpose = 'something else' WHERE seq = 2")
        )
        session.expunge_all()
        verdict = await evidence.verify_log(session, ROOT)
        assert (verdict.intact, verdict.first_broken_seq) == (False, 2)
        assert "changed" in verdict.reason

    async def test_deleted_tail_is_detected(self, client, session):
        resource, _grant, key, person = await setup(session)
        for _ in range(2):
            await call(
                client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
            )
        await as_database_owner(session)
        await session.execute(text("DELETE FROM exchange_message WHERE seq = 2"))
        verdict = await evidence.verify_log(session, ROOT)
        assert verdict.intact is False

    async def test_verify_api_is_for_auditors(self, client, session):
        auditor = await core_factories.create_account(session, kind="admin", roles=["auditor"])
        staff, _p = await factories.staff(session, "GAJ")
        await session.commit()
        settings = get_settings()
        ok = await client.get(
            "/api/v1/exchange/log/verify",
            headers={
                "Authorization": "Bearer "
                + issue_access_token(settings, auditor, amr=["pwd", "otp"])
            },
        )
        assert ok.status_code == 200 and ok.json() == {
            "intact": True,
            "checked": 0,
            "first_broken_seq": None,
            "reason": "",
        }
        refused = await client.get(
            "/api/v1/exchange/log/verify",
            headers={
                "Authorization": f"Bearer {issue_access_token(settings, staff, amr=['pwd', 'otp'])}"
            },
        )
        assert_problem(refused, 403, "forbidden")

    async def test_departments_see_their_own_calls(self, client, session):
        resource, _grant, key, person = await setup(session)
        r = await call(
            client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
        )
        message_id = uuid.UUID(r.headers["X-Road-Id"])
        _a, gaj = await factories.staff(session, "GAJ")
        _b, zw = await factories.staff(session, "ZWSJJ")
        _c, rsj = await factories.staff(session, "RSJ")
        incoming = await evidence.list_messages(session, gaj, direction="incoming")
        outgoing = await evidence.list_messages(session, zw, direction="outgoing")
        assert [m.message_id for m in incoming] == [message_id]
        assert [m.message_id for m in outgoing] == [message_id]
        assert await evidence.list_messages(session, gaj, direction="outgoing") == []
        assert await evidence.list_messages(session, rsj) == []
        with pytest.raises(NotFound):
            await evidence.get_message(session, rsj, message_id)

    async def test_message_api_returns_the_evidence(self, client, session):
        resource, _grant, key, person = await setup(session)
        r = await call(
            client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
        )
        listed = await client.get(
            "/api/v1/exchange/messages?direction=outgoing", headers={"X-API-Key": key}
        )
        assert listed.status_code == 200
        [entry] = listed.json()
        assert entry["message_id"] == r.headers["X-Road-Id"]
        assert entry["consumer_department"] == "ZWSJJ" and entry["resource"] == resource.code
        assert entry["intact"] is True and entry["signature"]
        one = await client.get(
            f"/api/v1/exchange/messages/{entry['message_id']}", headers={"X-API-Key": key}
        )
        assert one.json()["request_hash"] == r.headers["X-Road-Request-Hash"]


class TestAccessStats:
    async def test_counts_per_day_resource_and_consumer(self, client, session):
        with clock.frozen(T0):
            resource, _grant, key, person = await setup(session, fields=("name",))
            other = await factories.person(session, name="张三丰")
            await session.commit()
            await call(
                client, key, resource.code, body_of(filters={"name_prefix": "张"}, purpose="p")
            )
            await call(
                client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p")
            )
            await call(
                client,
                key,
                resource.code,
                body_of(filters={"id": str(other.id)}, fields=["phone"], purpose="p"),
            )
            stats = await evidence.access_stats(session, ROOT, days=7)
        assert [
            (s.day.isoformat(), s.resource, s.consumer, s.calls, s.answered, s.refused, s.records)
            for s in stats
        ] == [("2026-12-01", resource.code, "ZWSJJ", 3, 2, 1, 3)]

    async def test_period_is_bounded(self, session):
        with pytest.raises(InvalidInput) as caught:
            await evidence.access_stats(session, ROOT, days=0)
        assert caught.value.extensions["field"] == "days"

    async def test_stats_api(self, client, session):
        resource, _grant, key, person = await setup(session)
        await call(client, key, resource.code, body_of(filters={"id": str(person.id)}, purpose="p"))
        r = await client.get("/api/v1/exchange/stats?days=1", headers={"X-API-Key": key})
        assert r.status_code == 200
        assert [(row["resource"], row["calls"], row["records"]) for row in r.json()] == [
            (resource.code, 1, 1)
        ]
        assert_problem(
            await client.get("/api/v1/exchange/stats?days=0", headers={"X-API-Key": key}),
            422,
            "invalid-input",
        )


class TestQueryService:
    async def test_the_service_answers_without_http(self, session):
        resource, _grant, _key, person = await setup(session)
        account, _principal = await factories.staff(session, "ZWSJJ")
        principal = core_factories.principal(account)
        answer = await evidence.query_resource(
            session,
            principal,
            resource.code,
            ExchangeQuery(filters={"id": str(person.id)}, purpose="p"),
            call=evidence.CallHeaders(issue="X-1"),
            method="POST",
            path="/x",
            body=b"{}",
        )
        assert answer.status == 200 and json.loads(answer.body)["count"] == 1
        assert answer.message.hash == evidence.entry_hash(answer.message)
