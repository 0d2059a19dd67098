"""Fixtures of the case engine's tests: the platform with the sample type, English messages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartcity.core import i18n
from tests.cases.factories import with_test_module


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture(autouse=True)
def _case_type(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The platform plus a module declaring the sample type, installed here and by every
    app or CLI command the test builds; the real platform again afterwards."""
    yield from with_test_module(monkeypatch)
