"""Signing in through the city's unified identity provider (统一身份认证), OpenID Connect.

The authorization code flow with PKCE (S256), a single-use ``state`` bound to the browser
that started the sign-in, and a ``nonce`` the ID token must carry. The provider's endpoints
come from its discovery document; the ID token's signature is checked against its JWKS (kept
for ``oidc_jwks_minutes``, fetched again at once when a token names an unknown key, which is
how providers roll their keys), and its iss, aud, exp, iat and nonce with joserfc. Every
answer of the provider is bounded in size and time; when it is down or answers nonsense the
caller gets ``IdentityProviderUnavailable`` (a page that says so), never a 500.

Which account a provider identity signs in (docs/security.md, unified identity):
an issuer + subject already in ``identity_link`` signs in its account; an account signed in
here may link itself (from its account page); otherwise, when the provider asserts a name and
a resident ID number that the population registry confirms for a living person without an
account, a citizen account is made for that person (the same check as 实名注册). Anything
else is refused with what to do instead. Staff kinds still enter their TOTP code unless the
provider's ``acr`` is one the operator listed in ``oidc_mfa_acr_values``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock, events, registration
from smartcity.core.errors import Conflict, NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.models import (
    MACHINE_KINDS,
    TWO_FACTOR_KINDS,
    Account,
    IdentityLink,
    OidcLogin,
    PrincipalKind,
)
from smartcity.core.secrets import token_hash
from smartcity.settings import Settings, get_settings

# Bounds on what the provider sends: a discovery document or a key set is a few KiB.
MAX_RESPONSE_BYTES = 256 * 1024
MAX_TOKEN_CHARS = 16 * 1024
MAX_PARAM_CHARS = 2048
METADATA_SECONDS = 3600.0
JWKS_REFRESH_FLOOR_SECONDS = 60.0
LEEWAY_SECONDS = 60
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256")
BROWSER_COOKIE = "smartcity_oidc"


class IdentityProviderUnavailable(Problem):
    status, slug, title = 503, "identity-provider-unavailable", "Identity provider unavailable"


class IdentitySignInRefused(Problem):
    """The provider's answer could not be trusted or used (state, code, token)."""

    status, slug, title = 400, "identity-sign-in-failed", "Sign-in through the provider failed"


class IdentityNotLinked(Problem):
    """A proven identity with no account here and nothing to make one from."""

    status, slug, title = 403, "identity-not-linked", "No account for this identity"


# --- talking to the provider -------------------------------------------------------------

# Tests may route the provider's traffic elsewhere (httpx.MockTransport).
_transport: httpx.AsyncBaseTransport | None = None


def use_transport(transport: httpx.AsyncBaseTransport | None) -> None:
    global _transport
    _transport = transport
    reset_caches()


def _client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=settings.oidc_timeout_seconds, follow_redirects=False, transport=_transport
    )


def _unavailable(reason: str) -> IdentityProviderUnavailable:
    return IdentityProviderUnavailable(
        _(
            "The unified identity service cannot be reached right now. Try again later, "
            "or sign in with your user name and password."
        ),
        reason=reason[:200],
    )


async def _fetch_json(
    client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """(status, JSON object) of a provider answer read to at most MAX_RESPONSE_BYTES."""
    try:
        async with client.stream(method, url, **kwargs) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > MAX_RESPONSE_BYTES:
                    raise _unavailable(f"answer of {url} larger than {MAX_RESPONSE_BYTES} bytes")
            status = response.status_code
    except httpx.HTTPError as exc:
        raise _unavailable(f"{type(exc).__name__} from {url}") from None
    if status >= 500:
        raise _unavailable(f"HTTP {status} from {url}")
    try:
        data = json.loads(body)
    except ValueError:
        raise _unavailable(f"no JSON from {url}") from None
    if not isinstance(data, dict):
        raise _unavailable(f"no JSON object from {url}")
    return status, data


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None


@dataclass
class _KeyCache:
    keys: KeySet
    fetched_at: float
    kids: frozenset[str] = field(default_factory=frozenset)


_metadata: dict[str, tuple[ProviderMetadata, float]] = {}
_jwks: dict[str, _KeyCache] = {}


def reset_caches() -> None:
    _metadata.clear()
    _jwks.clear()


def _endpoint(document: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = document.get(name)
    if value is None and not required:
        return None
    if not (
        isinstance(value, str)
        and len(value) <= MAX_PARAM_CHARS
        and re.match(r"^https?://[^\s]+$", value)
    ):
        raise _unavailable(f"discovery document: bad {name}")
    return value


async def metadata(settings: Settings | None = None) -> ProviderMetadata:
    """The provider's endpoints from /.well-known/openid-configuration, kept an hour."""
    settings = settings or get_settings()
    issuer = settings.oidc_issuer
    cached = _metadata.get(issuer)
    if cached is not None and time.monotonic() - cached[1] < METADATA_SECONDS:
        return cached[0]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    async with _client(settings) as client:
        status, document = await _fetch_json(client, "GET", url)
    if status != 200:
        raise _unavailable(f"HTTP {status} from {url}")
    # OpenID Connect Discovery 1.0 §4.3: the document's issuer is exactly the one configured.
    if document.get("issuer") != issuer:
        raise _unavailable("discovery document names another issuer")
    found = ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=str(_endpoint(document, "authorization_endpoint")),
        token_endpoint=str(_endpoint(document, "token_endpoint")),
        jwks_uri=str(_endpoint(document, "jwks_uri")),
        userinfo_endpoint=_endpoint(document, "userinfo_endpoint", required=False),
    )
    _metadata[issuer] = (found, time.monotonic())
    return found


async def _key_set(settings: Settings, meta: ProviderMetadata, *, wanted_kid: str | None) -> KeySet:
    """The provider's keys; fetched again when stale, or when a token names a key id the
    cached set lacks (rotation) and the last fetch is at least a minute old."""
    cached = _jwks.get(meta.jwks_uri)
    now = time.monotonic()
    fresh = cached is not None and now - cached.fetched_at < settings.oidc_jwks_minutes * 60
    unknown_kid = cached is not None and wanted_kid is not None and wanted_kid not in cached.kids
    if cached is not None and fresh and not unknown_kid:
        return cached.keys
    if cached is not None and fresh and now - cached.fetched_at < JWKS_REFRESH_FLOOR_SECONDS:
        return cached.keys  # a flood of unknown kids must not become a flood of fetches
    async with _client(settings) as client:
        status, document = await _fetch_json(client, "GET", meta.jwks_uri)
    if status != 200 or not isinstance(document.get("keys"), list):
        raise _unavailable(f"HTTP {status} or no keys from the JWKS")
    try:
        public = {"keys": [k for k in document["keys"][:50] if isinstance(k, dict)]}
        keys = KeySet.import_key_set(public)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError):
        raise _unavailable("the JWKS cannot be read") from None
    kids = frozenset(str(k["kid"]) for k in public["keys"] if "kid" in k)
    _jwks[meta.jwks_uri] = _KeyCache(keys, now, kids)
    return keys


def _refused(detail: str, reason: str) -> IdentitySignInRefused:
    return IdentitySignInRefused(detail, reason=reason[:200])


def _token_header(id_token: str) -> dict[str, Any]:
    try:
        import base64

        part = id_token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError):
        header = None
    if not isinstance(header, dict):
        raise _refused(_("The identity service sent a token that cannot be read."), "header")
    return header


async def verify_id_token(
    id_token: str, *, nonce: str, settings: Settings | None = None
) -> dict[str, Any]:
    """The claims of an ID token whose signature, iss, aud (and azp), exp, iat and nonce are
    right (OpenID Connect Core 1.0 §3.1.3.7), else IdentitySignInRefused."""
    settings = settings or get_settings()
    bad = _("The identity service sent a token that is not valid. Start the sign-in again.")
    if not isinstance(id_token, str) or len(id_token) > MAX_TOKEN_CHARS:
        raise _refused(bad, "ID token missing or too long")
    meta = await metadata(settings)
    header = _token_header(id_token)
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    keys = await _key_set(settings, meta, wanted_kid=kid)
    try:
        token = jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
    except JoseError as exc:
        raise _refused(bad, f"signature: {type(exc).__name__}") from None
    claims = dict(token.claims)
    registry = JWTClaimsRegistry(
        now=int(clock.now().timestamp()),
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": meta.issuer},
        aud={"essential": True, "value": settings.oidc_client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise _refused(bad, f"claims: {exc}") from None
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    if several and claims.get("azp") != settings.oidc_client_id:
        raise _refused(bad, "several audiences and azp is not this client")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise _refused(bad, "subject missing or longer than 255")
    return claims


# --- the flow ----------------------------------------------------------------------------


def _require_enabled(settings: Settings) -> None:
    if not settings.oidc_enabled:
        raise NotFound(_("Sign-in through the unified identity service is not set up here."))


async def begin(
    session: AsyncSession,
    *,
    redirect_uri: str,
    next_path: str = "/",
    link_account_id: uuid.UUID | None = None,
) -> tuple[str, str]:
    """Start a sign-in: (the provider's authorization URL, the browser cookie's value)."""
    settings = get_settings()
    _require_enabled(settings)
    meta = await metadata(settings)
    # Sign-ins that never came back from the provider go as new ones start.
    await session.execute(delete(OidcLogin).where(OidcLogin.expires_at <= clock.now()))
    state, nonce, browser = (secrets.token_urlsafe(32) for _ in range(3))
    verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 wants 43 to 128
    now = clock.now()
    session.add(
        OidcLogin(
            state_hash=token_hash(state),
            browser_hash=token_hash(browser),
            nonce=nonce,
            code_verifier=verifier,
            next_path=next_path[:300],
            link_account_id=link_account_id,
            created_at=now,
            expires_at=now + timedelta(minutes=settings.oidc_login_minutes),
        )
    )
    await session.flush()
    params = [
        ("response_type", "code"),
        ("client_id", settings.oidc_client_id),
        ("redirect_uri", redirect_uri),
        ("scope", settings.oidc_scopes),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", create_s256_code_challenge(verifier)),
        ("code_challenge_method", "S256"),
    ]
    if settings.oidc_mfa_acr_values:
        # Ask for the sign-in strength whose acr counts as the staff's second factor
        # (OpenID Connect Core §3.1.2.1, a voluntary claim: the ID token says what it got).
        params.append(("acr_values", settings.oidc_mfa_acr_values))
    return add_params_to_uri(meta.authorization_endpoint, params), browser


@dataclass(frozen=True)
class ProviderIdentity:
    issuer: str
    subject: str
    name: str | None
    id_number: str | None
    acr: str | None
    amr: tuple[str, ...]


def _claim_text(claims: dict[str, Any], name: str, limit: int) -> str | None:
    value = claims.get(name) if name else None
    if isinstance(value, str) and 0 < len(value.strip()) <= limit:
        return value.strip()
    return None


async def finish(
    session: AsyncSession,
    *,
    state: str,
    code: str,
    error: str,
    browser_token: str | None,
    redirect_uri: str,
) -> tuple[ProviderIdentity, OidcLogin]:
    """The callback: check state and browser, exchange the code (with the PKCE verifier),
    verify the ID token, and read the person's claims (from the userinfo endpoint too, when
    the ID token lacks them)."""
    settings = get_settings()
    _require_enabled(settings)
    expired = _("This sign-in has expired or was already used. Start again.")
    if not state or len(state) > MAX_PARAM_CHARS:
        raise _refused(expired, "no state")
    row = await session.get(OidcLogin, token_hash(state))
    if row is None:
        raise _refused(expired, "unknown or used state")
    # Used once, whatever happens next: a replayed callback finds nothing.
    await session.delete(row)
    await session.flush()
    if row.expires_at <= clock.now():
        raise _refused(expired, "state expired")
    if not browser_token or not secrets.compare_digest(row.browser_hash, token_hash(browser_token)):
        raise _refused(
            _("This sign-in was started in another browser. Start again here."), "browser"
        )
    if error:
        raise _refused(
            _("The identity service did not sign you in ({error}).").format(error=error[:60]),
            "provider error",
        )
    if not code or len(code) > MAX_PARAM_CHARS:
        raise _refused(expired, "no code")
    meta = await metadata(settings)
    async with _client(settings) as client:
        status, answer = await _fetch_json(
            client,
            "POST",
            meta.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": row.code_verifier,
            },
            auth=(settings.oidc_client_id, settings.oidc_client_secret.get_secret_value()),
            headers={"Accept": "application/json"},
        )
        if status != 200:
            # invalid_grant: a code used twice, expired, or meant for another client.
            raise _refused(expired, f"token endpoint: HTTP {status} {answer.get('error')}")
        claims = await verify_id_token(str(answer.get("id_token", "")), nonce=row.nonce)
        access_token = answer.get("access_token")
        wants_userinfo = _claim_text(claims, settings.oidc_name_claim, 50) is None or (
            settings.oidc_id_number_claim
            and _claim_text(claims, settings.oidc_id_number_claim, 18) is None
        )
        if wants_userinfo and meta.userinfo_endpoint and isinstance(access_token, str):
            status, info = await _fetch_json(
                client,
                "GET",
                meta.userinfo_endpoint,
                headers={"Authorization": f"Bearer {access_token[:MAX_TOKEN_CHARS]}"},
            )
            # OpenID Connect Core §5.3.2: userinfo of another subject must not be used.
            if status == 200 and info.get("sub") == claims["sub"]:
                claims = {**info, **claims}
    amr = claims.get("amr")
    return (
        ProviderIdentity(
            issuer=meta.issuer,
            subject=claims["sub"],
            name=_claim_text(claims, settings.oidc_name_claim, registration.NAME_MAX),
            id_number=_claim_text(claims, settings.oidc_id_number_claim, 18),
            acr=_claim_text(claims, "acr", 200),
            amr=tuple(str(m)[:20] for m in amr[:10]) if isinstance(amr, list) else (),
        ),
        row,
    )


# --- which account -----------------------------------------------------------------------


@dataclass(frozen=True)
class IdentitySignIn:
    account: Account
    # "done": signed in; "totp" / "enrol": a staff kind that still owes its second factor;
    # "linked": a signed-in account linked itself (its session goes on).
    outcome: str
    created: bool = False


async def _username_for(session: AsyncSession, identity: ProviderIdentity) -> str:
    """A short user name from the identity (shown in the page header): longer only if a
    shorter one is taken."""
    digest = hashlib.sha256(f"{identity.issuer}\n{identity.subject}".encode()).hexdigest()
    for length in (10, 16, 24, 60):
        candidate = f"sso-{digest[:length]}"
        taken = await session.execute(select(Account.id).where(Account.username == candidate))
        if taken.first() is None:
            break
    return candidate


async def _link_of(session: AsyncSession, identity: ProviderIdentity) -> IdentityLink | None:
    found = await session.execute(
        select(IdentityLink).where(
            IdentityLink.issuer == identity.issuer, IdentityLink.subject == identity.subject
        )
    )
    return found.scalar_one_or_none()


async def _add_link(
    session: AsyncSession, identity: ProviderIdentity, account: Account, ip: str, via: str
) -> None:
    session.add(
        IdentityLink(
            account_id=account.id,
            issuer=identity.issuer,
            subject=identity.subject,
            created_at=clock.now(),
            last_used_at=clock.now(),
        )
    )
    await session.flush()
    await audit.log(
        session,
        account.username,
        "core.identity.link",
        account.username,
        ip=ip,
        issuer=identity.issuer,
        via=via,
    )


def _second_factor(account: Account, identity: ProviderIdentity, settings: Settings) -> str:
    if account.kind not in TWO_FACTOR_KINDS:
        return "done"
    trusted = set(settings.oidc_mfa_acr_values.split())
    if identity.acr is not None and identity.acr in trusted:
        return "done"
    return "totp" if account.totp_enabled else "enrol"


async def sign_in(
    session: AsyncSession,
    identity: ProviderIdentity,
    *,
    link_account_id: uuid.UUID | None,
    ip: str,
) -> IdentitySignIn:
    """Which account this proven identity signs in (see the module's docstring)."""
    settings = get_settings()
    link = await _link_of(session, identity)
    if link_account_id is not None:
        account = await session.get(Account, link_account_id)
        if account is None or not account.active:
            raise _refused(_("Your sign-in has expired; start again."), "linking account gone")
        if link is not None and link.account_id != account.id:
            raise Conflict(
                _("This identity is already linked to another account here."),
            )
        if link is None:
            await _add_link(session, identity, account, ip, "account page")
        return IdentitySignIn(account, "linked")
    created = False
    if link is not None:
        account = await session.get(Account, link.account_id)
        if account is None or not account.active or account.kind in MACHINE_KINDS:
            raise IdentityNotLinked(_("The account linked to this identity is not active."))
        if account.locked_until is not None and account.locked_until > clock.now():
            raise IdentityNotLinked(
                _("The account is locked after failed sign-ins; try again later.")
            )
        link.last_used_at = clock.now()
    else:
        account = await _register(session, identity, ip)
        created = True
    outcome = _second_factor(account, identity, settings)
    if outcome == "done":
        account.failed_logins = 0
        account.last_login_at = clock.now()
    await audit.log(
        session,
        account.username,
        "core.sign_in",
        account.username,
        "success" if outcome == "done" else "pending",
        ip,
        amr=["oidc", *identity.amr],
        issuer=identity.issuer,
        acr=identity.acr,
    )
    return IdentitySignIn(account, outcome, created)


async def _register(session: AsyncSession, identity: ProviderIdentity, ip: str) -> Account:
    """A citizen account for a person the provider names and the population registry
    confirms; else IdentityNotLinked saying what to do."""
    not_linked = _(
        "No account here is linked to your unified identity yet. Sign in with your user name "
        "and password and link it on your account page, or create an account."
    )
    if identity.name is None or identity.id_number is None:
        await audit.log(
            session, "anonymous", "core.identity.register", identity.subject[:100], "failure",
            ip, reason="no name or ID number from the provider",
        )  # fmt: skip
        raise IdentityNotLinked(not_linked)
    id_number = identity.id_number.upper()
    if not re.fullmatch(r"\d{17}[\dX]", id_number):
        raise IdentityNotLinked(not_linked, reason="ID number claim is not 18 characters")
    registry = registration.person_registry()
    person_id = await registry.match(session, identity.name, id_number)
    if person_id is None:
        reason = "already linked" if await registry.is_linked(session, id_number) else "no match"
        await audit.log(
            session, "anonymous", "core.identity.register", identity.subject[:100], "failure",
            ip, reason=reason,
        )  # fmt: skip
        if reason == "already linked":
            raise IdentityNotLinked(
                _(
                    "You already have an account here. Sign in with your user name and password "
                    "(or reset it), then link your unified identity on your account page."
                )
            )
        raise IdentityNotLinked(
            _(
                "The name and ID number the identity service gave do not match the population "
                "registry. Ask the service hall to check your record."
            )
        )
    now = clock.now()
    account = Account(
        username=await _username_for(session, identity),
        display_name=identity.name,
        kind=PrincipalKind.citizen.value,
        roles=[],
        password_hash=None,  # signs in through the provider, or sets a password via recovery
        last_login_at=now,
    )
    session.add(account)
    await session.flush()
    await registry.link(session, person_id, account.id)
    await _add_link(session, identity, account, ip, "first sign-in")
    await audit.log(session, account.username, "core.register", account.username, ip=ip, via="oidc")
    await events.ACCOUNT_CREATED.emit(
        session, events.AccountCreated(id=str(account.id), kind=account.kind)
    )
    return account


async def links_of(session: AsyncSession, account_id: uuid.UUID) -> list[IdentityLink]:
    found = await session.execute(select(IdentityLink).where(IdentityLink.account_id == account_id))
    return list(found.scalars())
