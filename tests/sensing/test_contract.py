"""sensing.contract: what a domain may use. Declared rules (made once, an operator's
deactivation kept, refused at start-up when declared twice or malformed), entities ensured
by a domain's key, and reads that follow the engine's access rules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.app import modules
from smartcity.core.authz import SYSTEM
from smartcity.core.module import ModuleError, install
from smartcity.environment.stations import POLLUTANT_DEFINITIONS
from smartcity.sensing import contract
from smartcity.sensing.rules import service as rules
from tests.environment.factories import air_station

DEFINITION = "https://smartcity.invalid/op/toy-level"
TOY = (
    contract.DeclaredRule(
        observed_property=DEFINITION,
        kind=contract.THRESHOLD,
        params={"op": contract.ABOVE, "value": 5, "hysteresis": 1.0},
        name="玩具水位超过5",
    ),
    contract.DeclaredRule(
        observed_property=DEFINITION,
        kind=contract.THRESHOLD,
        params={"op": contract.ABOVE, "value": 9.0},
        name="玩具水位超过9",
        severity="critical",
    ),
)


@pytest.fixture(autouse=True)
def _platform_again() -> Iterator[None]:
    yield
    install(modules())  # the platform's own declarations again, whatever a test installed


async def _count(session: AsyncSession, prop_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(rules.SensingRule)
        .where(rules.SensingRule.observed_property_id == prop_id)
    )
    return int(found or 0)


def test_the_platform_declares_the_aqi_rules() -> None:
    names = {d.name for d in contract.declared_rules()}
    assert "空气质量指数超过100（轻度污染及以上）" in names
    assert "空气质量指数超过200（重度污染及以上）" in names


async def test_declared_rules_wait_for_their_property_then_are_made_once(
    session: AsyncSession,
) -> None:
    contract.install_declared_rules(TOY)
    assert await contract.ensure_declared_rules(session, SYSTEM) == []  # no property yet
    prop_id, made = await contract.ensure_observed_property(
        session, DEFINITION, name="玩具水位", description="测试用"
    )
    assert made
    assert (prop_id, False) == await contract.ensure_observed_property(
        session, DEFINITION, name="another name", description="ignored"
    )
    first = await contract.ensure_declared_rules(session, SYSTEM, observed_property=DEFINITION)
    assert [(r.name, r.severity, r.params["value"]) for r in first] == [
        ("玩具水位超过5", "warning", 5.0),
        ("玩具水位超过9", "critical", 9.0),
    ]
    assert all(r.observed_property_id == prop_id and r.active for r in first)
    assert await contract.ensure_declared_rules(session, SYSTEM) == []
    assert await contract.DECLARED_RULES_SEEDER.run(session, SYSTEM) == 0
    assert await _count(session, prop_id) == 2


async def test_the_seeder_makes_the_declared_rules(session: AsyncSession) -> None:
    from smartcity.sensing import MODULE

    assert contract.DECLARED_RULES_SEEDER in MODULE.reference_data
    assert contract.DECLARED_RULES in MODULE.extension_points
    contract.install_declared_rules(TOY)
    prop_id, _made = await contract.ensure_observed_property(
        session, DEFINITION, name="玩具水位", description=""
    )
    assert await contract.DECLARED_RULES_SEEDER.run(session, SYSTEM) == 2
    assert await _count(session, prop_id) == 2


async def test_an_operators_changes_are_kept(session: AsyncSession) -> None:
    contract.install_declared_rules(TOY)
    await contract.ensure_observed_property(session, DEFINITION, name="玩具水位", description="")
    made = await contract.ensure_declared_rules(session, SYSTEM)
    # An operator deactivated and renamed it, with another hysteresis: still the rule at 5.
    rule = await session.get(rules.SensingRule, made[0].id)
    assert rule is not None
    rule.active, rule.name = False, "改名"
    rule.params = {**rule.params, "hysteresis": 2.0}
    await session.flush()
    assert await contract.ensure_declared_rules(session, SYSTEM) == []
    await session.refresh(rule)
    assert rule.active is False and rule.name == "改名"
    # Deleted: made again.
    await session.delete(rule)
    await session.flush()
    again = await contract.ensure_declared_rules(session, SYSTEM)
    assert [r.name for r in again] == ["玩具水位超过5"]


def test_a_rule_declared_twice_or_malformed_refuses_to_start() -> None:
    with pytest.raises(ModuleError, match="declared twice"):
        contract.install_declared_rules((*TOY, replace(TOY[0], name="同一条", severity="info")))
    with pytest.raises(ModuleError, match="玩具"):
        contract.install_declared_rules((replace(TOY[0], params={"op": "sideways"}),))


async def test_reads_follow_the_engines_access_rules(session: AsyncSession) -> None:
    station = await air_station(session, public=False)
    assert await contract.find_things(session, None, properties={"kind": "air-station"}) == []
    found = await contract.find_things(
        session, SYSTEM, properties={"kind": "air-station"}, ids=[station.thing]
    )
    assert [t.id for t in found] == [station.thing]
    assert found[0].locations and found[0].public is False
    definitions = list(POLLUTANT_DEFINITIONS.values())
    streams = await contract.datastreams_of(session, [station.thing], definitions=definitions)
    assert sorted(s.id for s in streams) == sorted(station.streams.values())
    assert {s.definition for s in streams} == set(definitions)
    assert not any(s.computed for s in streams)
    assert await contract.datastreams_of(session, [station.thing], definitions=["none"]) == []
