"""A new domain needs only its own folder and one line in ``modules()``: the toy domain
(tests/architecture/toy/) declares a case type with a transition hook, a sensing rule and a
page; built into the app, its case opens and moves, its hook runs inside the step, its rule
is made and raises an alert, its page renders from its own template, and the route walk
still finds every route guarded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.db import Database
from smartcity.core.models import Notification
from smartcity.core.module import install
from smartcity.core.security import issue_access_token
from smartcity.sensing import contract as sensing
from smartcity.sensing.rules.models import SensingAlert
from smartcity.settings import Settings, get_settings
from tests.architecture import toy
from tests.cases.factories import world
from tests.core.test_routes_guarded import guard_of
from tests.sensing.rule_helpers import feed, station


@pytest.fixture
def toy_app(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    from smartcity import app

    real = app.modules
    monkeypatch.setattr(app, "modules", lambda: [*real(), toy.MODULE])  # the one line
    yield app.create_app(settings, database=database)
    install(real())


@pytest.fixture
async def toy_client(toy_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=toy_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_the_toy_domain_opens_moves_hooks_and_shows_its_case(
    session: AsyncSession, toy_client: httpx.AsyncClient
) -> None:
    w = await world(session)
    case_ = await cases.open_case(
        session,
        w.applicant_p,
        case_type=toy.types.NAME,
        title="玩具许可申请",
        department_code="SCJGJ",
    )
    assert case_.number.startswith("TY-") and case_.state == "submitted"
    case_ = await cases.transition(session, w.officer_p, case_.id, "grant")
    assert case_.state == "granted"
    # the hook ran inside the step: the applicant was told
    notes = (
        await session.execute(select(Notification).where(Notification.account_id == w.applicant.id))
    ).scalars()
    assert [(n.topic, n.link) for n in notes] == [("toy.permit.grant", f"/toy/permits/{case_.id}")]
    await session.commit()  # the page's request reads it in its own session

    token = issue_access_token(get_settings(), w.officer, amr=["pwd", "otp"])
    r = await toy_client.get(
        f"/toy/permits/{case_.id}",
        headers={"Authorization": f"Bearer {token}", "accept": "text/html"},
    )
    assert r.status_code == 200, r.text
    assert f'<h1 class="toy-permit">{case_.number}</h1>' in r.text
    assert '<p class="toy-state">准予</p>' in r.text
    # a department the case is not with does not see it (404 problem, not the page)
    token = issue_access_token(get_settings(), w.outsider, amr=["pwd", "otp"])
    r = await toy_client.get(
        f"/toy/permits/{case_.id}",
        headers={"Authorization": f"Bearer {token}", "accept": "text/html"},
    )
    assert r.status_code == 404


def test_the_toy_page_is_guarded_and_its_type_installed(toy_app: Any) -> None:
    [route] = [r for r in toy_app.routes if getattr(r, "path", "") == "/toy/permits/{case_id}"]
    is_public, kinds = guard_of(route)
    assert not is_public and kinds == frozenset({"staff", "admin"})
    assert cases.get_case_type(toy.types.NAME) is toy.types.PERMIT


async def test_the_toy_sensing_rule_is_made_and_raises_an_alert(
    session: AsyncSession, toy_app: Any
) -> None:
    assert [
        d.name for d in sensing.declared_rules() if d.observed_property == toy.types.WATER_LEVEL
    ] == ["玩具水位超过9米"]
    prop_id, _made = await sensing.ensure_observed_property(
        session, toy.types.WATER_LEVEL, name="玩具水位", description="河道水位"
    )
    [rule] = await sensing.ensure_declared_rules(
        session, SYSTEM, observed_property=toy.types.WATER_LEVEL
    )
    assert (rule.name, rule.severity, rule.observed_property_id) == (
        "玩具水位超过9米",
        "critical",
        prop_id,
    )
    gauge = await station(session, "玩具河道", property_id=prop_id)
    await feed(session, gauge, [(clock.now(), 8.5), (clock.now(), 9.6)])
    alerts = (
        await session.scalars(select(SensingAlert).where(SensingAlert.rule_id == rule.id))
    ).all()
    assert [(a.datastream_id, a.status) for a in alerts] == [(gauge[0], "open")]


def test_without_the_line_there_is_no_toy(app: Any) -> None:
    assert not any(getattr(r, "path", "").startswith("/toy/") for r in app.routes)
    with pytest.raises(LookupError):
        cases.get_case_type(toy.types.NAME)
    assert all(d.observed_property != toy.types.WATER_LEVEL for d in sensing.declared_rules())
