"""A request's work ends with it: cancelled and rolled back when its client disconnects,
stopped by PostgreSQL's statement timeout, and SIGTERM stops the server within seconds even
with a request in flight."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.sensing import models as m
from smartcity.settings import Settings, configure
from tests.problems import assert_problem

MARK = "written by a request whose client left"


class Slow:
    """A route that writes, then waits for ever: what a runaway query looks like to a client."""

    def __init__(self) -> None:
        self.wrote = asyncio.Event()
        self.cancelled = False

    async def endpoint(self, session: DbSession) -> dict[str, str]:
        session.add(m.StaThing(name=MARK, description="", properties=None))
        await session.flush()
        self.wrote.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return {}


@pytest.fixture
def slow(app: FastAPI) -> Slow:
    route = Slow()
    app.router.add_api_route(
        "/_test/slow", route.endpoint, methods=["POST"], route_class_override=UnitOfWorkRoute
    )
    return route


async def _things_marked(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).where(m.StaThing.name == MARK))
    return int(count or 0)


async def test_a_client_that_leaves_cancels_the_work_and_rolls_it_back(
    app: FastAPI, slow: Slow, session: AsyncSession
) -> None:
    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        try:
            return next(messages)
        except StopIteration:
            # The client goes once the work has written (and is now stuck).
            await slow.wrote.wait()
            return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/_test/slow",
        "raw_path": b"/_test/slow",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    assert slow.wrote.is_set() and slow.cancelled
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 499
    assert await _things_marked(session) == 0


async def test_a_client_that_stays_gets_its_answer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    # The disconnect watcher must not take the body or the answer from a normal request.
    response = await client.post(
        "/sta/v1.1/Things", content=b'{"name": "x"', headers={"X-API-Key": "nope"}
    )
    assert_problem(response, 401, "api-key-invalid")
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
def short_timeout(settings: Settings) -> Iterator[Settings]:
    configure(settings.model_copy(update={"request_statement_timeout_seconds": 0.2}))
    yield settings
    configure(settings)


async def test_a_statement_past_the_timeout_is_a_503(
    app: FastAPI, client: httpx.AsyncClient, backend: str, short_timeout: Settings
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no statement timeout")

    async def sleepy(session: DbSession) -> dict[str, str]:
        await session.execute(text("SELECT pg_sleep(5)"))
        return {}

    app.router.add_api_route(
        "/_test/sleepy", sleepy, methods=["GET"], route_class_override=UnitOfWorkRoute
    )
    started = time.monotonic()
    response = await client.get("/_test/sleepy")
    assert time.monotonic() - started < 4
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "/problems/query-timeout"


async def test_every_request_transaction_has_the_timeout(
    app: FastAPI, client: httpx.AsyncClient, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no statement timeout")

    async def show(session: DbSession) -> dict[str, str]:
        value = await session.scalar(text("SHOW statement_timeout"))
        return {"statement_timeout": str(value)}

    app.router.add_api_route(
        "/_test/show", show, methods=["GET"], route_class_override=UnitOfWorkRoute
    )
    response = await client.get("/_test/show")
    assert response.json() == {"statement_timeout": "30s"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_serving(port: int, server: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited while starting"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sta/v1.1", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)  # polling for the port to open, bounded by the deadline
    raise AssertionError("the server did not start")


def test_sigterm_stops_the_server_within_seconds(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "SMARTCITY_VAR_DIR": str(tmp_path),
        "SMARTCITY_DATABASE_URL": "",
        "SMARTCITY_SECRET_KEY": "test-secret-for-the-serve-subprocess",
        "SMARTCITY_SHUTDOWN_GRACE_SECONDS": "1",
        "SMARTCITY_MQTT_URL": "",
        "SMARTCITY_BUS_URL": "",
    }
    cli = [sys.executable, "-m", "smartcity.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_serving(port, server, time.monotonic() + 60)
        # A slow client: headers and part of the body, then nothing.
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(
            b"POST /sta/v1.1/Things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"name": '
        )
        # The request is in flight once the server holds its connection open without an answer.
        slow.settimeout(0.5)
        with pytest.raises(TimeoutError):
            slow.recv(1)
        stopping = time.monotonic()
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=20)
        took = time.monotonic() - stopping
        slow.close()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert took < 8, f"SIGTERM took {took:.1f} s"
    # Uvicorn ends by re-raising the signal it caught, so the exit status says SIGTERM.
    assert code in (0, -signal.SIGTERM), server.stderr.read().decode() if server.stderr else ""
