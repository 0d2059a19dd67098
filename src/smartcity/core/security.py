"""Authentication: passwords (argon2id), TOTP, JWTs, API keys, browser sessions, and the
dependencies that turn a request into a Principal."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlsplit

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, Unauthenticated
from smartcity.core.i18n import N_, gettext, join_words
from smartcity.core.models import Account, ApiKey, PrincipalKind, WebSession
from smartcity.core.secrets import decrypt, derive_key, encrypt, same, token_hash
from smartcity.core.uow import DbSession
from smartcity.settings import Settings, get_settings

SESSION_COOKIE = "sc_session"
# A random id for a browser that has no session yet (the sign-in form), so its form token is
# bound to something; the token is an HMAC of it, so a cookie an attacker sets is worthless.
PRESESSION_COOKIE = "sc_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_KEY_HEADER = "X-API-Key"
JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "smartcity"
TOTP_ISSUER = "智慧深圳"
# last_used_at is written at most this often, so reads with a key do not all write.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)

# --- passwords ---------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _argon2(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=4)


def _hasher() -> PasswordHasher:
    settings = get_settings()
    return _argon2(settings.argon2_time_cost, settings.argon2_memory_kib)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so timing does not reveal unknown accounts.
        _burn(password)
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _burn(password: str) -> None:
    hasher = _hasher()
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_dummy_hash(hasher.time_cost, hasher.memory_cost), password)


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _argon2(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with a new password (等保: complexity), as msgids for the form."""
    problems = []
    if len(password) < 10:
        problems.append(N_("Use at least 10 characters."))
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if classes < 3:
        problems.append(N_("Mix at least three of: lower case, upper case, digits, symbols."))
    if username and username.lower() in password.lower():
        problems.append(N_("Do not include your user name."))
    return problems


# --- TOTP --------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def seal_totp_secret(settings: Settings, secret: str) -> str:
    return encrypt(settings.resolved_secret(), "totp", secret.encode())


def open_totp_secret(settings: Settings, sealed: str) -> str:
    return decrypt(settings.resolved_secret(), "totp", sealed).decode()


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, at: datetime, last_step: int | None) -> int | None:
    """The time step the code belongs to (±1 step of drift), or None; replays are refused."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(at.timestamp()) // totp.interval
    for step in (current, current - 1, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if same(totp.at(step * totp.interval), code):
            return step
    return None


# --- JWT access tokens -------------------------------------------------------------------


def issue_access_token(settings: Settings, account: Account, *, amr: list[str]) -> str:
    issued = clock.now()
    claims = {
        "sub": str(account.id),
        "kind": account.kind,
        "aud": JWT_AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + timedelta(minutes=settings.access_token_minutes),
        "jti": secrets.token_hex(8),
        "amr": amr,
    }
    return jwt.encode(claims, _jwt_key(settings), algorithm=JWT_ALGORITHM)


def _jwt_key(settings: Settings) -> bytes:
    # Its own derived key: a leaked token key must not open the TOTP or signing-key vaults.
    return derive_key(settings.resolved_secret(), "jwt")


def read_access_token(settings: Settings, token: str) -> uuid.UUID:
    try:
        claims = jwt.decode(
            token,
            _jwt_key(settings),
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
            # now() may be frozen in tests; PyJWT reads the wall clock, so compare ourselves.
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated(
            "The access token has expired; request a new one.", slug="token-expired"
        ) from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("The access token is not valid.", slug="token-invalid") from exc
    if clock.now().timestamp() >= float(claims["exp"]):
        raise Unauthenticated(
            "The access token has expired; request a new one.", slug="token-expired"
        )
    try:
        return uuid.UUID(claims["sub"])
    except ValueError as exc:
        raise Unauthenticated("The access token is not valid.", slug="token-invalid") from exc


# --- API keys ----------------------------------------------------------------------------

API_KEY_PREFIX = "sck"


def new_api_key(secret: bytes | None = None) -> tuple[str, str]:
    """(prefix, full key). The key is shown once; only its hash and prefix are stored. With
    the instance ``secret`` the key is derived from it and the random prefix, so the MQTT
    broker's password of a device can be set again from the database (sensing/dynsec.py)."""
    prefix = secrets.token_hex(6)
    if secret is not None:
        return prefix, derived_api_key(secret, prefix)
    return prefix, f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def derived_api_key(secret: bytes, prefix: str) -> str:
    """The key ``new_api_key(secret)`` issued under ``prefix``: HMAC-SHA256 under a key of its
    own purpose, as long (43 characters) and as unguessable as a random one."""
    mac = hmac.new(derive_key(secret, "api-key"), prefix.encode(), hashlib.sha256).digest()
    return f"{API_KEY_PREFIX}_{prefix}_{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def split_api_key(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


# --- CSRF tokens bound to the browser's session ------------------------------------------


class CsrfRefused(Forbidden):
    status, slug, title = 403, "csrf-failed", "Cross-site request refused"


def csrf_token_for(settings: Settings, *, session_token: str | None, presession: str | None) -> str:
    """The CSRF token of a browser: an HMAC of its session (or pre-session) with the instance
    secret. Nobody without the secret can make one for another browser's cookie."""
    if session_token:
        bound = "session:" + token_hash(session_token)
    elif presession:
        bound = "presession:" + presession
    else:
        return ""
    mac = hmac.new(_csrf_key(settings.resolved_secret()), bound.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode()


@lru_cache(maxsize=4)
def _csrf_key(secret: bytes) -> bytes:
    return derive_key(secret, "csrf")


def request_csrf_token(request: Request) -> str:
    """The token this request's browser must send back with an unsafe request."""
    settings: Settings = request.app.state.settings
    return csrf_token_for(
        settings,
        session_token=request.cookies.get(SESSION_COOKIE),
        presession=request.cookies.get(PRESESSION_COOKIE),
    )


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site. Without either header
    (old browsers, non-browser clients) this proves nothing; the token still has to match."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    settings: Settings = request.app.state.settings
    forwarded = request.headers.get("x-forwarded-host") if settings.trust_proxy_headers else None
    host = forwarded or request.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def check_csrf_token(request: Request, sent: str | None) -> None:
    """Refuses an unsafe browser request from another site or without this browser's token."""
    if not same_origin(request):
        raise CsrfRefused("This request came from another site and was refused.")
    expected = request_csrf_token(request)
    if not expected or not sent or not same(expected, sent):
        raise CsrfRefused(
            f"A request signed in with the browser session must carry the {CSRF_HEADER} header."
        )


# --- resolving the caller ----------------------------------------------------------------


def principal_of(account: Account, via: str) -> Principal:
    return Principal(
        id=account.id,
        kind=account.kind,
        name=account.username,
        department_id=account.department_id,
        roles=frozenset(account.roles or ()),
        via=via,
        display_name=account.display_name or "",
    )


async def _account(session: AsyncSession, account_id: uuid.UUID) -> Account | None:
    account = await session.get(Account, account_id)
    if account is None or not account.active:
        return None
    return account


async def principal_from_api_key(session: AsyncSession, key: str) -> Principal:
    prefix = split_api_key(key)
    invalid = Unauthenticated("The API key is not valid.", slug="api-key-invalid")
    if prefix is None:
        raise invalid
    row = (
        await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))
    ).scalar_one_or_none()
    if row is None or not same(row.key_hash, token_hash(key)):
        raise invalid
    now = clock.now()
    if row.revoked_at is not None:
        raise Unauthenticated("The API key has been revoked.", slug="api-key-revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated("The API key has expired.", slug="api-key-expired")
    account = await _account(session, row.account_id)
    if account is None:
        raise invalid
    if row.last_used_at is None or now - row.last_used_at > API_KEY_TOUCH_INTERVAL:
        row.last_used_at = now
    return principal_of(account, "api_key")


async def session_of_cookie(session: AsyncSession, request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    web = await session.get(WebSession, token_hash(token))
    if web is None or web.expires_at <= clock.now():
        return None
    return web


async def resolve_principal(request: Request, session: AsyncSession) -> Principal | None:
    """Who is calling: bearer JWT or API key, X-API-Key, or a completed browser session."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    settings: Settings = request.app.state.settings
    principal: Principal | None = None
    auth = request.headers.get("Authorization", "")
    api_key = request.headers.get(API_KEY_HEADER)
    if auth:
        scheme, _, credential = auth.partition(" ")
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("Use 'Authorization: Bearer <token or API key>'.")
        if credential.startswith(API_KEY_PREFIX + "_"):
            principal = await principal_from_api_key(session, credential)
        else:
            account = await _account(session, read_access_token(settings, credential))
            if account is None:
                raise Unauthenticated("The account behind this token is not active.")
            principal = principal_of(account, "token")
    elif api_key:
        principal = await principal_from_api_key(session, api_key)
    else:
        web = await session_of_cookie(session, request)
        if web is not None and web.second_factor_done:
            account = await _account(session, web.account_id)
            if account is not None:
                principal = principal_of(account, "session")
    request.state.principal = principal
    return principal


# The order a visitor reads the roles in: the people the page serves first, the
# administrator last (此页面仅供工作人员、监察人员和管理员使用).
ROLE_ORDER = ("citizen", "enterprise", "staff", "supervisor", "auditor", "security", "admin")


def roles_in_words(roles: frozenset[str]) -> str:
    """The roles a page admits, named in the reader's language."""
    ordered = sorted(roles, key=lambda r: (ROLE_ORDER.index(r) if r in ROLE_ORDER else 99, r))
    return join_words([gettext(r) for r in ordered])


PrincipalDependency = Callable[..., Awaitable[Principal]]


def require_principal(*kinds: str | PrincipalKind, csrf: bool = True) -> PrincipalDependency:
    """Layer 1: admit only these principal kinds (or roles). Anonymous: 401; others: 403.
    An unsafe call signed in by the session cookie must also carry the CSRF header; pages
    pass ``csrf=False`` because their forms carry the token in a field instead."""
    allowed = frozenset(str(k) for k in kinds)

    async def dependency(request: Request, session: DbSession) -> Principal:
        principal = await resolve_principal(request, session)
        if principal is None:
            raise Unauthenticated("Sign in, or send a bearer token or an API key.")
        if allowed and not principal.grants & allowed:
            # Pages (csrf=False) speak of a page; an API client asked for no page.
            refusal = (
                N_("This page is for %(roles)s; you are signed in as %(kind)s.")
                if not csrf
                else N_("This is for %(roles)s; you are signed in as %(kind)s.")
            )
            raise Forbidden(
                gettext(refusal)
                % {"roles": roles_in_words(allowed), "kind": gettext(principal.kind)},
                roles=sorted(allowed),
            )
        if csrf:
            _check_api_csrf(request, principal)
        return principal

    dependency.__smartcity_kinds__ = allowed  # type: ignore[attr-defined]
    return dependency


async def optional_principal(request: Request, session: DbSession) -> Principal | None:
    """For public routes that show more to a signed-in caller."""
    principal = await resolve_principal(request, session)
    if principal is not None:
        _check_api_csrf(request, principal)
    return principal


def _check_api_csrf(request: Request, principal: Principal) -> None:
    # Bearer tokens and API keys are never sent by a browser on its own, so only the cookie
    # needs the check.
    if principal.via == "session" and request.method in UNSAFE_METHODS:
        check_csrf_token(request, request.headers.get(CSRF_HEADER))


async def public() -> None:
    """Marks a route as deliberately open to anonymous callers (the route-walking test reads it)."""


public.__smartcity_public__ = True  # type: ignore[attr-defined]

AnyPrincipal = Annotated[Principal, Depends(require_principal())]
StaffPrincipal = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin"))]
AdminPrincipal = Annotated[Principal, Depends(require_principal("admin"))]
AuditorPrincipal = Annotated[Principal, Depends(require_principal("admin", "auditor"))]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
Public = Depends(public)


def describe(principal: Principal | None) -> dict[str, Any]:
    if principal is None:
        return {"kind": "anonymous"}
    return {"id": str(principal.id), "kind": principal.kind, "name": principal.name}
