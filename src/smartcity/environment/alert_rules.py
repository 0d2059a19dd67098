"""Alerts at the AQI category thresholds (空气质量预警): threshold rules of the sensing
engine on the hourly AQI ObservedProperty, so they cover every station, raise alerts on the
staff page /sensing/alerts and notify 生态环境局 (STHJJ) when that department exists.

- AQI above 100 (轻度污染及以上): warning;
- AQI above 200 (重度污染及以上): critical;

each resolving only once the AQI is back at or below the line minus ``HYSTERESIS``, so an
hour hovering at 100 does not raise and resolve an alert every hour. They are declared
(``DECLARED_RULES``, in the module's ``MODULE.extends``) and made through the sensing
contract's ``ensure_declared_rules``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal, authorize
from smartcity.environment.stations import AQI_HOURLY_DEFINITION
from smartcity.sensing import contract as sensing
from smartcity.sensing.contract import DeclaredRule

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

DECLARED_RULES = tuple(
    DeclaredRule(
        observed_property=AQI_HOURLY_DEFINITION,
        kind=sensing.THRESHOLD,
        params={"op": sensing.ABOVE, "value": threshold.value, "hysteresis": HYSTERESIS},
        name=threshold.name,
        severity=threshold.severity,
        department_code=DEPARTMENT_CODE,
        key=("op", "value"),  # a rule at the same line is this one, whatever its hysteresis
    )
    for threshold in THRESHOLDS
)
"""The environment's rules in the sensing engine, listed in its MODULE.extends."""


async def ensure_alert_rules(session: AsyncSession, principal: Principal) -> list[sensing.Rule]:
    """The two threshold rules on the hourly AQI, made when missing (idempotent). A rule an
    operator deactivated stays as it is: only a missing one is made again. Returns the rules
    made now."""
    authorize(principal, "environment.air.alert_rules")
    from smartcity.environment.streams import ensure_observed_property

    await ensure_observed_property(session, AQI_HOURLY_DEFINITION)
    return await sensing.ensure_declared_rules(
        session, principal, observed_property=AQI_HOURLY_DEFINITION
    )
