"""Importing a file registers nothing: every test here runs on the platform as the app
installs it (actions, object rules and extension points of every module)."""

from __future__ import annotations

import pytest

from smartcity.app import modules
from smartcity.core.module import install


@pytest.fixture(autouse=True)
def _installed_platform() -> None:
    install(modules())
