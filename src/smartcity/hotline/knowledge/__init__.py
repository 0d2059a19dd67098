"""The 12345 knowledge base (知识库): answers departments keep, each with its source and
review date, searched by citizens before they report and by agents as they take a call; an
agent answers a consultation with one and closes it at intake (直接办结).

A part of the hotline with tables of its own, declared as a module of its own: its routes,
pages, actions and the link in the portal header."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.hotline.knowledge import api, pages, service

MODULE = Module(
    name="knowledge",
    router=api.router,
    pages=pages.router,
    nav=[NavItem("/hotline/knowledge", N_("Common questions"))],
    actions=dict(service.ACTIONS),
    extra={"package": "smartcity.hotline.knowledge"},
)
