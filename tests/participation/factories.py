"""The people of a participation test: staff of the drafting department and of another, a
citizen, an enterprise, a supervisor; drafts and the text of a draft rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.participation import service
from smartcity.participation.models import Draft
from smartcity.participation.schemas import DraftCreate
from tests.cases.factories import person

# Monday 2 November 2026, 09:00 in Shenzhen.
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
OWNER = "SFJ"
OTHER = "GAJ"

TEXT = """深圳市电动自行车管理办法（征求意见稿）
第一章 总则
第一条 为了加强电动自行车管理，保障道路交通安全，制定本办法。
第二条 本办法适用于本市行政区域内电动自行车的销售、登记、通行和停放。
第二章 登记与通行
第三条 电动自行车应当依法登记后方可上道路行驶。依照本办法
第一条规定的目的，公安机关交通管理部门负责登记。
第四条　驾驶电动自行车应当佩戴安全头盔。
"""


@dataclass
class People:
    officer: Principal
    other_officer: Principal
    citizen: Principal
    citizen_account: Account
    enterprise: Principal
    enterprise_account: Account
    supervisor: Principal


async def people(session: AsyncSession) -> People:
    _o, officer = await person(session, "staff", OWNER)
    _x, other = await person(session, "staff", OTHER)
    citizen_account, citizen = await person(session, "citizen")
    enterprise_account, enterprise = await person(session, "enterprise")
    _s, supervisor = await person(session, "supervisor", "JWJ")
    return People(
        officer, other, citizen, citizen_account, enterprise, enterprise_account, supervisor
    )


def draft_input(days: int = 30, start: datetime | None = None, **overrides: Any) -> DraftCreate:
    opens = start or clock.now()
    values: dict[str, Any] = {
        "title": "深圳市电动自行车管理办法（征求意见稿）",
        "title_en": "Shenzhen Electric Bicycle Measures (draft for comment)",
        "kind": "regulation",
        "text": TEXT,
        "opens_at": opens,
        "closes_at": opens + timedelta(days=days),
    }
    values.update(overrides)
    return DraftCreate.model_validate(values)


async def open_draft(session: AsyncSession, officer: Principal, **overrides: Any) -> Draft:
    draft = await service.create_draft(session, officer, draft_input(**overrides))
    return await service.publish(session, officer, draft.id)


async def draft_of(session: AsyncSession, code: str) -> tuple[str, str]:
    """A published draft of department ``code`` with one pending comment (for the route
    walk): (draft id, comment id)."""
    _a, officer = await person(session, "staff", code)
    _c, citizen = await person(session, "citizen")
    # the clock runs here: a day more than the least, so publication a moment later passes
    draft = await open_draft(session, officer, days=31)
    comment = await service.post_comment(session, citizen, draft.id, article=1, text="建议明确。")
    return str(draft.id), str(comment.id)
