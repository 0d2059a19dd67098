"""Accounts, departments, sign-in with lockout and TOTP, browser sessions and API keys."""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, events
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, InvalidInput, NotFound
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import (
    MACHINE_KINDS,
    TWO_FACTOR_KINDS,
    Account,
    ApiKey,
    Department,
    PrincipalKind,
    WebSession,
)
from smartcity.core.schemas import AccountCreate, AccountUpdate, DepartmentCreate, DepartmentUpdate
from smartcity.core.secrets import token_hash
from smartcity.core.security import (
    hash_password,
    new_api_key,
    new_totp_secret,
    open_totp_secret,
    password_problems,
    seal_totp_secret,
    totp_step,
    verify_password,
)
from smartcity.settings import get_settings

DEPARTMENT_KINDS = frozenset({PrincipalKind.staff, PrincipalKind.supervisor, PrincipalKind.system})
KNOWN_ROLES = frozenset({"auditor", "security"})
MAX_LOCKOUT = timedelta(hours=24)
# Events of machine credentials; payloads carry ids and key prefixes, never a key.
# The topics' names, for subscribers not yet moved to core.events (declared there once).
API_KEY_ISSUED = events.API_KEY_ISSUED.name
API_KEY_REVOKED = events.API_KEY_REVOKED.name
ACCOUNT_ACTIVE_CHANGED = events.ACCOUNT_ACTIVE_CHANGED.name

ACTIONS = {
    "core.department.manage": {"admin"},
    "core.account.manage": {"admin", "security"},
    "core.api_key.manage": {"admin", "security"},
    "core.audit.read": {"admin", "auditor"},
    "core.calendar.manage": {"admin"},
}
# Registered at import, so every caller of these services (API, pages, CLI, bus) has them.


# --- departments -------------------------------------------------------------------------


def readable_departments() -> Select[Department]:
    """Department names are not secret: every signed-in caller may list them."""
    return select(Department).order_by(Department.code)


async def department_by_code(session: AsyncSession, code: str) -> Department:
    found = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(
            _("There is no department with code {code}.").format(code=code), field="department_code"
        )
    return found


async def create_department(
    session: AsyncSession, principal: Principal, data: DepartmentCreate
) -> Department:
    authorize(principal, "core.department.manage")
    exists = await session.execute(select(Department.id).where(Department.code == data.code))
    if exists.first() is not None:
        raise Conflict(
            _("A department with code {code} already exists.").format(code=data.code), field="code"
        )
    department = Department(code=data.code, name=data.name, name_en=data.name_en)
    session.add(department)
    await session.flush()
    await audit.log(session, principal, "core.department.create", data.code, name=data.name)
    await events.DEPARTMENT_CREATED.emit(
        session, events.DepartmentCreated(id=str(department.id), code=data.code)
    )
    return department


async def update_department(
    session: AsyncSession, principal: Principal, code: str, data: DepartmentUpdate
) -> Department:
    authorize(principal, "core.department.manage")
    department = await department_by_code(session, code)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    for name, value in changes.items():
        setattr(department, name, value)
    await audit.log(session, principal, "core.department.update", code, changes=changes)
    return department


# --- accounts ----------------------------------------------------------------------------


def readable_accounts(principal: Principal) -> Select[Account]:
    """Admins and security officers see every account; others only their own."""
    query = select(Account).order_by(Account.username)
    if principal.is_("admin", "security"):
        return query
    return query.where(Account.id == principal.id)


async def get_account(session: AsyncSession, principal: Principal, username: str) -> Account:
    found = (
        await session.execute(readable_accounts(principal).where(Account.username == username))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no account {username}.").format(username=username))
    return found


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None = None,
    department_id: uuid.UUID | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Account], int]:
    query = readable_accounts(principal)
    if kind:
        query = query.where(Account.kind == kind)
    if department_id:
        query = query.where(Account.department_id == department_id)
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = (await session.execute(query.limit(limit).offset(offset))).scalars().all()
    return list(rows), int(total)


def generate_password() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = (
            "".join(secrets.choice(alphabet) for _ in range(14)) + "-" + secrets.choice("!@#%")
        )
        if not password_problems(candidate, ""):
            return candidate


def _check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - KNOWN_ROLES)
    if unknown:
        raise InvalidInput(
            _("Unknown roles: {roles}. Known roles: {known}.").format(
                roles=", ".join(unknown), known=", ".join(sorted(KNOWN_ROLES))
            ),
            field="roles",
        )
    return sorted(set(roles))


async def create_account(
    session: AsyncSession, principal: Principal, data: AccountCreate
) -> tuple[Account, str | None]:
    """Create an account; returns it with the generated password, if one was generated."""
    authorize(principal, "core.account.manage")
    kind = PrincipalKind(data.kind)
    department_id = None
    if data.department_code:
        department_id = (await department_by_code(session, data.department_code)).id
    elif kind in DEPARTMENT_KINDS:
        raise InvalidInput(
            _("A {kind} account must belong to a department.").format(kind=kind),
            field="department_code",
        )
    taken = await session.execute(select(Account.id).where(Account.username == data.username))
    if taken.first() is not None:
        raise Conflict(
            _("The user name {username} is taken.").format(username=data.username), field="username"
        )
    generated = None
    password_hash = None
    if kind not in MACHINE_KINDS:
        password = data.password
        if password is None:
            password = generated = generate_password()
        problems = password_problems(password, data.username)
        if problems:
            raise InvalidInput(" ".join(_(p) for p in problems), field="password")
        password_hash = hash_password(password)
    account = Account(
        username=data.username,
        display_name=data.display_name,
        kind=kind.value,
        department_id=department_id,
        roles=_check_roles(data.roles),
        password_hash=password_hash,
        password_changed_at=clock.now() if password_hash else None,
        # A generated password was seen by whoever created the account: change it at first use.
        must_change_password=generated is not None,
    )
    session.add(account)
    await session.flush()
    await audit.log(
        session,
        principal,
        "core.account.create",
        data.username,
        kind=kind.value,
        roles=account.roles,
        department=data.department_code,
    )
    await events.ACCOUNT_CREATED.emit(
        session, events.AccountCreated(id=str(account.id), kind=kind.value)
    )
    return account, generated


async def update_account(
    session: AsyncSession, principal: Principal, username: str, data: AccountUpdate
) -> Account:
    authorize(principal, "core.account.manage")
    account = await get_account(session, principal, username)
    changes: dict[str, object] = {}
    if data.display_name is not None:
        account.display_name = changes["display_name"] = data.display_name
    if data.roles is not None:
        roles = _check_roles(data.roles)
        if account.id == principal.id and "security" in account.roles and "security" not in roles:
            raise InvalidInput(_("You cannot remove your own security role."), field="roles")
        changes["roles"] = {"from": account.roles, "to": roles}
        account.roles = roles
    if data.department_code is not None:
        account.department_id = (await department_by_code(session, data.department_code)).id
        changes["department"] = data.department_code
    if data.active is not None:
        if account.id == principal.id and not data.active:
            raise InvalidInput(_("You cannot deactivate your own account."), field="active")
        account.active = changes["active"] = data.active
        if not data.active:
            await session.execute(delete(WebSession).where(WebSession.account_id == account.id))
        # Brokers that hold the account's credentials (sensing/dynsec.py) follow this.
        await events.ACCOUNT_ACTIVE_CHANGED.emit(
            session, events.AccountActiveChanged(id=str(account.id), active=data.active)
        )
    await audit.log(session, principal, "core.account.update", username, changes=changes)
    return account


async def reset_password(session: AsyncSession, principal: Principal, username: str) -> str:
    """A new generated password that must be changed at the next sign-in; also unlocks."""
    authorize(principal, "core.account.manage")
    account = await get_account(session, principal, username)
    if account.kind in MACHINE_KINDS:
        raise InvalidInput(_("System and device accounts use API keys, not passwords."))
    password = generate_password()
    account.password_hash = hash_password(password)
    account.password_changed_at = clock.now()
    account.must_change_password = True
    account.failed_logins = 0
    account.locked_until = None
    await session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    await audit.log(session, principal, "core.account.reset_password", username)
    return password


async def reset_totp(session: AsyncSession, principal: Principal, username: str) -> Account:
    """For a lost authenticator: the account enrols again at its next sign-in."""
    authorize(principal, "core.account.manage")
    account = await get_account(session, principal, username)
    account.totp_secret_enc = None
    account.totp_enabled = False
    account.totp_last_step = None
    await session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    await audit.log(session, principal, "core.account.reset_totp", username)
    return account


async def change_password(
    session: AsyncSession, principal: Principal, *, current: str, new: str, ip: str = ""
) -> None:
    account = await session.get(Account, principal.id)
    if account is None:
        raise NotFound(_("Your account no longer exists."))
    if not verify_password(account.password_hash, current):
        await audit.log(
            session,
            principal,
            "core.account.change_password",
            account.username,
            "failure",
            ip,
            reason="wrong current password",
        )
        raise InvalidInput(_("The current password is wrong."), field="current_password")
    problems = password_problems(new, account.username)
    if verify_password(account.password_hash, new):
        problems.append(N_("Choose a password different from the current one."))
    if problems:
        raise InvalidInput(" ".join(_(p) for p in problems), field="new_password")
    account.password_hash = hash_password(new)
    account.password_changed_at = clock.now()
    account.must_change_password = False
    await audit.log(session, principal, "core.account.change_password", account.username, ip=ip)


# --- signing in --------------------------------------------------------------------------


class SignIn(StrEnum):
    ok = "ok"
    need_totp = "need_totp"  # password right; ask for the code
    need_enrolment = "need_enrolment"  # password right; the kind requires TOTP, none set up
    failed = "failed"
    locked = "locked"


@dataclass
class SignInResult:
    outcome: SignIn
    account: Account | None = None
    locked_until: datetime | None = None


def _lock_for(failures: int, settings_max: int, minutes: int) -> timedelta:
    # Each failure past the limit doubles the lock, so guessing slows to a crawl.
    extra = max(0, failures - settings_max)
    lock: timedelta = timedelta(minutes=minutes) * (2 ** min(extra, 10))
    return min(MAX_LOCKOUT, lock)


async def sign_in(
    session: AsyncSession, username: str, password: str, *, totp: str | None = None, ip: str = ""
) -> SignInResult:
    """Check a password (and a TOTP code if given). Failures are counted and audited, so the
    caller must commit even when it answers 401."""
    now = clock.now()
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    if account is None or not account.active or account.kind in MACHINE_KINDS:
        verify_password(None, password)
        await audit.log(
            session,
            username[:100],
            "core.sign_in",
            username,
            "failure",
            ip,
            reason="unknown or inactive account",
        )
        return SignInResult(SignIn.failed)
    if account.locked_until is not None and account.locked_until > now:
        await audit.log(session, username, "core.sign_in", username, "failure", ip, reason="locked")
        return SignInResult(SignIn.locked, account, account.locked_until)
    if not verify_password(account.password_hash, password):
        return await _count_failure(session, account, ip, "wrong password")
    if account.totp_enabled and totp is not None:
        return await finish_totp(session, account, totp, ip=ip)
    if account.totp_enabled:
        return SignInResult(SignIn.need_totp, account)
    if account.kind in TWO_FACTOR_KINDS:
        return SignInResult(SignIn.need_enrolment, account)
    return await _succeed(session, account, ip, ["pwd"])


async def finish_totp(
    session: AsyncSession, account: Account, code: str, *, ip: str = ""
) -> SignInResult:
    """The second step: the code from the authenticator app."""
    now = clock.now()
    if account.locked_until is not None and account.locked_until > now:
        return SignInResult(SignIn.locked, account, account.locked_until)
    if not account.totp_enabled or not account.totp_secret_enc:
        return SignInResult(SignIn.need_enrolment, account)
    secret = open_totp_secret(get_settings(), account.totp_secret_enc)
    step = totp_step(secret, code, now, account.totp_last_step)
    if step is None:
        return await _count_failure(session, account, ip, "wrong TOTP code")
    account.totp_last_step = step
    return await _succeed(session, account, ip, ["pwd", "otp"])


async def _count_failure(
    session: AsyncSession, account: Account, ip: str, reason: str
) -> SignInResult:
    settings = get_settings()
    account.failed_logins += 1
    outcome = SignIn.failed
    if account.failed_logins >= settings.max_failed_logins:
        account.locked_until = clock.now() + _lock_for(
            account.failed_logins, settings.max_failed_logins, settings.lockout_minutes
        )
        outcome = SignIn.locked
    await audit.log(
        session,
        account.username,
        "core.sign_in",
        account.username,
        "failure",
        ip,
        reason=reason,
        failures=account.failed_logins,
        locked_until=account.locked_until.isoformat() if account.locked_until else None,
    )
    return SignInResult(
        outcome, account, account.locked_until if outcome == SignIn.locked else None
    )


async def _succeed(
    session: AsyncSession, account: Account, ip: str, amr: list[str]
) -> SignInResult:
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = clock.now()
    await audit.log(
        session, account.username, "core.sign_in", account.username, "success", ip, amr=amr
    )
    return SignInResult(SignIn.ok, account)


async def begin_totp_enrolment(session: AsyncSession, account: Account) -> str:
    """A fresh secret, stored sealed but not yet enabled until a code confirms it."""
    if account.totp_enabled:
        raise Conflict(_("Two-factor sign-in is already set up for this account."))
    secret = new_totp_secret()
    account.totp_secret_enc = seal_totp_secret(get_settings(), secret)
    await session.flush()
    return secret


async def confirm_totp_enrolment(
    session: AsyncSession, account: Account, code: str, *, ip: str = ""
) -> bool:
    if account.totp_enabled or not account.totp_secret_enc:
        raise Conflict(_("Start the set-up of two-factor sign-in first."))
    secret = open_totp_secret(get_settings(), account.totp_secret_enc)
    step = totp_step(secret, code, clock.now(), None)
    if step is None:
        await audit.log(
            session, account.username, "core.totp.enrol", account.username, "failure", ip
        )
        return False
    account.totp_enabled = True
    account.totp_last_step = step
    await audit.log(session, account.username, "core.totp.enrol", account.username, ip=ip)
    return True


# --- browser sessions --------------------------------------------------------------------


async def open_web_session(
    session: AsyncSession, account: Account, *, second_factor_done: bool, ip: str = ""
) -> str:
    """A new browser session; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        WebSession(
            token_hash=token_hash(token),
            account_id=account.id,
            second_factor_done=second_factor_done,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=get_settings().session_hours),
            ip=ip[:64],
        )
    )
    await session.flush()
    return token


async def complete_web_session(session: AsyncSession, web: WebSession) -> str:
    """The second factor is done: replace the half session with a full one (new token, so a
    token seen before the second factor is worth nothing after it)."""
    account = await session.get(Account, web.account_id)
    assert account is not None
    await session.delete(web)
    return await open_web_session(session, account, second_factor_done=True, ip=web.ip)


async def close_web_session(session: AsyncSession, token: str | None, *, ip: str = "") -> None:
    if not token:
        return
    web = await session.get(WebSession, token_hash(token))
    if web is None:
        return
    account = await session.get(Account, web.account_id)
    await session.delete(web)
    if account is not None:
        await audit.log(session, account.username, "core.sign_out", account.username, ip=ip)


async def expire_web_sessions(session: AsyncSession) -> None:
    """Job core.sessions.expire: drop sessions past their end."""
    await session.execute(delete(WebSession).where(WebSession.expires_at <= clock.now()))


# --- API keys ----------------------------------------------------------------------------


def readable_api_keys(principal: Principal) -> Select[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.created_at.desc())
    if principal.is_("admin", "security"):
        return query
    return query.where(ApiKey.account_id == principal.id)


async def api_keys_of(
    session: AsyncSession, principal: Principal, account: Account
) -> list[ApiKey]:
    rows = await session.execute(
        readable_api_keys(principal).where(ApiKey.account_id == account.id)
    )
    return list(rows.scalars().all())


async def issue_api_key(
    session: AsyncSession,
    principal: Principal,
    *,
    username: str,
    name: str,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    authorize(principal, "core.api_key.manage")
    account = await get_account(session, principal, username)
    if account.kind not in MACHINE_KINDS:
        raise InvalidInput(
            _(
                "API keys are for system and device accounts; {username} is a {kind} account."
            ).format(username=username, kind=account.kind),
            field="account",
        )
    if expires_at is not None and expires_at <= clock.now():
        raise InvalidInput(_("The expiry must be in the future."), field="expires_at")
    # Derived from the instance secret: the MQTT broker's password of the account is this key
    # and can be set again by `smartcity sensing mqtt-sync` (docs/sensing.md, MQTT).
    prefix, key = new_api_key(get_settings().resolved_secret())
    row = ApiKey(
        account_id=account.id,
        name=name,
        prefix=prefix,
        key_hash=token_hash(key),
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    await audit.log(session, principal, "core.api_key.issue", username, key=prefix, name=name)
    await events.API_KEY_ISSUED.emit(
        session, events.ApiKeyChanged(account_id=str(account.id), prefix=prefix)
    )
    return row, key


async def revoke_api_key(session: AsyncSession, principal: Principal, prefix: str) -> ApiKey:
    authorize(principal, "core.api_key.manage")
    row = (
        await session.execute(readable_api_keys(principal).where(ApiKey.prefix == prefix))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(_("There is no API key {prefix}.").format(prefix=prefix))
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        await audit.log(session, principal, "core.api_key.revoke", prefix)
        await events.API_KEY_REVOKED.emit(
            session, events.ApiKeyChanged(account_id=str(row.account_id), prefix=prefix)
        )
    return row
