"""Alerts at the AQI category thresholds (空气质量预警): threshold rules of the sensing
engine on the hourly AQI ObservedProperty, so they cover every station, raise alerts on the
staff page /sensing/alerts and notify 生态环境局 (STHJJ) when that department exists.

- AQI above 100 (轻度污染及以上): warning;
- AQI above 200 (重度污染及以上): critical;

each resolving only once the AQI is back at or below the line minus ``HYSTERESIS``, so an
hour hovering at 100 does not raise and resolve an alert every hour.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal, authorize
from smartcity.core.models import Department
from smartcity.environment.stations import AQI_HOURLY_DEFINITION
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingRule

DEPARTMENT_CODE = "STHJJ"
HYSTERESIS = 10.0


@dataclass(frozen=True)
class Threshold:
    value: float
    severity: str
    name: str  # the rule's name as staff read it (data of the city, in Chinese)


THRESHOLDS = (
    Threshold(100.0, "warning", "空气质量指数超过100（轻度污染及以上）"),
    Threshold(200.0, "critical", "空气质量指数超过200（重度污染及以上）"),
)


async def ensure_alert_rules(session: AsyncSession, principal: Principal) -> list[SensingRule]:
    """The two threshold rules on the hourly AQI, made when missing (idempotent). A rule an
    operator deactivated stays as it is: only a missing one is made again. Returns the rules
    made now."""
    authorize(principal, "environment.air.alert_rules")
    from smartcity.environment.streams import ensure_observed_property

    prop_id = await ensure_observed_property(session, AQI_HOURLY_DEFINITION)
    existing = (
        await session.scalars(
            select(SensingRule).where(
                SensingRule.observed_property_id == prop_id,
                SensingRule.kind == rules.THRESHOLD,
            )
        )
    ).all()
    have = {(r.params.get("op"), float(r.params.get("value", -1))) for r in existing}
    department_id = await session.scalar(
        select(Department.id).where(Department.code == DEPARTMENT_CODE)
    )
    made = []
    for threshold in THRESHOLDS:
        if (rules.ABOVE, threshold.value) in have:
            continue
        made.append(
            await rules.create_rule(
                session,
                principal,
                name=threshold.name,
                kind=rules.THRESHOLD,
                params={"op": rules.ABOVE, "value": threshold.value, "hysteresis": HYSTERESIS},
                severity=threshold.severity,
                observed_property_id=prop_id,
                department_id=department_id,
            )
        )
    return made
