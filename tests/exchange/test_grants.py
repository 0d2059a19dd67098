"""The grants workflow (共享授权): every rule, including bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from smartcity.core import clock, i18n
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import AuditEntry, OutboxEvent
from smartcity.exchange import grants
from smartcity.exchange.models import Grant, Subscription, WebhookDelivery
from smartcity.exchange.schemas import (
    GrantApproval,
    GrantRequest,
)
from tests.core import factories as core_factories
from tests.core.factories import ROOT
from tests.exchange import factories

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert the English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


async def topics(session) -> list[str]:
    rows = await session.execute(select(OutboxEvent.topic).order_by(OutboxEvent.seq))
    return [t for t in rows.scalars() if t.startswith("exchange.")]


class TestRequestGrant:
    async def test_unconditional_is_granted_at_once(self, session):
        resource = await factories.create_resource(session, sharing_class="unconditional")
        _a, zw = await factories.staff(session, "ZWSJJ")
        grant = await grants.request_grant(
            session, zw, resource.code, GrantRequest(purpose="一网通办", fields=["name", "sex"])
        )
        assert grant.status == "approved"
        assert grant.granted_fields == ["name", "sex"]
        assert grant.decided_by == "platform" and grant.expires_at is None
        assert await topics(session) == ["exchange.grant.requested", "exchange.grant.approved"]

    async def test_unconditional_keeps_a_requested_expiry(self, session):
        resource = await factories.create_resource(session, sharing_class="unconditional")
        _a, zw = await factories.staff(session, "ZWSJJ")
        until = clock.now() + timedelta(days=30)
        grant = await grants.request_grant(
            session,
            zw,
            resource.code,
            GrantRequest(purpose="p", fields=["name"], expires_at=until),
        )
        assert grant.expires_at == until

    async def test_not_shared_is_refused_at_once_with_a_reason(self, session):
        resource = await factories.create_resource(session, sharing_class="none")
        _a, zw = await factories.staff(session, "ZWSJJ")
        grant = await grants.request_grant(
            session, zw, resource.code, GrantRequest(purpose="p", fields=["name"])
        )
        assert grant.status == "refused"
        assert "不予共享" in grant.decision_reason
        assert await topics(session) == ["exchange.grant.requested", "exchange.grant.refused"]

    async def test_conditional_waits_for_the_publisher(self, session):
        resource = await factories.create_resource(session)
        _a, zw = await factories.staff(session, "ZWSJJ")
        grant = await grants.request_grant(
            session,
            zw,
            resource.code,
            GrantRequest(purpose="核验", legal_basis="某办法", fields=["name", "id_number"]),
        )
        assert grant.status == "requested" and grant.granted_fields == []
        assert grant.requested_by == zw.name and grant.legal_basis == "某办法"

    async def test_unknown_fields_are_refused(self, session):
        resource = await factories.create_resource(session)
        _a, zw = await factories.staff(session, "ZWSJJ")
        with pytest.raises(InvalidInput, match="uscc") as caught:
            await grants.request_grant(
                session, zw, resource.code, GrantRequest(purpose="p", fields=["name", "uscc"])
            )
        assert caught.value.extensions["field"] == "fields"

    async def test_blank_purpose_is_refused(self, session):
        resource = await factories.create_resource(session)
        _a, zw = await factories.staff(session, "ZWSJJ")
        # The schema refuses it (core.text), and the service on its own too.
        with pytest.raises(ValidationError) as refused:
            GrantRequest(purpose="   ", fields=["name"])
        assert refused.value.errors()[0]["loc"] == ("purpose",)
        unchecked = GrantRequest.model_construct(purpose="   ", fields=["name"])
        with pytest.raises(InvalidInput) as caught:
            await grants.request_grant(session, zw, resource.code, unchecked)
        assert caught.value.extensions["field"] == "purpose"

    async def test_past_expiry_is_refused(self, session):
        resource = await factories.create_resource(session)
        _a, zw = await factories.staff(session, "ZWSJJ")
        with pytest.raises(InvalidInput) as caught:
            await grants.request_grant(
                session,
                zw,
                resource.code,
                GrantRequest(
                    purpose="p", fields=["name"], expires_at=clock.now() - timedelta(days=1)
                ),
            )
        assert caught.value.extensions["field"] == "expires_at"

    async def test_the_publisher_needs_no_grant(self, session):
        resource = await factories.create_resource(session)
        _a, gaj = await factories.staff(session, "GAJ")
        with pytest.raises(InvalidInput, match="publishes"):
            await grants.request_grant(
                session, gaj, resource.code, GrantRequest(purpose="p", fields=["name"])
            )

    async def test_one_pending_request_at_a_time(self, session):
        resource = await factories.create_resource(session)
        _a, zw = await factories.staff(session, "ZWSJJ")
        data = GrantRequest(purpose="p", fields=["name"])
        await grants.request_grant(session, zw, resource.code, data)
        with pytest.raises(Conflict):
            await grants.request_grant(session, zw, resource.code, data)

    async def test_citizens_cannot_request(self, session):
        resource = await factories.create_resource(session)
        citizen = core_factories.principal(await core_factories.create_account(session))
        with pytest.raises(Forbidden):
            await grants.request_grant(
                session, citizen, resource.code, GrantRequest(purpose="p", fields=["name"])
            )

    async def test_only_admins_request_for_another_department(self, session):
        resource = await factories.create_resource(session)
        _a, zw = await factories.staff(session, "ZWSJJ")
        await factories.department(session, "RSJ")
        with pytest.raises(Forbidden):
            await grants.request_grant(
                session,
                zw,
                resource.code,
                GrantRequest(purpose="p", fields=["name"], consumer="RSJ"),
            )


class TestApproveGrant:
    async def test_publisher_grants_fewer_fields_until_a_date(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(
            session, resource, "ZWSJJ", fields=["name", "id_number", "phone"], approve=False
        )
        _a, gaj = await factories.staff(session, "GAJ")
        until = clock.now() + timedelta(days=90)
        await grants.approve_grant(
            session, gaj, grant.id, GrantApproval(fields=["name", "id_number"], expires_at=until)
        )
        assert grant.status == "approved"
        assert grant.granted_fields == ["name", "id_number"]
        assert grant.expires_at == until and grant.decided_by == gaj.name
        assert "exchange.grant.approved" in await topics(session)

    async def test_fields_beyond_the_request_are_refused(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", fields=["name"], approve=False)
        with pytest.raises(InvalidInput, match="phone"):
            await grants.approve_grant(session, ROOT, grant.id, GrantApproval(fields=["phone"]))

    async def test_no_fields_is_refused(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", fields=["name"], approve=False)
        with pytest.raises(InvalidInput):
            await grants.approve_grant(session, ROOT, grant.id, GrantApproval(fields=[]))

    async def test_only_the_publisher_decides(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        _a, zw = await factories.staff(session, "ZWSJJ")
        with pytest.raises(Forbidden):
            await grants.approve_grant(session, zw, grant.id, GrantApproval())

    async def test_an_unrelated_department_does_not_even_see_it(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        _a, rsj = await factories.staff(session, "RSJ")
        with pytest.raises(NotFound):
            await grants.approve_grant(session, rsj, grant.id, GrantApproval())

    async def test_a_decided_request_cannot_be_decided_again(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ")
        with pytest.raises(Conflict):
            await grants.approve_grant(session, ROOT, grant.id, GrantApproval())

    async def test_a_new_grant_supersedes_the_old_one_and_keeps_subscriptions(self, session):
        resource = await factories.create_resource(session)
        old = await factories.grant(session, resource, "ZWSJJ", fields=["name"])
        subscription = Subscription(grant_id=old.id, created_by="t")
        session.add(subscription)
        await session.flush()
        new = await factories.grant(session, resource, "ZWSJJ", fields=["name", "sex"])
        assert (old.status, new.status) == ("revoked", "approved")
        assert old.decision_reason == f"superseded by grant {new.id}"
        await session.refresh(subscription)
        assert subscription.grant_id == new.id


class TestRefuseGrant:
    async def test_refusal_needs_a_reason(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        with pytest.raises(InvalidInput) as caught:
            await grants.refuse_grant(session, ROOT, grant.id, "  ")
        assert caught.value.extensions["field"] == "reason"
        assert grant.status == "requested"

    async def test_refusal_is_recorded_and_announced(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        _a, gaj = await factories.staff(session, "GAJ")
        await grants.refuse_grant(session, gaj, grant.id, "用途与字段不符")
        assert (grant.status, grant.decision_reason, grant.decided_by) == (
            "refused",
            "用途与字段不符",
            gaj.name,
        )
        assert await topics(session) == ["exchange.grant.requested", "exchange.grant.refused"]
        audited = await session.execute(
            select(AuditEntry.detail).where(AuditEntry.action == "exchange.grant.refuse")
        )
        assert audited.scalar_one() == {"reason": "用途与字段不符"}


class TestRevokeGrant:
    async def test_revocation_takes_effect_at_once(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ")
        subscription = Subscription(
            grant_id=grant.id, webhook_url="https://x.test/", created_by="t"
        )
        session.add(subscription)
        await session.flush()
        pending = WebhookDelivery(
            subscription_id=subscription.id, event_id=grant.id, payload={}, status="pending"
        )
        session.add(pending)
        await session.flush()
        with clock.frozen(T0):
            await grants.revoke_grant(session, ROOT, grant.id, "不再需要")
        assert (grant.status, grant.revoked_at, grant.decision_reason) == (
            "revoked",
            T0,
            "不再需要",
        )
        check = await grants.grant_in_force(session, resource, grant.consumer_department_id)
        assert check == grants.GrantCheck(None, "revoked")
        await session.refresh(subscription)
        await session.refresh(pending)
        assert subscription.active is False
        assert (pending.status, pending.last_error) == ("cancelled", "the grant was revoked")
        assert "exchange.grant.revoked" in await topics(session)

    async def test_only_approved_grants_are_revoked(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        with pytest.raises(Conflict):
            await grants.revoke_grant(session, ROOT, grant.id)

    async def test_the_consumer_cannot_revoke(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ")
        _a, zw = await factories.staff(session, "ZWSJJ")
        with pytest.raises(Forbidden):
            await grants.revoke_grant(session, zw, grant.id)


class TestGrantInForce:
    async def test_reasons(self, session):
        resource = await factories.create_resource(session)
        zw = await factories.department(session, "ZWSJJ")
        assert (await grants.grant_in_force(session, resource, zw.id)).reason == "no-grant"
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        assert (await grants.grant_in_force(session, resource, zw.id)).reason == "not-approved"
        await grants.refuse_grant(session, ROOT, grant.id, "不符")
        assert (await grants.grant_in_force(session, resource, zw.id)).reason == "refused"

    async def test_expiry_with_a_frozen_clock(self, session):
        resource = await factories.create_resource(session)
        with clock.frozen(T0) as advance:
            grant = await factories.grant(
                session, resource, "ZWSJJ", expires_at=T0 + timedelta(days=1)
            )
            check = await grants.grant_in_force(session, resource, grant.consumer_department_id)
            assert check.grant is not None and check.grant.id == grant.id
            advance(timedelta(days=1))
            check = await grants.grant_in_force(session, resource, grant.consumer_department_id)
            assert check == grants.GrantCheck(None, "expired")
            assert grants.standing(grant) == "expired"

    async def test_grant_listing_by_direction(self, session):
        resource = await factories.create_resource(session)
        grant = await factories.grant(session, resource, "ZWSJJ", approve=False)
        _a, gaj = await factories.staff(session, "GAJ")
        _b, zw = await factories.staff(session, "ZWSJJ")
        _c, rsj = await factories.staff(session, "RSJ")
        assert [g.id for g in await grants.list_grants(session, gaj, direction="incoming")] == [
            grant.id
        ]
        assert await grants.list_grants(session, gaj, direction="outgoing") == []
        assert [g.id for g in await grants.list_grants(session, zw, direction="outgoing")] == [
            grant.id
        ]
        assert await grants.list_grants(session, rsj) == []
        rows = await session.execute(select(Grant.id))
        assert len(rows.all()) == 1
