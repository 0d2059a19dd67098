"""What the API and the pages show of an order: its summary, its full view with the caller
masked for whoever may not see them, its timeline in the city's words."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import TooManyRequests
from smartcity.core.i18n import current_locale
from smartcity.core.i18n import gettext as _
from smartcity.core.ratelimit import RateLimiter
from smartcity.hotline import service
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.schemas import (
    DeadlineRead,
    OrderRead,
    OrderSummaryRead,
    TimelineRead,
    VisitRead,
)
from smartcity.hotline.types import RATING_TITLES
from smartcity.settings import get_settings

# What each step's line on the timeline quotes from the step's fields.
NOTE_FIELDS = ("reply", "answer", "reason", "rating", "comment", "opinion", "department")


def english() -> bool:
    return current_locale.get().startswith("en")


async def summary(session: AsyncSession, order: WorkOrder) -> OrderSummaryRead:
    deadline = await service.deadline_of(session, order)
    return OrderSummaryRead(
        id=order.id,
        number=order.number,
        kind=order.kind,
        category=order.category_code,
        category_name=service.category_name(order.category_code, english()),
        state=order.state,
        department=order.department_code,
        received_at=order.received_at,
        deadline=DeadlineRead(
            clock=deadline.clock,
            due_date=deadline.due_date,
            remaining=deadline.remaining,
            state=deadline.state,
        ),
    )


async def full(session: AsyncSession, principal: Principal | None, order: WorkOrder) -> OrderRead:
    head = await summary(session, order)
    shown = await service.sees_caller(session, principal, order)
    names = {
        code: (en or zh) if english() else zh
        for code, (zh, en) in (await service.department_names(session)).items()
    }
    lines = []
    for event in await service.timeline_of(session, order):
        if event.kind not in ("transition", "transfer"):
            continue
        fields = dict(event.data.get("fields") or {})
        if fields.get("rating"):
            fields["rating"] = _(RATING_TITLES.get(str(fields["rating"]), str(fields["rating"])))
        if fields.get("department"):
            fields["department"] = names.get(str(fields["department"]), str(fields["department"]))
        note = " · ".join(str(fields[k]) for k in NOTE_FIELDS if fields.get(k))
        if event.kind == "transfer":
            note = str(event.data.get("to") or "")
        lines.append(
            TimelineRead(
                at=event.at,
                actor=event.actor,
                step=event.name,
                from_state=event.from_state,
                to_state=event.to_state,
                note=note,
            )
        )
    return OrderRead(
        **head.model_dump(),
        channel=order.channel,
        text=order.text,
        address=order.address,
        lon=order.lon,
        lat=order.lat,
        district=order.district_code,
        street=order.street_code,
        anonymous=order.anonymous,
        caller_name=order.caller_name if shown else service.mask_name(order.caller_name),
        caller_phone=order.caller_phone if shown else service.mask_phone(order.caller_phone),
        reworks=order.reworks,
        reply=order.reply,
        rating=order.rating,
        closed_at=order.closed_at,
        visits=[
            VisitRead(at=v.at, rating=v.rating, comment=v.comment, online=v.online)
            for v in await service.visits_of(session, order)
        ],
        timeline=lines,
    )


_report_limiter: dict[int, RateLimiter] = {}


def check_report_rate(client: str) -> None:
    """Reports on the web, per client address an hour (the settings' number), on the city
    clock so a frozen test sees the bucket fill."""
    per_hour = get_settings().hotline_reports_per_hour
    limiter = _report_limiter.get(per_hour)
    if limiter is None:
        _report_limiter.clear()
        limiter = _report_limiter[per_hour] = RateLimiter(per_hour, window_seconds=3600)
    wait = limiter.hit(client, at=clock.now().timestamp())
    if wait > 0:
        raise TooManyRequests(
            _("Too many reports from your address; try again in %(minutes)s minutes.")
            % {"minutes": int(wait // 60) + 1},
            headers={"Retry-After": str(int(wait) + 1)},
        )


def reset_report_rate() -> None:
    _report_limiter.clear()
