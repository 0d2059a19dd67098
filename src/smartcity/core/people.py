"""People as people read them: an account's display name (姓名 or the organisation's name),
never its login; the platform's jobs and the server console named in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import SYSTEM
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Account

# Jobs such as the warning sweep act as the platform itself.
PLATFORM = N_("Platform (automatic)")
# Whoever runs a command on the server acts as ``cli:<login>`` (core.cli.cli_principal).
CONSOLE = N_("Administrator (command line)")
CONSOLE_PREFIX = "cli:"


def actor_name(actor: str, names: Mapping[str, str] | None = None) -> str:
    """Who did something, by the name people read: the account's display name where
    ``names`` (username → display name) has it, the platform for its jobs, the server
    console for a command run there; else the login as recorded."""
    if actor == SYSTEM.name:
        return _(PLATFORM)
    if actor.startswith(CONSOLE_PREFIX):
        return _(CONSOLE)
    return (names or {}).get(actor, actor)


async def display_names(session: AsyncSession, usernames: Iterable[str | None]) -> dict[str, str]:
    """Display names by username, in one query (never ID numbers)."""
    wanted = {u for u in usernames if u and u != SYSTEM.name and not u.startswith(CONSOLE_PREFIX)}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Account.username, Account.display_name).where(Account.username.in_(wanted))
    )
    return {username: display_name or username for username, display_name in rows.all()}
