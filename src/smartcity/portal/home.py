"""The portal's panel on the home page (web.home): one's unread messages (未读消息)."""

from __future__ import annotations

from fastapi import Request
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import notifications
from smartcity.core.authz import Principal
from smartcity.web.home import SIGNED_IN, HomePanel, fragment

NEWEST = 3


async def messages_panel(
    request: Request, session: AsyncSession, principal: Principal | None
) -> Markup | None:
    """How many messages are unread and the newest few of them, each opening where it points."""
    if principal is None or principal.id is None:
        return None
    unread = await notifications.unread_count(session, principal)
    newest = (
        await notifications.inbox(session, principal, unread_only=True, limit=NEWEST)
        if unread
        else []
    )
    return fragment(request, "portal/home_messages.html", {"unread": unread, "newest": newest})


MESSAGES_PANEL = HomePanel("portal.messages", 20, messages_panel, SIGNED_IN)
