"""Unified identity sign-in against a real OpenID Connect provider (panva's oidc-provider,
started by the test on a free port): the whole code flow with PKCE, first sign-in making a
citizen account from the registry check, linking an existing account, staff still owing
TOTP, and the refusals: wrong state, another browser, a replayed code, an identity with no
account, a provider that is down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cli import cli_principal
from smartcity.core import accounts, oidc, registration
from smartcity.core.ids import make_resident_id
from smartcity.core.models import Account, AuditEntry, IdentityLink
from smartcity.core.schemas import AccountCreate
from smartcity.core.security import seal_totp_secret
from smartcity.settings import Settings
from tests.core.test_pages import HTML, csrf_of
from tests.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider, start_provider
from tests.registry import factories

CALLBACK = "http://testserver/login/oidc/callback"
PERSON_ID = make_resident_id("440303", date(1990, 5, 17), 123)
OTHER_ID = make_resident_id("440304", date(1985, 1, 2), 45)
PASSWORD = "Correct-Horse-42"
ACCOUNTS = {
    "sub-citizen": {"name": "林小雨", "id_number": PERSON_ID},
    "sub-stranger": {"name": "王大明", "id_number": OTHER_ID},
    "sub-anonymous": {"name": "", "id_number": ""},
    "sub-linker": {"name": "", "id_number": ""},
    "sub-staff": {"name": "", "id_number": ""},
}


@pytest.fixture(scope="module")
def provider() -> Iterator[LocalProvider]:
    yield from start_provider(ACCOUNTS, [CALLBACK])


@pytest.fixture(autouse=True)
def configured(settings: Settings, provider: LocalProvider) -> Iterator[None]:
    before = settings.model_dump()
    settings.oidc_issuer = provider.issuer
    settings.oidc_client_id = CLIENT_ID
    settings.oidc_client_secret = SecretStr(CLIENT_SECRET)
    settings.oidc_scopes = "openid profile idcard"
    settings.oidc_id_number_claim = "id_number"
    oidc.reset_caches()
    registration.reset_limits()
    yield
    for name in ("oidc_issuer", "oidc_client_id", "oidc_client_secret", "oidc_scopes"):
        setattr(settings, name, before[name])
    settings.oidc_id_number_claim = before["oidc_id_number_claim"]
    settings.oidc_mfa_acr_values = before["oidc_mfa_acr_values"]
    oidc.reset_caches()


async def at_provider(
    client: httpx.AsyncClient, subject: str, *, acr: str = "", start: httpx.Response | None = None
) -> str:
    """Start at /login/oidc (or from ``start``), sign in at the provider as ``subject``, and
    return the callback URL the provider sends the browser back to (not yet followed)."""
    r = start or await client.get("/login/oidc", headers=HTML)
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert "code_challenge_method=S256" in location and "nonce=" in location
    async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
        r = await browser.get(location)
        for _ in range(10):
            if r.status_code in (302, 303):
                location = str(r.url.join(r.headers["location"]))
                if location.startswith("http://testserver/"):
                    return location
                r = await browser.get(location)
            elif r.status_code == 200 and "/interaction/" in str(r.url):
                r = await browser.post(str(r.url), data={"login": subject, "acr": acr})
            else:
                raise AssertionError(f"unexpected answer {r.status_code} at {r.url}: {r.text}")
    raise AssertionError("the provider never sent the browser back")


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def _person(session: AsyncSession) -> Any:
    await factories.source_departments(session)
    return await factories.create_person(session, name="林小雨", id_number=PERSON_ID)


async def test_first_sign_in_makes_the_citizen_account_then_signs_it_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    person = await _person(session)
    await session.commit()
    callback = await at_provider(client, "sub-citizen")
    r = await client.get(_path(callback), headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/account?welcome=1", r.text
    r = await client.get("/account", headers=HTML)
    assert r.status_code == 200 and "林小雨" in r.text
    link = (await session.execute(select(IdentityLink))).scalar_one()
    account = await session.get(Account, link.account_id)
    assert account is not None and account.kind == "citizen" and account.password_hash is None
    await session.refresh(person)
    assert person.account_id == account.id
    # The second time the link signs the same account in; no new account.
    client.cookies.clear()
    r = await client.get(_path(await at_provider(client, "sub-citizen")), headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (await session.execute(select(Account).where(Account.kind == "citizen"))).all() == [
        (account,)
    ]
    signed = (
        await session.execute(
            select(AuditEntry).where(
                AuditEntry.action == "core.sign_in", AuditEntry.actor == account.username
            )
        )
    ).scalars()
    assert [e.detail["amr"][0] for e in signed] == ["oidc", "oidc"]


async def test_login_page_offers_the_button_only_when_configured(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    r = await client.get("/login", headers=HTML)
    assert 'href="/login/oidc?next=' in r.text
    settings.oidc_issuer = ""
    r = await client.get("/login", headers=HTML)
    assert "/login/oidc" not in r.text
    r = await client.get("/login/oidc", headers=HTML)
    assert r.status_code == 404


async def test_replayed_callback_and_wrong_state_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _person(session)
    await session.commit()
    callback = await at_provider(client, "sub-citizen")
    assert (await client.get(_path(callback), headers=HTML)).status_code == 303
    again = await client.get(_path(callback), headers=HTML)
    assert again.status_code == 400 and "identity-sign-in-failed" in again.text
    code = dict(p.split("=", 1) for p in urlsplit(callback).query.split("&"))["code"]
    r = await client.get(f"/login/oidc/callback?state=forged&code={code}", headers=HTML)
    assert r.status_code == 400 and "identity-sign-in-failed" in r.text


async def test_a_code_replayed_with_a_new_state_is_refused_by_the_provider(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await _person(session)
    await session.commit()
    first = await at_provider(client, "sub-citizen")
    assert (await client.get(_path(first), headers=HTML)).status_code == 303
    code = dict(p.split("=", 1) for p in urlsplit(first).query.split("&"))["code"]
    # A second sign-in's own state, with the first sign-in's (spent) code.
    start = await client.get("/login/oidc", headers=HTML)
    state = dict(p.split("=", 1) for p in urlsplit(start.headers["location"]).query.split("&"))[
        "state"
    ]
    r = await client.get(f"/login/oidc/callback?state={state}&code={code}", headers=HTML)
    assert r.status_code == 400 and "identity-sign-in-failed" in r.text
    assert "already used" in r.text or "已" in r.text


async def test_a_callback_in_another_browser_is_refused(
    client: httpx.AsyncClient, app: Any
) -> None:
    callback = await at_provider(client, "sub-citizen")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        r = await other.get(_path(callback), headers=HTML)
    assert r.status_code == 400 and "identity-sign-in-failed" in r.text


@pytest.mark.parametrize(
    ("subject", "words"),
    [
        ("sub-anonymous", "link it on your account page"),
        ("sub-stranger", "do not match the population registry"),
    ],
)
async def test_an_identity_without_an_account_is_told_what_to_do(
    client: httpx.AsyncClient, session: AsyncSession, subject: str, words: str
) -> None:
    await _person(session)
    await session.commit()
    r = await client.get(
        _path(await at_provider(client, subject)), headers={**HTML, "accept-language": "en"}
    )
    assert r.status_code == 403 and "identity-not-linked" in r.text
    assert 'href="/login"' in r.text and 'href="/register"' in r.text
    assert (await session.execute(select(IdentityLink))).first() is None
    refused = (
        await session.execute(
            select(AuditEntry.outcome).where(AuditEntry.action == "core.identity.register")
        )
    ).scalar_one()
    assert refused == "failure"
    assert "smartcity_session" not in r.cookies


async def test_a_signed_in_account_links_itself_then_signs_in_through_the_provider(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await accounts.create_account(
        session,
        cli_principal(),
        AccountCreate(username="linker", display_name="Linker", kind="citizen", password=PASSWORD),
    )
    await session.commit()
    r = await client.get("/login", headers=HTML)
    r = await client.post(
        "/login",
        headers=HTML,
        data={"csrf_token": csrf_of(r.text), "username": "linker", "password": PASSWORD},
    )
    assert r.status_code == 303
    r = await client.get("/account", headers=HTML)
    assert 'action="/account/identity"' in r.text
    start = await client.post(
        "/account/identity", headers=HTML, data={"csrf_token": csrf_of(r.text)}
    )
    r = await client.get(_path(await at_provider(client, "sub-linker", start=start)), headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/account?linked=1"
    client.cookies.clear()
    r = await client.get(_path(await at_provider(client, "sub-linker")), headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/"
    r = await client.get("/account", headers=HTML)
    assert "linker" in r.text


async def _staff(session: AsyncSession, settings: Settings) -> str:
    department = await factories.source_department(session, "SZGA")
    account, _ = await accounts.create_account(
        session,
        cli_principal(),
        AccountCreate(
            username="officer",
            display_name="Officer",
            kind="staff",
            password=PASSWORD,
            department_code=department.code,
        ),
    )
    secret = pyotp.random_base32()
    account.totp_secret_enc = seal_totp_secret(settings, secret)
    account.totp_enabled = True
    session.add(
        IdentityLink(
            account_id=account.id,
            issuer=settings.oidc_issuer,
            subject="sub-staff",
            created_at=account.created_at,
        )
    )
    await session.commit()
    return secret


async def test_staff_still_enter_their_code_unless_the_provider_acr_is_trusted(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    secret = await _staff(session, settings)
    r = await client.get(_path(await at_provider(client, "sub-staff")), headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/login/totp")
    assert (await client.get("/account", headers=HTML)).status_code in (302, 303, 401)
    r = await client.get("/login/totp", headers=HTML)
    r = await client.post(
        "/login/totp",
        headers=HTML,
        data={"csrf_token": csrf_of(r.text), "code": pyotp.TOTP(secret).now(), "next": "/"},
    )
    assert r.status_code == 303
    assert (await client.get("/account", headers=HTML)).status_code == 200
    # The operator trusts the provider's MFA: its acr is enough.
    client.cookies.clear()
    settings.oidc_mfa_acr_values = "urn:smartcity:mfa"
    r = await client.get(
        _path(await at_provider(client, "sub-staff", acr="urn:smartcity:mfa")), headers=HTML
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (await client.get("/account", headers=HTML)).status_code == 200


async def test_a_provider_that_is_down_gets_a_clear_page(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.oidc_issuer = "http://127.0.0.1:9"  # discard port: nothing listens
    r = await client.get("/login/oidc", headers=HTML)
    assert r.status_code == 503 and "identity-provider-unavailable" in r.text
    r = await client.get("/login/oidc/callback?state=x&code=y", headers=HTML)
    assert r.status_code == 400 and "identity-sign-in-failed" in r.text


async def test_claims_only_in_userinfo_are_read_from_there(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """A provider that keeps the ID token lean (claims only at the userinfo endpoint)."""
    await _person(session)
    await session.commit()
    for lean in start_provider(ACCOUNTS, [CALLBACK], id_token_claims=False):
        settings.oidc_issuer = lean.issuer
        oidc.reset_caches()
        r = await client.get(_path(await at_provider(client, "sub-citizen")), headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/account?welcome=1", r.text
    link = (await session.execute(select(IdentityLink))).scalar_one()
    assert link.issuer == settings.oidc_issuer
