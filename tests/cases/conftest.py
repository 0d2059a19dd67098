"""Fixtures of the case engine's tests: the sample type, actions, English messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity.cases import MODULE
from smartcity.core import i18n
from smartcity.core.authz import register_actions
from tests.cases.factories import application_type


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture(autouse=True)
def _case_type() -> None:
    register_actions(MODULE.actions)
    application_type()
