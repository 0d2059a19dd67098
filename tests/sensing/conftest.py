"""Fixtures of the SensorThings tests: callers with keys, and a small city of sensors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.sensing.factories import caller


@pytest.fixture
async def writer(session: AsyncSession) -> dict[str, str]:
    """Headers of a department's system account (writes any entity)."""
    _account, headers = await caller(session, "system")
    return headers


@pytest.fixture
async def sta(client: httpx.AsyncClient, writer: dict[str, str]) -> Any:
    from tests.sensing.factories import Sta

    return Sta(client, writer)
