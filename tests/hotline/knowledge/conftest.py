"""Fixtures of the knowledge base's tests: the city clock frozen on the hotline's Monday."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from smartcity.core import clock
from tests.hotline.factories import T0


@pytest.fixture(autouse=True)
def frozen() -> Iterator[Callable[[timedelta], datetime]]:
    with clock.frozen(T0) as move:
        yield move
