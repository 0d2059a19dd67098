"""Fixtures of the service hall's tests: actions registered, English messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity.cases import MODULE as CASES
from smartcity.core import i18n
from smartcity.core.authz import register_actions
from smartcity.services import MODULE


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture(autouse=True)
def _actions() -> None:
    register_actions(CASES.actions)
    register_actions(MODULE.actions)
