"""The serving process freezes what startup made out of the collector's reach (core/heap.py);
an app built by a test run leaves the collector as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from smartcity.core import heap
from smartcity.core.db import Database
from smartcity.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """Whatever a test does to the collector is undone after it."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_settle_freezes_what_exists_and_collects_the_young_less_often(collector: None) -> None:
    _young, middle, old = gc.get_threshold()
    heap.settle()
    assert gc.get_freeze_count() > 1000
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, middle, old)
    # What is made afterwards is collected as before: a cycle made now is found.
    made_after = [object()]
    made_after.append(made_after)
    assert any(o is made_after for o in gc.get_objects(generation=0))


async def _started(settings: Settings, database: Database, **kwargs: Any) -> tuple[int, int]:
    from smartcity.app import create_app

    app = create_app(settings, database=database, **kwargs)
    async with app.router.lifespan_context(app):
        return gc.get_freeze_count(), gc.get_threshold()[0]


async def test_the_server_settles_its_heap_once_started(
    collector: None, settings: Settings, database: Database
) -> None:
    frozen, young = await _started(settings, database, settle_heap=True)
    assert frozen > 1000 and young == heap.YOUNG_THRESHOLD


async def test_an_app_of_a_test_run_leaves_the_collector_alone(
    collector: None, settings: Settings, database: Database
) -> None:
    before = gc.get_threshold()
    frozen, young = await _started(settings, database)
    assert frozen == 0 and young == before[0]
