"""The serving process's garbage collector, tuned for a crowd (issue 12).

CPython's cyclic collector stops the whole process while it runs, and a full (generation 2)
collection walks every tracked object: in a served platform that is the hundreds of
thousands of objects made at startup (modules, routes, SQLAlchemy's mappers, templates),
which never become garbage. Under a crowd each request's short-lived cycles survive the
young collections while still in flight and pile up in generation 2, so a full collection
came every two seconds and stopped the loop for 150–400 ms each time: the p99 of every
public page (bench/public_pages.py --probe showed it).

``settle()`` runs once the server has started: one full collection, then ``gc.freeze()``
moves what survived into the permanent generation, which no later collection walks; a full
collection then costs what was made since. The young generation is also let grow larger
(``YOUNG_THRESHOLD`` allocations instead of 700) before it is collected, so fewer requests
are still in flight when it is and less of their garbage is promoted.

Only for `smartcity serve` / `demo` (the CLI asks for it): a test run builds hundreds of
apps in one process, and freezing each one's objects would keep them all.
"""

from __future__ import annotations

import gc

# Allocations (minus deallocations) of container objects between young collections; the
# default, 700, is passed several times per request. The older generations keep their
# defaults: a generation-1 collection every 10 young ones, a full one every 10 of those
# (and only when the objects made since the last one are over a quarter of the unfrozen).
YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """After startup: freeze what startup made, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
