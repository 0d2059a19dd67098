"""The message to everyone who commented on a draft when its adoption report is published
(采纳情况说明): one message each, in the reader's language, with a link to the report."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.i18n import N_
from smartcity.core.notifications import Name, Text, notify
from smartcity.participation.models import Draft

REPORT_TITLE = N_("The adoption report on %(title)s is published")
REPORT_BODY = N_(
    "The department has answered every comment on draft %(number)s. See how your comment "
    "was taken into account."
)


async def notify_commenters(
    session: AsyncSession, draft: Draft, account_ids: Iterable[uuid.UUID]
) -> int:
    """One message per commenter however many comments they made; returns how many."""
    sent = 0
    for account_id in dict.fromkeys(account_ids):
        note = await notify(
            session,
            account_id,
            topic="participation.report.published",
            title=Text(REPORT_TITLE, {"title": Name(draft.title, draft.title_en or None)}),
            body=Text(REPORT_BODY, {"number": draft.number}),
            link=f"/participation/{draft.id}#report",
        )
        sent += note is not None
    return sent
