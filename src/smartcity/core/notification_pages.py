"""The inbox page (我的消息): one's messages newest first, unread marked, read on opening."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from smartcity.core import notifications
from smartcity.core.authz import Principal
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.web.pages import require_page, safe_next
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

SignedIn = Annotated[Principal, Depends(require_page())]
PAGE_SIZE = 30


@router.get("/messages")
async def messages_page(
    request: Request,
    session: DbSession,
    principal: SignedIn,
    unread: bool = False,
    page: int = 1,
) -> Response:
    page = min(max(page, 1), 10_000)
    rows = await notifications.inbox(
        session,
        principal,
        unread_only=unread,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "core/messages.html",
        {
            "messages": rows[:PAGE_SIZE],
            "more": len(rows) > PAGE_SIZE,
            "page": page,
            "unread_only": unread,
            "unread_count": await notifications.unread_count(session, principal),
        },
        principal=principal,
    )


@router.post("/messages/read")
async def mark_all_read(request: Request, session: DbSession, principal: SignedIn) -> Response:
    check_csrf(request, await request.form())
    await notifications.mark_all_read(session, principal)
    return RedirectResponse("/messages", status_code=303)


@router.post("/messages/{message_id}/read")
async def open_message(
    request: Request, session: DbSession, principal: SignedIn, message_id: uuid.UUID
) -> Response:
    """Mark the message read and go where it points (or back to the inbox)."""
    form = await request.form()
    check_csrf(request, form)
    note = await notifications.mark_read(session, principal, message_id)
    target = form.get("next")
    if target == "link" and note.link:
        return RedirectResponse(safe_next(note.link), status_code=303)
    return RedirectResponse("/messages", status_code=303)
