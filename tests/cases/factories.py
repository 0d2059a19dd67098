"""The sample case type the tests declare (an administrative licence application) and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import service
from smartcity.cases.models import Case
from smartcity.cases.types import CaseType, Limits, State, Transition
from smartcity.core.authz import Principal
from smartcity.core.models import Account, Department
from smartcity.core.module import Module, install
from tests.core import factories

STAFF = frozenset({"department"})

APPLICATION = CaseType(
    name="test.application",
    title="行政许可申请",
    prefix="SQ",
    states=(
        State("submitted", "申报"),
        State("accepted", "受理"),
        State("not_accepted", "不予受理", "final"),
        State("reviewing", "审查"),
        State("awaiting_supplement", "补正", "waiting_applicant"),
        State("approved", "准予许可"),
        State("refused", "不予许可", "final"),
        State("delivered", "送达", "final"),
    ),
    initial="submitted",
    transitions=(
        Transition("accept", "受理", ("submitted",), "accepted", STAFF),
        Transition("not_accept", "不予受理", ("submitted",), "not_accepted", STAFF, ("reason",)),
        Transition("review", "审查", ("accepted",), "reviewing", frozenset({"assignee"})),
        Transition(
            "request_supplement",
            "要求补正",
            ("reviewing",),
            "awaiting_supplement",
            frozenset({"assignee"}),
            ("reason",),
        ),
        Transition(
            "supplement", "补正", ("awaiting_supplement",), "reviewing", frozenset({"applicant"})
        ),
        Transition("approve", "准予许可", ("reviewing",), "approved", frozenset({"assignee"})),
        Transition(
            "refuse", "不予许可", ("reviewing",), "refused", frozenset({"assignee"}), ("reason",)
        ),
        Transition("deliver", "送达", ("approved",), "delivered", STAFF),
    ),
    limits=Limits(
        statutory_days=20,
        promised_days=10,
        step_days=(("submitted", 2), ("reviewing", 5)),
        warning_share=0.8,
    ),
)


def variant(**changes: Any) -> CaseType:
    """The sample type with some fields replaced, for the validation tests."""
    return replace(APPLICATION, **changes)


def with_test_module(monkeypatch: pytest.MonkeyPatch, *declarations: object) -> Iterator[None]:
    """Install the platform plus a test module declaring the sample type (and any other
    declarations), also for every app or CLI command built meanwhile (they call
    ``smartcity.app.modules()``); the real platform again afterwards."""
    from smartcity import app

    real = app.modules
    extra = Module(
        name="tests.cases", extends=(APPLICATION, *declarations), extra={"package": "tests.cases"}
    )

    def modules() -> list[Module]:
        return [*real(), extra]

    monkeypatch.setattr(app, "modules", modules)
    install(modules())
    try:
        yield
    finally:
        install(real())


async def department(session: AsyncSession, code: str) -> Department:
    found = (
        await session.execute(select(Department).where(Department.code == code))
    ).scalar_one_or_none()
    if found is not None:
        return found
    return await factories.create_department(session, code=code, name=code)


async def person(
    session: AsyncSession, kind: str, code: str | None = None
) -> tuple[Account, Principal]:
    dep = await department(session, code) if code else None
    account = await factories.create_account(session, kind=kind, department=dep)
    return account, factories.principal(account)


@dataclass
class World:
    """A department with an officer and a colleague, another department, an applicant and a
    supervisor."""

    officer: Account
    officer_p: Principal
    colleague_p: Principal
    outsider: Account
    outsider_p: Principal
    applicant: Account
    applicant_p: Principal
    stranger_p: Principal
    supervisor_p: Principal


async def world(session: AsyncSession) -> World:
    officer, officer_p = await person(session, "staff", "SCJGJ")
    _c, colleague_p = await person(session, "staff", "SCJGJ")
    outsider, outsider_p = await person(session, "staff", "GAJ")
    applicant, applicant_p = await person(session, "citizen")
    _s, stranger_p = await person(session, "citizen")
    _v, supervisor_p = await person(session, "supervisor", "ZWSJJ")
    return World(
        officer,
        officer_p,
        colleague_p,
        outsider,
        outsider_p,
        applicant,
        applicant_p,
        stranger_p,
        supervisor_p,
    )


async def open_application(session: AsyncSession, w: World, title: str = "食品经营许可") -> Case:
    return await service.open_case(
        session,
        w.applicant_p,
        case_type=APPLICATION.name,
        title=title,
        department_code="SCJGJ",
        data={"shop": "老街面馆"},
    )
