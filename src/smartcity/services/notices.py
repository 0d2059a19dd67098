"""Step notices (办件进度通知): the applicant is told of every step of their application, in
the step's transaction, with a link to the application's page.

The texts are Chinese and stored as written: a message is read later, in the applicant's
inbox or by SMS, not in the officer's language at the moment of the step.

Order matters: this hook must run after the licence hook so the approval notice can give the
licence number; its declaration in the service hall's MODULE says so (``after=``), and the
case engine orders hooks by it (tests/services/test_notices.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import (
    CaseRecord,
    StepTaken,
    case_deadline,
    format_day,
    get_case_type,
)
from smartcity.core import clock, notifications
from smartcity.core.authz import Principal
from smartcity.core.workdays import load_calendar
from smartcity.services import licences
from smartcity.services.models import Application
from smartcity.services.types import BASE_NAME

_APPEAL = (
    "如对决定有异议，可以自收到本通知之日起六十日内依法申请行政复议，或者六个月内依法提起行政诉讼。"
)


def _text(value: Any, fallback: str = "（未说明）") -> str:
    text = str(value or "").strip()
    return text or fallback


# The key under which notify_applicant hands the notices the case's due date, written as the
# pages write it (the engine's one deadline, ``case_deadline``, and ``format_day``).
DUE_KEY = "_due_date"


def _due(fields: Mapping[str, Any]) -> str:
    return str(fields.get(DUE_KEY) or "")


# Each step's notice: (title, body) from the case, the step's fields and the licence number.
Notice = Callable[[CaseRecord, Mapping[str, Any], str | None], tuple[str, str]]

NOTICES: dict[str, Notice] = {
    "accept": lambda c, f, n: (
        f"申请已受理：{c.title}",
        f"您的申请（办件编号 {c.number}）已受理，承诺于{_due(f)}前办结。",
    ),
    "not_accept": lambda c, f, n: (
        f"申请不予受理：{c.title}",
        f"您的申请（办件编号 {c.number}）不予受理。理由：{_text(f.get('reason'))}。{_APPEAL}",
    ),
    "review": lambda c, f, n: (
        f"申请进入审查：{c.title}",
        f"您的申请（办件编号 {c.number}）已进入审查环节。",
    ),
    "request_supplement": lambda c, f, n: (
        f"请补正材料：{c.title}",
        f"您的申请（办件编号 {c.number}）需要补正：{_text(f.get('missing'))}。"
        "请登录网上办事大厅提交补正材料；补正期间办理时限暂停计算。",
    ),
    "supplement": lambda c, f, n: (
        f"补正材料已收到：{c.title}",
        f"您为办件 {c.number} 提交的补正材料已收到，审查继续，办理时限恢复计算，"
        f"承诺于{_due(f)}前办结。",
    ),
    "approve": lambda c, f, n: (
        f"准予许可：{c.title}",
        f"您的申请（办件编号 {c.number}）已准予许可。"
        + (f"证照编号 {n}，可在“我的证照”查看、打印和下载。" if n else ""),
    ),
    "refuse": lambda c, f, n: (
        f"不予许可：{c.title}",
        f"您的申请（办件编号 {c.number}）不予许可。理由：{_text(f.get('reason'))}。{_APPEAL}",
    ),
    "deliver": lambda c, f, n: (
        f"已送达：{c.title}",
        f"办件 {c.number} 的许可决定已送达，办件办结。欢迎对本次服务作出评价。",
    ),
}


def _generic(case_: CaseRecord, step: StepTaken) -> tuple[str, str]:
    transition = get_case_type(case_.case_type).transition(step.name)
    label = transition.title if transition else step.name
    return f"办件进度：{case_.title}", f"您的办件 {case_.number} 已办理“{label}”。"


async def application_link(session: AsyncSession, case_: CaseRecord) -> str:
    """The applicant's page of the application behind the case."""
    app_id = (
        await session.execute(select(Application.id).where(Application.case_id == case_.id))
    ).scalar_one_or_none()
    return f"/my/applications/{app_id}" if app_id else "/my/applications"


async def notify_applicant(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    """Tell the applicant what the step means for them (every step of an application)."""
    if case_.applicant_account_id is None:
        return
    number: str | None = None
    if step.name == "approve":
        licence = await licences.licence_for_case(session, case_.id)
        number = licence.number if licence else None
    notice = NOTICES.get(step.name)
    calendar = await load_calendar(session)
    due = case_deadline(case_, calendar, clock.now()).due_date
    fields = {**step.fields, DUE_KEY: format_day(due, "zh_CN")}
    title, body = notice(case_, fields, number) if notice else _generic(case_, step)
    await notifications.notify(
        session,
        case_.applicant_account_id,
        topic=f"{BASE_NAME}.{step.name}",
        title=title,
        body=body,
        link=await application_link(session, case_),
    )
