"""Self-registration (实名注册) and password recovery through a verified phone or e-mail.

A person gives a name and an ID number, which the population registry must confirm (through
the ``PersonRegistry`` declaration the registry makes; core cannot read its tables), and an
address that receives a one-time code (验证码). Codes are six digits, live a few minutes, are
kept only as an HMAC keyed by the instance secret, and die after a few wrong tries. Sending and
checking are rate-limited per address and per client address. Recovery answers the same
whether or not an account has the address, so it reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, events, notifications
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, TooManyRequests
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import InvalidIdentifier, parse_uscc
from smartcity.core.models import Account, AccountContact, OneTimeCode, PrincipalKind, WebSession
from smartcity.core.ratelimit import RateLimiter
from smartcity.core.security import hash_password, password_problems
from smartcity.settings import get_settings

CHANNELS = ("sms", "email")
NAME_MAX = 50
ADDRESS_MAX = 64  # the address becomes the user name (64 characters)
CODE_LENGTH = 6
_PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number
_EMAIL = re.compile(r"^[^@\s]{1,40}@[^@\s]+\.[^@\s]{2,}$")


@dataclass(frozen=True)
class PersonRegistry:
    """What the population registry lends registration: ``match`` gives the id of the
    unlinked living person with this name and ID number, else None (nothing more);
    ``is_linked`` says whether that ID number already has an account; ``link`` ties the new
    account to the person."""

    match: Callable[[AsyncSession, str, str], Awaitable[uuid.UUID | None]]
    is_linked: Callable[[AsyncSession, str], Awaitable[bool]]
    link: Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[None]]


_registry: PersonRegistry | None = None


@dataclass(frozen=True)
class EnterpriseMatch:
    """The legal-entity registry's answer for a code, a name and the signed-in account:
    ``outcome`` is "ok" (then ``organization_id`` and the registered ``name``), or why not:
    "unknown" code, "name" differs, "inactive" entity, "no_person" (the account is not
    linked to a person record), "not_representative", or "registered" (has an account)."""

    outcome: str
    organization_id: uuid.UUID | None = None
    name: str = ""


@dataclass(frozen=True)
class EnterpriseRegistry:
    """What the legal-entity registry (法人库) lends enterprise registration: ``check``
    (session, USCC, name, the representative's account id) and ``link`` (session,
    organization id, the new enterprise account's id, the representative's account id)."""

    check: Callable[[AsyncSession, str, str, uuid.UUID], Awaitable[EnterpriseMatch]]
    link: Callable[[AsyncSession, uuid.UUID, uuid.UUID, uuid.UUID], Awaitable[None]]


_enterprise_registry: EnterpriseRegistry | None = None


def install_enterprise_registry(declared: Sequence[EnterpriseRegistry]) -> None:
    global _enterprise_registry
    _enterprise_registry = declared[-1] if declared else None


def install_person_registry(declared: Sequence[PersonRegistry]) -> None:
    global _registry
    _registry = declared[-1] if declared else None


def person_registry() -> PersonRegistry:
    """The declared population registry (unified identity sign-in asks it too)."""
    if _registry is None:
        raise InvalidInput(_("Registration is not available: no population registry."))
    return _registry


_person_registry = person_registry


# --- rate limits -------------------------------------------------------------------------

_limiters: dict[str, RateLimiter] = {}


def _limiter(name: str, per_hour: int) -> RateLimiter:
    limiter = _limiters.get(name)
    if limiter is None or limiter.capacity != per_hour:
        limiter = _limiters[name] = RateLimiter(per_hour, window_seconds=3600)
    return limiter


def reset_limits() -> None:
    _limiters.clear()


def _check_limit(name: str, per_hour: int, key: str, message: str) -> None:
    # The city clock, so tests that freeze it see buckets fill and refill deterministically.
    wait = _limiter(name, per_hour).hit(key, at=clock.now().timestamp())
    if wait > 0:
        minutes = int(wait // 60) + 1
        raise TooManyRequests(
            message.format(minutes=minutes), headers={"Retry-After": str(int(wait) + 1)}
        )


def _limit_sending(address: str, ip: str) -> None:
    settings = get_settings()
    _check_limit(
        "send-address",
        settings.code_sends_per_address_hour,
        address,
        _("Too many codes were sent to this address. Try again in {minutes} minutes."),
    )
    _check_limit(
        "send-ip",
        settings.code_sends_per_ip_hour,
        ip,
        _("Too many codes were asked for from your network. Try again in {minutes} minutes."),
    )


def _limit_checking(ip: str) -> None:
    _check_limit(
        "check-ip",
        get_settings().code_checks_per_ip_hour,
        ip,
        _("Too many codes were tried from your network. Try again in {minutes} minutes."),
    )


# --- addresses and codes -----------------------------------------------------------------


def normalize_address(channel: str, address: str) -> str:
    """The address in one form, or InvalidInput naming the field."""
    address = address.strip()
    if channel not in CHANNELS:
        raise InvalidInput(_("Choose a mobile phone or an e-mail address."), field="channel")
    if channel == "sms":
        address = address.replace(" ", "").removeprefix("+86")
        if not _PHONE.match(address):
            raise InvalidInput(_("Enter an 11-digit mobile phone number."), field="address")
        return address
    address = address.lower()
    if len(address) > ADDRESS_MAX or not _EMAIL.match(address):
        raise InvalidInput(
            _("Enter an e-mail address like name@example.com (at most 64 characters)."),
            field="address",
        )
    return address


def _code_hash(code_id: uuid.UUID, code: str) -> str:
    key = get_settings().resolved_secret()
    return hmac.new(key, f"{code_id}:{code}".encode(), hashlib.sha256).hexdigest()


async def _issue_code(
    session: AsyncSession,
    *,
    purpose: str,
    channel: str,
    address: str,
    payload: dict[str, str],
    deliver: bool,
) -> uuid.UUID:
    settings = get_settings()
    now = clock.now()
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))
    row = OneTimeCode(
        id=uuid.uuid4(),
        purpose=purpose,
        channel=channel,
        address=address,
        payload=payload,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.code_minutes),
        attempts=0,
    )
    row.code_hash = _code_hash(row.id, code)
    session.add(row)
    await session.flush()
    if deliver:
        subject = (
            _("Your registration code") if purpose == "register" else _("Your password reset code")
        )
        body = _(
            "Your code is {code}. It is valid for {minutes} minutes. "
            "If you did not ask for it, ignore this message."
        ).format(code=code, minutes=settings.code_minutes)
        await notifications.deliver(
            channel, notifications.AddressMessage(address, f"{settings.city_name} {subject}", body)
        )
    return row.id


async def _check_code(
    session: AsyncSession, *, purpose: str, code_id: str, code: str, ip: str
) -> OneTimeCode:
    """The unused, unexpired code row if ``code`` is right; counts a wrong try."""
    _limit_checking(ip)
    wrong = InvalidInput(
        _("That code is not right. Check the message and try again."), field="code"
    )
    code = code.strip()
    if not (len(code) == CODE_LENGTH and code.isascii() and code.isdigit()):
        raise InvalidInput(_("Enter the 6-digit code from the message."), field="code")
    try:
        row_id = uuid.UUID(code_id)
    except ValueError:
        raise wrong from None
    row = await session.get(OneTimeCode, row_id)
    if row is None or row.purpose != purpose or row.used_at is not None:
        raise wrong
    if row.expires_at <= clock.now():
        raise InvalidInput(_("That code has expired. Ask for a new one."), field="code")
    if row.attempts >= get_settings().code_max_attempts:
        raise InvalidInput(_("Too many wrong codes. Ask for a new one."), field="code")
    if not hmac.compare_digest(row.code_hash, _code_hash(row.id, code)):
        row.attempts += 1
        await session.flush()
        if row.attempts >= get_settings().code_max_attempts:
            raise InvalidInput(_("Too many wrong codes. Ask for a new one."), field="code")
        raise wrong
    # The caller marks it used once the rest of the form is good (a weak password keeps it).
    return row


def _check_password(password: str, username: str) -> None:
    problems = password_problems(password, username)
    if problems:
        raise InvalidInput(" ".join(_(p) for p in problems), field="password")


# --- registration (实名注册) ---------------------------------------------------------------


async def start_registration(
    session: AsyncSession, *, name: str, id_number: str, channel: str, address: str, ip: str
) -> uuid.UUID:
    """Check the name and ID number against the population registry and send a code to the
    address; returns the code's id (the form carries it to the next step)."""
    name = name.strip()
    id_number = id_number.strip().upper()
    if not name or len(name) > NAME_MAX:
        raise InvalidInput(_("Enter your name as on your ID card."), field="name")
    if not re.fullmatch(r"\d{17}[\dX]", id_number):
        raise InvalidInput(_("Enter the 18-character resident ID number."), field="id_number")
    address = normalize_address(channel, address)
    _limit_sending(address, ip)
    registry = _person_registry()
    person_id = await registry.match(session, name, id_number)
    if person_id is None:
        if await registry.is_linked(session, id_number):
            raise Conflict(
                _("This person already has an account. Sign in, or reset the password."),
                field="id_number",
            )
        await audit.log(
            session, "anonymous", "core.register.start", address, "failure", ip, reason="no match"
        )
        raise InvalidInput(
            _("The name and ID number do not match the population registry."), field="id_number"
        )
    if await _address_taken(session, channel, address):
        raise Conflict(
            _("An account already uses this address. Sign in, or reset the password."),
            field="address",
        )
    code_id = await _issue_code(
        session,
        purpose="register",
        channel=channel,
        address=address,
        payload={"name": name, "id_number": id_number, "person_id": str(person_id)},
        deliver=True,
    )
    await audit.log(session, "anonymous", "core.register.start", address, ip=ip)
    return code_id


async def _address_taken(session: AsyncSession, channel: str, address: str) -> bool:
    taken = await session.execute(
        select(AccountContact.id).where(
            AccountContact.channel == channel, AccountContact.address == address
        )
    )
    if taken.first() is not None:
        return True
    name_taken = await session.execute(select(Account.id).where(Account.username == address))
    return name_taken.first() is not None


async def complete_registration(
    session: AsyncSession, *, code_id: str, code: str, password: str, ip: str
) -> Account:
    """The code is right: make the citizen account (user name = the address), keep the
    verified address and link the account to the person record."""
    row = await _check_code(session, purpose="register", code_id=code_id, code=code, ip=ip)
    _check_password(password, row.address)
    row.used_at = clock.now()
    registry = _person_registry()
    person_id = await registry.match(session, row.payload["name"], row.payload["id_number"])
    if person_id is None or await _address_taken(session, row.channel, row.address):
        raise Conflict(_("This person or address got an account meanwhile. Sign in instead."))
    now = clock.now()
    account = Account(
        username=row.address,
        display_name=row.payload["name"],
        kind=PrincipalKind.citizen.value,
        roles=[],
        password_hash=hash_password(password),
        password_changed_at=now,
    )
    session.add(account)
    await session.flush()
    session.add(
        AccountContact(
            account_id=account.id, channel=row.channel, address=row.address, verified_at=now
        )
    )
    await registry.link(session, person_id, account.id)
    await session.flush()
    await audit.log(session, account.username, "core.register", account.username, ip=ip)
    await events.ACCOUNT_CREATED.emit(
        session, events.AccountCreated(id=str(account.id), kind=account.kind)
    )
    return account


# --- recovery (找回密码) ------------------------------------------------------------------


async def start_recovery(
    session: AsyncSession, *, channel: str, address: str, ip: str
) -> uuid.UUID:
    """Send a reset code if an active account has this verified address. The answer is a code
    id either way, so the caller cannot tell whether an account exists."""
    address = normalize_address(channel, address)
    _limit_sending(address, ip)
    contact = (
        await session.execute(
            select(AccountContact)
            .join(Account, Account.id == AccountContact.account_id)
            .where(
                AccountContact.channel == channel,
                AccountContact.address == address,
                Account.active.is_(True),
            )
        )
    ).scalar_one_or_none()
    code_id = await _issue_code(
        session,
        purpose="recover",
        channel=channel,
        address=address,
        payload={"account_id": str(contact.account_id)} if contact else {},
        deliver=contact is not None,
    )
    await audit.log(session, "anonymous", "core.recover.start", address, ip=ip)
    return code_id


async def complete_recovery(
    session: AsyncSession, *, code_id: str, code: str, password: str, ip: str
) -> Account:
    row = await _check_code(session, purpose="recover", code_id=code_id, code=code, ip=ip)
    account = (
        await session.get(Account, uuid.UUID(row.payload["account_id"]))
        if row.payload.get("account_id")
        else None
    )
    if account is None or not account.active:
        # Only reachable with the right code of an address without an account: never sent.
        raise InvalidInput(
            _("That code is not right. Check the message and try again."), field="code"
        )
    _check_password(password, account.username)
    row.used_at = clock.now()
    account.password_hash = hash_password(password)
    account.password_changed_at = clock.now()
    account.must_change_password = False
    account.failed_logins = 0
    account.locked_until = None
    # Whoever knew the old password is signed out everywhere.
    for web in (
        await session.execute(select(WebSession).where(WebSession.account_id == account.id))
    ).scalars():
        await session.delete(web)
    await audit.log(session, account.username, "core.recover", account.username, ip=ip)
    return account


# --- enterprise registration (法人注册) ---------------------------------------------------

ENTERPRISE_NAME_MAX = 200


def _enterprise_refusal(match: EnterpriseMatch) -> InvalidInput | Forbidden | Conflict:
    if match.outcome == "unknown":
        return InvalidInput(
            _("The legal-entity registry has no organization with this code."), field="uscc"
        )
    if match.outcome == "name":
        return InvalidInput(
            _("The name is not the organization's registered name. Enter it as on the business "
              "licence."),
            field="name",
        )  # fmt: skip
    if match.outcome == "inactive":
        return InvalidInput(
            _("The organization is revoked or cancelled in the registry; it cannot register."),
            field="uscc",
        )
    if match.outcome == "no_person":
        return Forbidden(
            _("Your account is not linked to your person record. Create your own account with "
              "your real name first, then register the enterprise.")
        )  # fmt: skip
    if match.outcome == "registered":
        return Conflict(
            _("This organization already has an enterprise account. Its legal representative "
              "can have the password reset by the service hall."),
            field="uscc",
        )  # fmt: skip
    return Forbidden(
        _("You are not the registered legal representative of this organization. Only the "
          "legal representative can register it; ask them, or have the registration "
          "corrected at the market regulation bureau."),
        field="uscc",
    )  # fmt: skip


async def register_enterprise(
    session: AsyncSession,
    principal: Principal,
    *,
    uscc: str,
    name: str,
    password: str,
    ip: str,
) -> Account:
    """An enterprise account (user name = the USCC) made by the organization's legal
    representative, signed in with their own real-name citizen account."""
    if principal.kind != PrincipalKind.citizen or principal.id is None:
        raise Forbidden(_("Sign in with your own citizen account to register an enterprise."))
    try:
        code = parse_uscc(uscc.strip().upper()).number
    except InvalidIdentifier:
        raise InvalidInput(
            _("Enter the 18-character unified social credit code (its last character is a "
              "check character)."),
            field="uscc",
        ) from None  # fmt: skip
    name = name.strip()
    if not name or len(name) > ENTERPRISE_NAME_MAX:
        raise InvalidInput(_("Enter the organization's registered name."), field="name")
    _check_password(password, code)
    _check_limit(
        "enterprise-account",
        get_settings().code_sends_per_ip_hour,
        str(principal.id),
        _("Too many enterprise registrations were tried. Try again in {minutes} minutes."),
    )
    if _enterprise_registry is None:
        raise InvalidInput(_("Registration is not available: no legal-entity registry."))
    match = await _enterprise_registry.check(session, code, name, principal.id)
    if match.outcome != "ok" or match.organization_id is None:
        await audit.log(
            session, principal, "core.register.enterprise", code, "failure", ip,
            reason=match.outcome,
        )  # fmt: skip
        raise _enterprise_refusal(match)
    taken = await session.execute(select(Account.id).where(Account.username == code))
    if taken.first() is not None:
        raise _enterprise_refusal(EnterpriseMatch("registered"))
    account = Account(
        username=code,
        display_name=match.name[:100],
        kind=PrincipalKind.enterprise.value,
        roles=[],
        password_hash=hash_password(password),
        password_changed_at=clock.now(),
    )
    session.add(account)
    await session.flush()
    await _enterprise_registry.link(session, match.organization_id, account.id, principal.id)
    await audit.log(
        session, principal, "core.register.enterprise", code, ip=ip, account=account.username
    )
    await events.ACCOUNT_CREATED.emit(
        session, events.AccountCreated(id=str(account.id), kind=account.kind)
    )
    return account
