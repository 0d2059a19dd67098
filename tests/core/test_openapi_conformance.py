"""Schemathesis over the whole OpenAPI document, in-process against the ASGI app, as an admin
and as a citizen, on SQLite and PostgreSQL: no 5xx, and every response conforms to what the
document says (status code, content type, body schema). Errors are documented as problems
(core/openapi.py), so a real 422 or 404 is checked against the Problem schema too."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import Receive, Scope, Send

from smartcity.core import migrate
from smartcity.core.db import Database, make_engine
from smartcity.core.errors import PROBLEM_JSON
from smartcity.core.openapi import PROBLEM_REF
from smartcity.core.security import issue_access_token
from smartcity.settings import Settings, get_settings
from tests.conftest import (
    BACKENDS,
    POSTGRES_URL,
    _recreate_postgres_database,
    postgres_database_name,
)
from tests.core import factories

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CALLERS = ("admin", "citizen")


class WithoutLifespan:
    """The app without its background jobs: the test drives requests only, and jobs writing
    to the same database at random moments would make runs differ."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            kind = message["type"].rsplit(".", 1)[-1]
            await send({"type": f"lifespan.{kind}.complete"})
            if kind == "shutdown":
                return


@dataclass
class Platform:
    schema: Any
    tokens: dict[str, str]


async def _callers(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        async with Database(engine).session_scope() as session:
            accounts = {k: await factories.create_account(session, kind=k) for k in CALLERS}
        return {
            kind: issue_access_token(get_settings(), account, amr=["pwd", "otp"])
            for kind, account in accounts.items()
        }
    finally:
        await engine.dispose()


def _database(backend: str, tmp: Path) -> str:
    """A database of the test's own: schemathesis commits what it creates."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'conformance.db'}"
    else:
        name = postgres_database_name("conformance")
        url = asyncio.run(_recreate_postgres_database(POSTGRES_URL, name))
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def platform(
    request: pytest.FixtureRequest, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Platform:
    from smartcity.app import create_app

    url = _database(request.param, tmp_path_factory.mktemp(f"conformance-{request.param}"))
    # The app first: creating it registers the modules' actions the account factory needs,
    # so the test passes when it runs alone as well as after others.
    app = create_app(settings.model_copy(update={"database_url": url}))
    tokens = asyncio.run(_callers(url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", WithoutLifespan(app))
    return Platform(schema=schema, tokens=tokens)


@schemathesis.serializer("application/pdf")
def _pdf_body(ctx: Any, value: Any) -> bytes:
    """A PDF upload (/licences/verify/pdf) is raw bytes: send what was generated as such, so
    the operation is exercised with garbage and empty bodies like any other."""
    return value if isinstance(value, bytes) else str(value).encode()


# Examples per operation and generation mode: enough to hit each operation's validation,
# not-found and success paths; the whole run stays within about two minutes per database.
EXAMPLES = 4


def _conforms(operation: Any, mode: GenerationMode, tokens: dict[str, str]) -> str | None:
    """None, or the first failure schemathesis finds for ``operation`` in ``mode``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,  # the same cases every run: a failure here is reproducible
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failure is enough
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        for caller in CALLERS:
            headers = {"Authorization": f"Bearer {tokens[caller]}"}
            try:
                case.call_and_validate(headers=headers, checks=CHECKS)
            except AssertionError as failure:
                raise AssertionError(f"as {caller}: {failure}") from None

    try:
        run()
    except Unsatisfiable:
        # Negative mode only: nothing in the operation can be made invalid (no parameters,
        # or only free strings), so there is no negative case to send.
        return None
    except BaseException as failure:  # schemathesis raises groups of check failures
        if isinstance(failure, (KeyboardInterrupt, SystemExit)):
            raise
        return f"{operation.label} [{mode.value}]: {str(failure)[:1500]}"
    return None


def _can_be_invalid(document: dict[str, Any], operation: Any) -> bool:
    """Whether negative mode can make anything of the operation invalid: a body, or a
    parameter with a type or constraint. A free string accepts every value, so for an
    operation with nothing else hypothesis would only search until it gives up."""
    definition = document["paths"][operation.path][operation.method.lower()]
    if "requestBody" in definition:
        return True
    parameters = definition.get("parameters", [])
    return any(_constraints(p["schema"]) != {"type": "string"} for p in parameters)


def _constraints(schema: dict[str, Any]) -> dict[str, Any]:
    notes = ("title", "description", "default", "example", "examples")
    return {key: value for key, value in schema.items() if key not in notes}


def test_api_conforms_to_its_document(platform: Platform) -> None:
    failures = []
    document = platform.schema.raw_schema
    operations = [result.ok() for result in platform.schema.get_all_operations()]
    assert len(operations) > 100
    for operation in operations:
        modes = [GenerationMode.POSITIVE]
        if _can_be_invalid(document, operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            failure = _conforms(operation, mode, platform.tokens)
            if failure:
                failures.append(failure)
    assert not failures, f"{len(failures)} failing:\n" + "\n\n".join(failures)


def test_every_error_is_documented_as_a_problem(platform: Platform) -> None:
    document = platform.schema.raw_schema
    assert "HTTPValidationError" not in document["components"]["schemas"]
    errors = 0
    for item in document["paths"].values():
        for operation in item.values():
            if operation.get("x-error-format") == "ckan":
                # CKAN's Action API keeps CKAN's envelope, which its clients parse.
                assert operation["responses"]["4XX"]["content"]["application/json"]
                continue
            for code, response in operation["responses"].items():
                if code[:1] in ("4", "5"):
                    assert list(response["content"]) == [PROBLEM_JSON], code
                    assert response["content"][PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}
                    errors += 1
    assert errors > 300
