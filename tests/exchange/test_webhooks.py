"""Subscriptions: bus events and signed webhooks with backoff and a dead letter; only granted
fields leave; revoking the grant stops deliveries."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from smartcity.core import clock
from smartcity.core.bus import emit
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import Forbidden, InvalidInput
from smartcity.core.models import OutboxEvent
from smartcity.core.runtime import Runtime
from smartcity.core.secrets import decrypt
from smartcity.exchange import MODULE, grants, webhooks
from smartcity.exchange.models import Subscription, WebhookDelivery
from smartcity.registry.models import AccessLog
from smartcity.settings import get_settings
from tests.core import factories as core_factories
from tests.core.factories import ROOT
from tests.core.test_bus import BACKENDS, migrated_url
from tests.exchange import factories

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
URL = "https://hooks.zwsjj.example/persons"


class Endpoint:
    """A webhook receiver behind httpx.MockTransport: up, down, or answering an error."""

    def __init__(self, *, status: int = 204, down: bool = False) -> None:
        self.status, self.down = status, down
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(self.status)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


async def subscribed(session, *, fields=("name", "sex"), url=URL):
    resource = await factories.create_resource(session)
    grant = await factories.grant(session, resource, "ZWSJJ", fields=list(fields))
    _account, zw = await factories.staff(session, "ZWSJJ")
    subscription, secret = await webhooks.create_subscription(
        session, zw, resource_code=resource.code, webhook_url=url
    )
    return resource, grant, subscription, secret


async def change(session, record_id="r-1", **values) -> int:
    return await webhooks.fan_out_change(
        session,
        record_type="person",
        record_id=record_id,
        version=2,
        changed=list(values),
        values=values,
        event_id=uuid.uuid4(),
    )


async def deliveries(session) -> list[WebhookDelivery]:
    rows = await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))
    return list(rows.scalars())


class TestCreateSubscription:
    async def test_secret_is_shown_once_and_kept_encrypted(self, session):
        _resource, grant, subscription, secret = await subscribed(session)
        assert secret and subscription.grant_id == grant.id and subscription.active
        assert secret not in subscription.secret_enc
        opened = decrypt(
            get_settings().resolved_secret(), webhooks.SECRET_PURPOSE, subscription.secret_enc
        )
        assert opened.decode() == secret

    async def test_bus_only_subscription_has_no_secret(self, session):
        _resource, _grant, subscription, secret = await subscribed(session, url="")
        assert secret is None and subscription.secret_enc == ""

    async def test_needs_a_grant_in_force(self, session):
        resource = await factories.create_resource(session)
        _account, zw = await factories.staff(session, "ZWSJJ")
        with pytest.raises(InvalidInput) as caught:
            await webhooks.create_subscription(session, zw, resource_code=resource.code)
        assert caught.value.extensions["reason"] == "no-grant"

    @pytest.mark.parametrize(
        "url", ["ftp://hooks.example/x", "hooks.example/x", "https://user:pw@hooks.example/"]
    )
    async def test_bad_webhook_addresses(self, session, url):
        resource = await factories.create_resource(session)
        await factories.grant(session, resource, "ZWSJJ")
        _account, zw = await factories.staff(session, "ZWSJJ")
        with pytest.raises(InvalidInput) as caught:
            await webhooks.create_subscription(
                session, zw, resource_code=resource.code, webhook_url=url
            )
        assert caught.value.extensions["field"] == "webhook_url"

    async def test_citizens_cannot_subscribe(self, session):
        resource = await factories.create_resource(session)
        citizen = core_factories.principal(await core_factories.create_account(session))
        with pytest.raises(Forbidden):
            await webhooks.create_subscription(session, citizen, resource_code=resource.code)


class TestFanOutChange:
    async def test_only_granted_fields_leave(self, session):
        resource, _grant, subscription, _secret = await subscribed(session, fields=("name",))
        assert await change(session, name="王五", phone="13800000000") == 1
        [delivery] = await deliveries(session)
        assert delivery.status == "pending" and delivery.subscription_id == subscription.id
        assert delivery.payload["fields"] == ["name"]
        assert delivery.payload["values"] == {"name": "王五"}
        assert delivery.payload["topic"] == f"exchange.resource.{resource.code}.changed"
        events = await session.execute(
            select(OutboxEvent.topic, OutboxEvent.payload).where(
                OutboxEvent.topic.like("exchange.resource.%")
            )
        )
        [(topic, wire)] = events.all()
        assert topic == f"exchange.resource.{resource.code}.changed"
        assert wire["payload"]["values"] == {"name": "王五"}
        assert wire["payload"]["consumer"] == "ZWSJJ"

    async def test_a_change_of_ungranted_fields_is_not_sent(self, session):
        await subscribed(session, fields=("name",))
        assert await change(session, phone="13800000000") == 0
        assert await deliveries(session) == []

    async def test_values_are_read_through_the_registry_and_logged(self, session):
        await subscribed(session, fields=("name", "sex"))
        person = await factories.person(session, name="赵六")
        await webhooks.fan_out_change(
            session,
            record_type="person",
            record_id=str(person.id),
            version=2,
            changed=["name", "phone"],
            values={},
            event_id=uuid.uuid4(),
        )
        [delivery] = await deliveries(session)
        assert delivery.payload["values"] == {"name": "赵六"}
        logged = (
            await session.execute(select(AccessLog).where(AccessLog.person_id == person.id))
        ).scalar_one()
        assert logged.via == "exchange" and logged.actor.startswith("subscription:")
        assert logged.department_code == "ZWSJJ" and logged.fields == ["name"]

    async def test_a_created_record_sends_every_granted_field(self, session):
        await subscribed(session, fields=("name", "sex"))
        await webhooks.fan_out_change(
            session,
            record_type="person",
            record_id="r-9",
            version=1,
            changed=[],
            values={"name": "钱七", "sex": "female", "phone": "1"},
            event_id=uuid.uuid4(),
            created=True,
        )
        [delivery] = await deliveries(session)
        assert delivery.payload["values"] == {"name": "钱七", "sex": "female"}

    async def test_other_registries_do_not_reach_it(self, session):
        await subscribed(session)
        reached = await webhooks.fan_out_change(
            session,
            record_type="organization",
            record_id="o-1",
            version=2,
            changed=["name"],
            values={"name": "x"},
            event_id=uuid.uuid4(),
        )
        assert reached == 0

    async def test_after_revocation_nothing_is_sent(self, session):
        _resource, grant, _subscription, _secret = await subscribed(session)
        await grants.revoke_grant(session, ROOT, grant.id)
        assert await change(session, name="x") == 0


class TestDeliverDue:
    async def test_working_endpoint_gets_a_signed_payload(self, session):
        _resource, _grant, subscription, secret = await subscribed(session)
        await change(session, name="王五")
        endpoint = Endpoint()
        report = await webhooks.deliver_due(session, transport=endpoint.transport)
        assert (report.delivered, report.failed) == (1, 0)
        [request] = endpoint.requests
        assert str(request.url) == URL
        body = request.content
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert request.headers["X-Smartcity-Signature"] == expected
        payload = json.loads(body)
        assert payload["values"] == {"name": "王五"}
        assert request.headers["X-Smartcity-Event-Id"] == payload["event_id"]
        assert payload["subscription"] == str(subscription.id)
        [delivery] = await deliveries(session)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 1, "")
        # Nothing is due any more.
        again = await webhooks.deliver_due(session, transport=endpoint.transport)
        assert again == webhooks.DeliveryReport() and len(endpoint.requests) == 1

    async def test_endpoint_down_backs_off_then_dead_letters(self, session):
        endpoint = Endpoint(down=True)
        with clock.frozen(T0) as advance:
            await subscribed(session)
            await change(session, name="王五")
            waits = []
            for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
                report = await webhooks.deliver_due(session, transport=endpoint.transport)
                [delivery] = await deliveries(session)
                assert delivery.attempts == attempt
                assert "ConnectError" in delivery.last_error
                if attempt < webhooks.MAX_ATTEMPTS:
                    assert report.failed == 1 and delivery.status == "pending"
                    waits.append(delivery.next_attempt_at - clock.now())
                    # Not due a second before the wait is over.
                    advance(waits[-1] - timedelta(seconds=1))
                    early = await webhooks.deliver_due(session, transport=endpoint.transport)
                    assert early == webhooks.DeliveryReport()
                    advance(timedelta(seconds=1))
                else:
                    assert report.dead == 1 and delivery.status == "dead"
        assert [w.total_seconds() / 60 for w in waits] == [1, 2, 4, 8, 16, 32, 60]
        assert len(endpoint.requests) == webhooks.MAX_ATTEMPTS

    async def test_an_error_status_is_a_failure(self, session):
        await subscribed(session)
        await change(session, name="x")
        report = await webhooks.deliver_due(session, transport=Endpoint(status=500).transport)
        [delivery] = await deliveries(session)
        assert report.failed == 1 and delivery.last_error == "HTTP 500"

    async def test_fewer_tries_when_configured(self, session):
        await subscribed(session)
        await change(session, name="x")
        report = await webhooks.deliver_due(
            session, transport=Endpoint(down=True).transport, max_attempts=1
        )
        assert report.dead == 1

    async def test_revoking_the_grant_stops_deliveries(self, session):
        _resource, grant, _subscription, _secret = await subscribed(session)
        await change(session, name="x")
        await grants.revoke_grant(session, ROOT, grant.id)
        endpoint = Endpoint()
        report = await webhooks.deliver_due(session, transport=endpoint.transport)
        assert endpoint.requests == [] and report == webhooks.DeliveryReport()
        [delivery] = await deliveries(session)
        assert delivery.status == "cancelled"

    async def test_an_expired_grant_stops_deliveries_too(self, session):
        with clock.frozen(T0) as advance:
            resource = await factories.create_resource(session)
            await factories.grant(
                session, resource, "ZWSJJ", fields=["name"], expires_at=T0 + timedelta(hours=1)
            )
            _a, zw = await factories.staff(session, "ZWSJJ")
            await webhooks.create_subscription(
                session, zw, resource_code=resource.code, webhook_url=URL
            )
            await change(session, name="x")
            advance(timedelta(hours=2))
            endpoint = Endpoint()
            report = await webhooks.deliver_due(session, transport=endpoint.transport)
        assert report.cancelled == 1 and endpoint.requests == []

    async def test_cancelled_subscription_stops_deliveries(self, session):
        _resource, _grant, subscription, _secret = await subscribed(session)
        await change(session, name="x")
        _account, zw = await factories.staff(session, "ZWSJJ")
        await webhooks.cancel_subscription(session, zw, subscription.id)
        [delivery] = await deliveries(session)
        assert delivery.status == "cancelled"

    async def test_only_the_subscriber_cancels(self, session):
        _resource, _grant, subscription, _secret = await subscribed(session)
        _account, gaj = await factories.staff(session, "GAJ")
        with pytest.raises(Forbidden):
            await webhooks.cancel_subscription(session, gaj, subscription.id)

    def test_backoff_is_capped(self):
        assert webhooks.backoff(1) == timedelta(minutes=1)
        assert webhooks.backoff(3) == timedelta(minutes=4)
        assert webhooks.backoff(40) == timedelta(hours=1)


# --- through the bus, on a committing database of this module's own ---------------------

_codes = itertools.count(1)


@pytest.fixture(scope="module", params=BACKENDS)
def bus_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return migrated_url(request.param, tmp_path_factory.mktemp(request.param), "exchange")


@pytest.fixture
async def bus_db(bus_url: str) -> AsyncIterator[Database]:
    database = Database(make_engine(bus_url))
    try:
        yield database
    finally:
        await database.dispose()


async def test_registry_change_on_the_bus_reaches_the_webhook(bus_db, settings):
    runtime = Runtime(settings, bus_db, [MODULE])
    await runtime.start(background=False)
    try:
        while await runtime.relay_once() > 0:
            pass  # events left by this module's earlier tests
        async with bus_db.session_scope() as session:
            resource = await factories.create_resource(session, code=f"bus-{next(_codes)}")
            await factories.grant(session, resource, "ZWSJJ", fields=["name"])
            _account, zw = await factories.staff(session, "ZWSJJ")
            subscription, secret = await webhooks.create_subscription(
                session, zw, resource_code=resource.code, webhook_url=URL
            )
            person = await factories.person(session, name="孙八")
        await runtime.relay_once()
        async with bus_db.session_scope() as session:
            await emit(
                session,
                "registry.person.changed",
                {
                    "id": str(person.id),
                    "version": 2,
                    "change": "updated",
                    "fields": ["name", "phone"],
                },
            )
        assert await runtime.relay_once() == 1  # the registry event: the handler fans it out
        assert await runtime.relay_once() == 1  # the exchange event it emitted
        endpoint = Endpoint()
        async with bus_db.session_scope() as session:
            topics = (
                (
                    await session.execute(
                        select(OutboxEvent.payload).where(
                            OutboxEvent.topic == f"exchange.resource.{resource.code}.changed"
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert [t["payload"]["values"] for t in topics] == [{"name": "孙八"}]
            report = await webhooks.deliver_due(session, transport=endpoint.transport)
        assert report.delivered == 1
        [request] = endpoint.requests
        assert json.loads(request.content)["values"] == {"name": "孙八"}
        assert request.headers["X-Smartcity-Signature"] == (
            "sha256=" + hmac.new(secret.encode(), request.content, hashlib.sha256).hexdigest()
        )
        async with bus_db.session_scope() as session:
            row = await session.get(Subscription, subscription.id)
            assert row is not None and row.active
    finally:
        await runtime.stop()


async def test_the_job_sends_and_schedules_a_retry(bus_db, settings):
    """The periodic job itself, on a committing database: an unreachable endpoint (a closed
    port on loopback) is a failure with the first backoff, not a crash."""
    runtime = Runtime(settings, bus_db, [MODULE])
    await runtime.start(background=False)
    try:
        while await runtime.relay_once() > 0:
            pass
        async with bus_db.session_scope() as session:
            resource = await factories.create_resource(session, code=f"job-{next(_codes)}")
            await factories.grant(session, resource, "ZWSJJ", fields=["name"])
            _account, zw = await factories.staff(session, "ZWSJJ")
            subscription, _secret = await webhooks.create_subscription(
                session, zw, resource_code=resource.code, webhook_url="http://127.0.0.1:9/hook"
            )
            await change(session, name="周九")
        assert await runtime.run_job("exchange.webhooks.deliver")
        async with bus_db.session_scope() as session:
            [delivery] = (
                (
                    await session.execute(
                        select(WebhookDelivery).where(
                            WebhookDelivery.subscription_id == subscription.id
                        )
                    )
                )
                .scalars()
                .all()
            )
            assert (delivery.status, delivery.attempts) == ("pending", 1)
            assert delivery.last_error.startswith("ConnectError")
            wait = delivery.next_attempt_at - clock.now()
            assert timedelta(seconds=50) < wait <= timedelta(minutes=1)
    finally:
        await runtime.stop()
