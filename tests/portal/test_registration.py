"""Self-registration (实名注册) and recovery through a one-time code: the registry's check of
name and ID number, the code's life and tries, rate limits, the password policy, duplicates,
and e-mail through a real SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts, clock, notifications, registration
from smartcity.core.accounts import SignIn
from smartcity.core.errors import Conflict, InvalidInput, TooManyRequests
from smartcity.core.i18n import current_locale
from smartcity.core.models import Account, AccountContact, OneTimeCode
from smartcity.core.notifications import AddressMessage
from smartcity.core.ratelimit import RateLimiter
from tests.registry import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "Correct-Horse-42"


class Outbox:
    """An address channel that keeps what it was given (the SMS interface, in a test)."""

    kind = "sms"

    def __init__(self) -> None:
        self.sent: list[AddressMessage] = []

    async def deliver(self, message: AddressMessage) -> None:
        self.sent.append(message)

    def last_code(self) -> str:
        found = re.search(r"\b(\d{6})\b", self.sent[-1].body)
        assert found is not None
        return found.group(1)


@pytest.fixture(autouse=True)
def outbox() -> Iterator[Outbox]:
    box = Outbox()
    registration.reset_limits()
    notifications.register_address_channel(box)
    # English messages, so the assertions below can name them.
    token = current_locale.set("en")
    with clock.frozen(T0):
        yield box
    current_locale.reset(token)
    notifications.unregister_address_channel("sms")
    registration.reset_limits()


async def _person(session: AsyncSession) -> Any:
    await factories.source_departments(session)
    return await factories.create_person(session, name="林小雨")


async def _start(session: AsyncSession, person: Any, **overrides: str) -> str:
    args = {
        "name": person.name,
        "id_number": person.id_number,
        "channel": "sms",
        "address": "13800138000",
        "ip": "203.0.113.9",
    } | overrides
    return str(await registration.start_registration(session, **args))


async def test_registration_links_the_person_and_signs_in(
    session: AsyncSession, outbox: Outbox
) -> None:
    person = await _person(session)
    code_id = await _start(session, person)
    assert len(outbox.sent) == 1 and outbox.sent[0].address == "13800138000"
    row = await session.get(OneTimeCode, uuid.UUID(code_id))
    assert row is not None and outbox.last_code() not in row.code_hash  # stored hashed
    account = await registration.complete_registration(
        session, code_id=code_id, code=outbox.last_code(), password=PASSWORD, ip="203.0.113.9"
    )
    assert account.kind == "citizen" and account.display_name == "林小雨"
    await session.refresh(person)
    assert person.account_id == account.id
    contact = (await session.execute(select(AccountContact))).scalar_one()
    assert (contact.channel, contact.address) == ("sms", "13800138000")
    result = await accounts.sign_in(session, "13800138000", PASSWORD)
    assert result.outcome == SignIn.ok


async def test_wrong_name_for_the_id_number_is_refused(
    session: AsyncSession, outbox: Outbox
) -> None:
    person = await _person(session)
    with pytest.raises(InvalidInput) as caught:
        await _start(session, person, name="王大明")
    assert caught.value.extensions["field"] == "id_number"
    assert outbox.sent == []


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("name", {"name": ""}),
        ("id_number", {"id_number": "12345"}),
        ("channel", {"channel": "fax"}),
        ("address", {"address": "12345"}),
        ("address", {"channel": "email", "address": "not-an-address"}),
    ],
)
async def test_bad_fields_are_named(
    session: AsyncSession, field: str, overrides: dict[str, str]
) -> None:
    person = await _person(session)
    with pytest.raises(InvalidInput) as caught:
        await _start(session, person, **overrides)
    assert caught.value.extensions["field"] == field


async def test_bad_code_then_too_many_attempts(session: AsyncSession, outbox: Outbox) -> None:
    person = await _person(session)
    code_id = await _start(session, person)
    right = outbox.last_code()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(InvalidInput, match="not right"):
            await registration.complete_registration(
                session, code_id=code_id, code=wrong, password=PASSWORD, ip="1.2.3.4"
            )
    with pytest.raises(InvalidInput, match="Too many wrong codes"):
        await registration.complete_registration(
            session, code_id=code_id, code=wrong, password=PASSWORD, ip="1.2.3.4"
        )
    # Even the right code is dead now.
    with pytest.raises(InvalidInput, match="Too many wrong codes"):
        await registration.complete_registration(
            session, code_id=code_id, code=right, password=PASSWORD, ip="1.2.3.4"
        )


async def test_expired_code_is_refused(session: AsyncSession, outbox: Outbox) -> None:
    person = await _person(session)
    code_id = await _start(session, person)
    with clock.frozen(T0 + timedelta(minutes=11)), pytest.raises(InvalidInput, match="expired"):
        await registration.complete_registration(
            session, code_id=code_id, code=outbox.last_code(), password=PASSWORD, ip="1.2.3.4"
        )


async def test_weak_password_is_refused_and_the_code_kept(
    session: AsyncSession, outbox: Outbox
) -> None:
    person = await _person(session)
    code_id = await _start(session, person)
    with pytest.raises(InvalidInput) as caught:
        await registration.complete_registration(
            session, code_id=code_id, code=outbox.last_code(), password="short", ip="1.2.3.4"
        )
    assert caught.value.extensions["field"] == "password"
    assert (await session.execute(select(Account).where(Account.kind == "citizen"))).first() is None
    account = await registration.complete_registration(
        session, code_id=code_id, code=outbox.last_code(), password=PASSWORD, ip="1.2.3.4"
    )
    # A used code cannot make a second account.
    with pytest.raises(InvalidInput, match="not right"):
        await registration.complete_registration(
            session, code_id=code_id, code=outbox.last_code(), password=PASSWORD, ip="1.2.3.4"
        )
    assert account.username == "13800138000"


async def test_duplicate_person_and_address_are_refused(
    session: AsyncSession, outbox: Outbox
) -> None:
    person = await _person(session)
    code_id = await _start(session, person)
    await registration.complete_registration(
        session, code_id=code_id, code=outbox.last_code(), password=PASSWORD, ip="1.2.3.4"
    )
    with pytest.raises(Conflict) as caught:
        await _start(session, person, address="13900139000")
    assert caught.value.extensions["field"] == "id_number"
    other = await factories.create_person(session, name="周一鸣")
    with pytest.raises(Conflict) as caught:
        await _start(session, other)
    assert caught.value.extensions["field"] == "address"


async def test_sending_is_rate_limited_per_address_and_per_ip(session: AsyncSession) -> None:
    person = await _person(session)
    for _ in range(5):
        await _start(session, person)
    with pytest.raises(TooManyRequests, match="this address") as caught:
        await _start(session, person)
    assert caught.value.headers["Retry-After"]
    # Another address from the same network goes on until the network's limit.
    for i in range(15):
        await _start(session, person, address=f"1390013{i:04d}")
    with pytest.raises(TooManyRequests, match="your network"):
        await _start(session, person, address="13700137000")
    # An hour later the buckets have refilled.
    with clock.frozen(T0 + timedelta(hours=1)):
        await _start(session, person)


def test_hourly_bucket_refills() -> None:
    limiter = RateLimiter(2, window_seconds=3600)
    assert limiter.hit("a", at=0) == 0 and limiter.hit("a", at=1) == 0
    assert limiter.hit("a", at=2) > 0
    assert limiter.hit("a", at=1802) == 0


async def test_recovery_resets_the_password_and_reveals_nothing(
    session: AsyncSession, outbox: Outbox
) -> None:
    person = await _person(session)
    code_id = await _start(session, person)
    await registration.complete_registration(
        session, code_id=code_id, code=outbox.last_code(), password=PASSWORD, ip="1.2.3.4"
    )
    unknown = await registration.start_recovery(
        session, channel="sms", address="13911112222", ip="1.2.3.4"
    )
    assert unknown and len(outbox.sent) == 1  # an id as for anyone, and nothing sent
    with pytest.raises(InvalidInput, match="not right"):
        await registration.complete_recovery(
            session, code_id=str(unknown), code="123456", password="New-Password-77", ip="1.2.3.4"
        )
    recover_id = await registration.start_recovery(
        session, channel="sms", address="13800138000", ip="1.2.3.4"
    )
    assert len(outbox.sent) == 2
    await registration.complete_recovery(
        session,
        code_id=str(recover_id),
        code=outbox.last_code(),
        password="New-Password-77",
        ip="1.2.3.4",
    )
    assert (await accounts.sign_in(session, "13800138000", PASSWORD)).outcome == SignIn.failed
    result = await accounts.sign_in(session, "13800138000", "New-Password-77")
    assert result.outcome == SignIn.ok


class _Keep:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, _Keep]]:
    keep = _Keep()
    with socket.socket() as probe:  # a free port: aiosmtpd checks readiness by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, keep
    controller.stop()


async def test_code_by_email_through_a_real_smtp_server(
    session: AsyncSession, smtp_server: tuple[Controller, _Keep]
) -> None:
    controller, keep = smtp_server
    port = controller.port
    notifications.register_address_channel(
        notifications.SmtpChannel("127.0.0.1", port, sender="noreply@city.example", starttls=False)
    )
    try:
        person = await _person(session)
        code_id = await _start(session, person, channel="email", address="Lin@Example.com")
    finally:
        notifications.unregister_address_channel("email")
    assert len(keep.messages) == 1
    envelope = keep.messages[0]
    assert envelope.rcpt_tos == ["lin@example.com"]
    mail = message_from_bytes(envelope.content)
    assert mail["From"] == "noreply@city.example"
    body = mail.get_payload(decode=True).decode()
    code = re.search(r"\b(\d{6})\b", body)
    assert code is not None
    account = await registration.complete_registration(
        session, code_id=code_id, code=code.group(1), password=PASSWORD, ip="1.2.3.4"
    )
    assert account.username == "lin@example.com"


def test_smtp_channel_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from smartcity.settings import get_settings

    settings = get_settings()
    assert isinstance(notifications.address_channel("email"), notifications.LoggingAddressChannel)
    monkeypatch.setattr(settings, "smtp_host", "mail.city.example")
    channel = notifications.address_channel("email")
    assert isinstance(channel, notifications.SmtpChannel)
    assert (channel.host, channel.port, channel.starttls) == ("mail.city.example", 587, True)
