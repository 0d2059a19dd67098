"""The foundation every module stands on: data, bus, security, audit, signing, calendars, ids."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so `import smartcity.core.db` does not pull in the routers (and import cycles).
    if name == "MODULE":
        from smartcity.core.manifest import MODULE

        return MODULE
    raise AttributeError(name)
