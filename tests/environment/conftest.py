"""Fixtures of the environment tests: the modules' actions, and a fresh rules index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity.core.authz import register_actions
from smartcity.environment import MODULE
from smartcity.sensing import MODULE as SENSING
from smartcity.sensing.rules import service as rules


@pytest.fixture(autouse=True)
def _actions() -> Iterator[None]:
    register_actions(SENSING.actions)
    register_actions(MODULE.actions)
    # Each test's rules are rolled back with it: the cached index must not outlive them.
    rules.invalidate_index()
    yield
    rules.invalidate_index()
