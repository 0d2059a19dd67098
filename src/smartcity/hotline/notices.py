"""Messages to the caller at each step of their order (办理进度通知), through core
notifications: the inbox and whatever outside channels the city configured."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import CaseRecord, StepTaken
from smartcity.core.authz import Principal
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.notifications import notify
from smartcity.hotline.models import WorkOrder

# What the caller is told of each step; the department's internal handovers say nothing new.
STEP_MESSAGES: dict[str, str] = {
    "dispatch": N_("Your request %(number)s has been sent to the department that handles it."),
    "sign": N_("The department has taken on your request %(number)s."),
    "return": N_("Your request %(number)s is being sent to the right department."),
    "transfer": N_("Your request %(number)s has been passed to another department."),
    "reply": N_("The department has answered your request %(number)s. Please rate the answer."),
    "visit": N_("Your request %(number)s is closed. Thank you for your rating."),
    "rework": N_("Your request %(number)s is being handled again."),
    "escalate": N_("Your request %(number)s has gone to the supervisors."),
    "visit_online": N_("Your request %(number)s is closed. Thank you for your rating."),
    "rework_online": N_("Your request %(number)s is being handled again."),
    "escalate_online": N_("Your request %(number)s has gone to the supervisors."),
    "close_escalated": N_("The supervisors have closed your request %(number)s."),
    "close_at_intake": N_("Your consultation %(number)s was answered and is closed."),
}


async def notify_caller(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    """Tell the caller's account what just happened to their order (none if anonymous)."""
    message = STEP_MESSAGES.get(step.name)
    if message is None:
        return
    order = (
        await session.execute(select(WorkOrder).where(WorkOrder.case_id == case_.id))
    ).scalar_one_or_none()
    # The intake step runs before the order row is written; create_order tells the caller.
    account_id = order.caller_account_id if order is not None else case_.applicant_account_id
    if account_id is None:
        return
    body = str(step.fields.get("reply") or step.fields.get("answer") or "")
    await notify(
        session,
        account_id,
        topic=f"hotline.order.{step.name}",
        title=_(message) % {"number": case_.number},
        body=body,
        link=f"/hotline/orders/{order.id}" if order is not None else "/my/requests",
    )
