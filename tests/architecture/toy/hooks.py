"""The toy domain's transition hook: the applicant is told of every step, in its transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases.contract import CaseRecord, StepTaken
from smartcity.core import notifications
from smartcity.core.authz import Principal

TOPIC_PREFIX = "toy.permit."


async def tell_applicant(
    session: AsyncSession, principal: Principal, case_: CaseRecord, step: StepTaken
) -> None:
    if case_.applicant_account_id is None:
        return
    await notifications.notify(
        session,
        case_.applicant_account_id,
        topic=f"{TOPIC_PREFIX}{step.name}",
        title=f"{case_.number}: {step.from_state} → {step.to_state}",
        link=f"/toy/permits/{case_.id}",
    )
