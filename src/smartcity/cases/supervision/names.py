"""What the board calls things: the titles of flag kinds, clocks and warning levels, the
states' declared titles (环节名称), and the categories' names, which the domains declare in their
``MODULE.extends`` as ``CategoryNames`` (the engine imports no domain)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.types import get_case_type
from smartcity.core.i18n import N_, gettext

FLAG_TITLES: dict[str, str] = {
    "qualifying_not_accepted": N_("Qualifying application not accepted"),
    "refusal_without_reason": N_("Refusal without a reason"),
    "out_of_order": N_("Step out of order"),
    "reopened": N_("Reopened after closing"),
}

CLOCK_TITLES: dict[str, str] = {
    "statutory": N_("Statutory limit"),
    "promised": N_("Promised limit"),
    "step": N_("Step limit"),
}
LEVEL_TITLES: dict[str, str] = {"yellow": N_("yellow"), "red": N_("red")}


CategoryResolver = Callable[[AsyncSession, Sequence[str]], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True)
class CategoryNames:
    """A domain names its categories on the board, e.g. the service hall its items
    (事项编码 → 事项名称): ``resolve`` answers the names of the codes it knows."""

    resolve: CategoryResolver


_CATEGORY_NAMES: list[CategoryResolver] = []


def install_category_names(declared: Sequence[CategoryNames]) -> None:
    """The case engine's extension point for category names (see core.module.install)."""
    resolvers: list[CategoryResolver] = []
    for names in declared:
        if names.resolve not in resolvers:
            resolvers.append(names.resolve)
    _CATEGORY_NAMES[:] = resolvers


def installed_category_names() -> list[CategoryResolver]:
    return list(_CATEGORY_NAMES)


async def category_names(session: AsyncSession, codes: Iterable[str]) -> dict[str, str]:
    """Names of the categories the installed resolvers know; the first answer wins."""
    wanted = sorted({c for c in codes if c})
    found: dict[str, str] = {}
    for resolver in _CATEGORY_NAMES:
        missing = [c for c in wanted if c not in found]
        if not missing:
            break
        for code, name in (await resolver(session, missing)).items():
            found.setdefault(code, name)
    return found


def state_title(case_type: str, state: str) -> str:
    """The state's declared title (环节名称), else its name."""
    try:
        return gettext(get_case_type(case_type).state(state).title)
    except (LookupError, KeyError):
        return state
