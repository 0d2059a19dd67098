"""Government data exchange (政务信息资源共享交换): catalog, grants, evidence, open data."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.core.i18n import N_
from smartcity.core.module import Module, NavItem
from smartcity.exchange import api, ckan, grants, handlers, jobs, pages, service
from smartcity.exchange.cli import cli
from smartcity.registry import contract as registry

# app.py mounts one router per module: the REST API and the public open-data API (CKAN,
# DCAT, downloads) both hang off it, included without prefix so their paths stay whole.
router = APIRouter()
router.include_router(api.router)
router.include_router(ckan.router)

STAFF = frozenset({"staff", "supervisor", "admin"})

MODULE = Module(
    name="exchange",
    router=router,
    pages=pages.router,
    actions={k: frozenset(v) for k, v in service.ACTIONS.items()},
    rules=service.RULES,
    jobs=jobs.JOBS,
    handlers=handlers.HANDLERS,
    # the fields its grants in force name, which the registries then show unmasked
    extends=(registry.FieldGrants("exchange", grants.registry_fields_granted),),
    nav=[
        NavItem("/data", N_("Open data")),
        NavItem("/exchange", N_("Data sharing"), STAFF),
    ],
    cli=cli,
)
