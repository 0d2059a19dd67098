"""Fixtures of the service hall's tests: the platform installed, English messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity.core import i18n


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)
