"""A real OpenID Connect provider for the tests: panva's oidc-provider under Node, installed
from the committed package-lock.json by scripts/test (npm ci) and started on a free port.
Tests that need it skip with a reason where Node or the installed package is missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "smartcity-portal"
CLIENT_SECRET = "test-client-secret-6a1f0c2e9b"


@dataclass
class LocalProvider:
    issuer: str
    process: subprocess.Popen[bytes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (the test OpenID provider runs on Node 20+)"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return (
            "oidc-provider is not installed: scripts/test runs "
            "`npm ci --prefix tests/identity/oidc_provider`"
        )
    return None


def start_provider(
    accounts: dict[str, dict[str, str]],
    redirect_uris: list[str],
    *,
    id_token_claims: bool = True,
) -> Iterator[LocalProvider]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "ISSUER": issuer,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REDIRECT_URIS": " ".join(redirect_uris),
        "ACCOUNTS": json.dumps(accounts),
        "ID_TOKEN_CLAIMS": "on" if id_token_claims else "off",
    }
    process = subprocess.Popen(
        [shutil.which("node") or "node", str(HERE / "server.js")],
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Wait until it answers its discovery document (a readiness poll, not a sleep
        # standing in for a result).
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"the OpenID provider exited: {err[-2000:]}")
            try:
                answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
                if answer.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the OpenID provider did not start in 30 s")
            time.sleep(0.1)
        yield LocalProvider(issuer, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
