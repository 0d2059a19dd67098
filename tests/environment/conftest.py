"""Fixtures of the environment tests: the platform as the app installs it (actions and every
module's declarations, the AQI alert rules among them), and a fresh rules index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity.app import modules
from smartcity.core.module import install
from smartcity.sensing.rules import service as rules


@pytest.fixture(autouse=True)
def _actions() -> Iterator[None]:
    install(modules())
    # Each test's rules are rolled back with it: the cached index must not outlive them.
    rules.invalidate_index()
    yield
    rules.invalidate_index()
