"""The ID token and provider checks of core/oidc.py with a provider made of an httpx
MockTransport: tokens expired, for another audience, with the wrong nonce or issuer, signed
by a stranger or with alg none; key rotation fetching the JWKS again (once); answers too
large, not JSON, or a 500 all become "provider unavailable"."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pydantic import SecretStr

from smartcity.core import oidc
from smartcity.core.oidc import IdentityProviderUnavailable, IdentitySignInRefused
from smartcity.settings import Settings

ISSUER = "https://id.example.gov.cn"
CLIENT = "smartcity-portal"
NONCE = "n-0S6_WzA2Mj"


class FakeProvider:
    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "k1"})]
        self.jwks_fetches = 0
        self.discovery: Any = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/auth",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
        }
        self.raw_discovery: bytes | None = None
        self.status = 200

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.status != 200:
            return httpx.Response(self.status, text="down")
        if request.url.path == "/.well-known/openid-configuration":
            if self.raw_discovery is not None:
                return httpx.Response(200, content=self.raw_discovery)
            return httpx.Response(200, json=self.discovery)
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(200, json=KeySet(self.keys).as_dict(private=False))
        return httpx.Response(404)

    def token(self, key: RSAKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": CLIENT, "sub": "s-1", "iat": now, "exp": now + 300}
        body |= {"nonce": NONCE} | claims
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


@pytest.fixture
def provider(settings: Settings) -> Iterator[FakeProvider]:
    fake = FakeProvider()
    before = (settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret)
    settings.oidc_issuer, settings.oidc_client_id = ISSUER, CLIENT
    settings.oidc_client_secret = SecretStr("secret")
    oidc.use_transport(httpx.MockTransport(fake.handle))
    yield fake
    oidc.use_transport(None)
    settings.oidc_issuer, settings.oidc_client_id, settings.oidc_client_secret = before


async def test_a_good_token_gives_its_claims(provider: FakeProvider) -> None:
    claims = await oidc.verify_id_token(provider.token(name="林小雨"), nonce=NONCE)
    assert claims["sub"] == "s-1" and claims["name"] == "林小雨"


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 3600},  # expired an hour ago (past the leeway)
        {"aud": "another-client"},
        {"aud": [CLIENT, "another-client"]},  # several audiences and no azp of ours
        {"nonce": "someone-elses"},
        {"iss": "https://evil.example"},
        {"sub": "x" * 300},
    ],
    ids=["expired", "foreign-audience", "no-azp", "wrong-nonce", "wrong-issuer", "long-sub"],
)
async def test_bad_tokens_are_refused(provider: FakeProvider, claims: dict[str, Any]) -> None:
    with pytest.raises(IdentitySignInRefused) as caught:
        await oidc.verify_id_token(provider.token(**claims), nonce=NONCE)
    assert caught.value.slug == "identity-sign-in-failed"


async def test_a_missing_nonce_is_refused(provider: FakeProvider) -> None:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": CLIENT, "sub": "s-1", "iat": now, "exp": now + 300}
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, body, provider.keys[0])
    with pytest.raises(IdentitySignInRefused):
        await oidc.verify_id_token(token, nonce=NONCE)


async def test_a_stranger_signature_and_alg_none_are_refused(provider: FakeProvider) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same kid, other key
    with pytest.raises(IdentitySignInRefused):
        await oidc.verify_id_token(provider.token(key=stranger), nonce=NONCE)

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none'})}.{part({'iss': ISSUER, 'aud': CLIENT})}."
    with pytest.raises(IdentitySignInRefused):
        await oidc.verify_id_token(unsigned, nonce=NONCE)
    with pytest.raises(IdentitySignInRefused):
        await oidc.verify_id_token("not.a.token", nonce=NONCE)
    with pytest.raises(IdentitySignInRefused):
        await oidc.verify_id_token("x" * (oidc.MAX_TOKEN_CHARS + 1), nonce=NONCE)


async def test_a_rotated_key_fetches_the_jwks_again_once(provider: FakeProvider) -> None:
    await oidc.verify_id_token(provider.token(), nonce=NONCE)
    await oidc.verify_id_token(provider.token(), nonce=NONCE)
    assert provider.jwks_fetches == 1  # cached
    # The provider rolls its keys: k2 signs from now on, the JWKS has both.
    new = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    provider.keys.append(new)
    oidc._jwks[f"{ISSUER}/jwks"].fetched_at -= oidc.JWKS_REFRESH_FLOOR_SECONDS  # a minute on
    claims = await oidc.verify_id_token(provider.token(key=new), nonce=NONCE)
    assert claims["sub"] == "s-1" and provider.jwks_fetches == 2
    # An unknown kid right after a fetch does not fetch again (no flood of fetches).
    ghost = RSAKey.generate_key(2048, parameters={"kid": "k3"})
    with pytest.raises(IdentitySignInRefused):
        await oidc.verify_id_token(provider.token(key=ghost), nonce=NONCE)
    assert provider.jwks_fetches == 2


async def test_too_large_or_malformed_or_failing_answers_mean_unavailable(
    provider: FakeProvider,
) -> None:
    provider.raw_discovery = b'{"issuer": "' + b"x" * (oidc.MAX_RESPONSE_BYTES + 10) + b'"}'
    with pytest.raises(IdentityProviderUnavailable) as caught:
        await oidc.metadata()
    assert caught.value.status == 503 and caught.value.slug == "identity-provider-unavailable"
    provider.raw_discovery = b"<html>not json</html>"
    with pytest.raises(IdentityProviderUnavailable):
        await oidc.metadata()
    provider.raw_discovery = b"[1, 2]"
    with pytest.raises(IdentityProviderUnavailable):
        await oidc.metadata()
    provider.raw_discovery = None
    provider.discovery = {**provider.discovery, "issuer": "https://other.example"}
    with pytest.raises(IdentityProviderUnavailable):
        await oidc.metadata()
    provider.discovery = {**provider.discovery, "issuer": ISSUER, "token_endpoint": "ftp://x"}
    with pytest.raises(IdentityProviderUnavailable):
        await oidc.metadata()
    provider.status = 500
    with pytest.raises(IdentityProviderUnavailable):
        await oidc.metadata()


async def test_a_provider_that_does_not_answer_is_unavailable(settings: Settings) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    before = settings.oidc_issuer
    settings.oidc_issuer = ISSUER
    oidc.use_transport(httpx.MockTransport(refuse))
    try:
        with pytest.raises(IdentityProviderUnavailable):
            await oidc.metadata()
    finally:
        oidc.use_transport(None)
        settings.oidc_issuer = before
