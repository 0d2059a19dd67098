"""Online service hall (网上办事大厅): service items, applications on the case engine."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.services import api, pages, seed, service, types

__all__ = ["MODULE", "seed", "types"]

MODULE = Module(
    name="services",
    router=api.router,
    pages=pages.router,
    actions=dict(service.ACTIONS),
    nav=[NavItem("/services", N_("Online services"))],
)
