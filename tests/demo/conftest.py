"""Fixtures of the demo's tests: the platform as the app installs it (actions, rules and
every module's declarations), so seeding runs under the same checks as `smartcity demo`."""

from __future__ import annotations

import pytest

from smartcity.app import modules
from smartcity.core.module import install


@pytest.fixture(autouse=True)
def _installed() -> None:
    install(modules())
