"""Fixtures of the participation tests: English messages, time frozen on a Monday morning."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from smartcity.core import clock, i18n
from tests.participation.factories import T0


@pytest.fixture(autouse=True)
def _english_messages() -> Iterator[None]:
    """These tests assert English msgids; Chinese is covered by tests/core/test_i18n.py."""
    token = i18n.current_locale.set("en")
    yield
    i18n.current_locale.reset(token)


@pytest.fixture
def advance() -> Iterator[Callable[[timedelta], datetime]]:
    with clock.frozen(T0) as move:
        yield move
