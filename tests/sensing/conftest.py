"""Fixtures of the SensorThings tests: callers with keys, and a small city of sensors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.app import modules
from smartcity.core.module import install
from smartcity.sensing.rules import service as rules
from tests.sensing.factories import caller


@pytest.fixture(autouse=True)
def _installed() -> Iterator[None]:
    """What create_app installs (sensing's actions and object rules among all modules'), for
    tests that call services without building an app. Each test's rules are rolled back with
    it: the cached rule index must not outlive them, so it starts and ends empty."""
    install(modules())
    rules.invalidate_index()
    yield
    rules.invalidate_index()


@pytest.fixture
async def writer(session: AsyncSession) -> dict[str, str]:
    """Headers of a department's system account (writes any entity)."""
    _account, headers = await caller(session, "system")
    return headers


@pytest.fixture
async def sta(client: httpx.AsyncClient, writer: dict[str, str]) -> Any:
    from tests.sensing.factories import Sta

    return Sta(client, writer)
