"""Base registries (城市数字资源中心): persons, organizations and places, 一数一源."""

from __future__ import annotations

from fastapi import APIRouter

from smartcity.core.i18n import N_
from smartcity.core.module import ExtensionPoint, Job, Module, NavItem
from smartcity.core.registration import EnterpriseRegistry, PersonRegistry
from smartcity.registry import (
    api,
    contract,
    exporting,
    importing,
    pages,
    place_api,
    place_pages,
    places,
    quality,
    service,
)
from smartcity.registry.cli import cli

# One API router and one pages router for the module, each including its parts (persons and
# organizations; places, imports and data quality).
_api = APIRouter()
_api.include_router(api.router)
_api.include_router(place_api.router)
_pages = APIRouter()
_pages.include_router(pages.router)
_pages.include_router(place_pages.router)

_DEPARTMENT_PEOPLE = frozenset({"staff", "supervisor", "admin", "system"})

MODULE = Module(
    name="registry",
    router=_api,
    pages=_pages,
    actions={
        k: frozenset(v)
        for k, v in (
            service.ACTIONS
            | places.ACTIONS
            | importing.ACTIONS
            | exporting.ACTIONS
            | quality.ACTIONS
        ).items()
    },
    # what other modules grant of the registries' fields (the exchange's grants)
    extension_points=(
        ExtensionPoint(accepts=service.FieldGrants, install=service.install_field_grants),
    ),
    # self-registration checks names and ID numbers here and links the new account
    extends=(
        PersonRegistry(
            match=contract.match_unlinked_person,
            is_linked=contract.id_number_has_account,
            link=contract.link_registered_account,
        ),
        # enterprise registration checks the legal representative here and links the account
        EnterpriseRegistry(
            check=contract.check_enterprise_representative,
            link=contract.link_enterprise_account,
        ),
    ),
    jobs=[Job("registry.quality_sweep", 24 * 3600, quality.quality_sweep)],
    cli=cli,
    nav=[
        NavItem("/registry/persons", N_("Population registry"), _DEPARTMENT_PEOPLE),
        NavItem("/registry/organizations", N_("Legal-person registry"), _DEPARTMENT_PEOPLE),
        NavItem("/registry/places", N_("Places"), _DEPARTMENT_PEOPLE),
        NavItem("/registry/quality", N_("Data quality"), _DEPARTMENT_PEOPLE),
        NavItem("/my/data", N_("My data"), frozenset({"citizen"})),
    ],
)
