"""Public participation (民意征集, 网上评议/听证): a department opens a draft rule or a major
public investment (征求意见稿) for comment for at least 30 days; signed-in citizens and
enterprises comment on its articles; the department moderates, answers every comment and
publishes the adoption report (采纳情况说明); a register of adopted documents gives the
figure of those that went to online comment.

Everything it adds to the platform is declared here: actions and their department rule,
routers, pages, nav items, the job that closes windows and the CLI group."""

from __future__ import annotations

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.participation import api, pages, service
from smartcity.participation.cli import cli
from smartcity.participation.jobs import JOBS

MODULE = Module(
    name="participation",
    router=api.router,
    pages=pages.router,
    nav=[
        NavItem("/participation", N_("Public comment")),
        NavItem("/my/comments", N_("My comments"), frozenset({"citizen", "enterprise"})),
        NavItem("/participation/manage", N_("Drafts for comment"), frozenset({"staff"})),
    ],
    actions=dict(service.ACTIONS),
    rules=dict(service.RULES),
    jobs=list(JOBS),
    cli=cli,
)
