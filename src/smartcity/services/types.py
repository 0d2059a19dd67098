"""The application case type (行政许可申请办件), declared for the case engine.

The engine keeps limits per case type, not per case, so each distinct pair of statutory and
promised limits (法定时限, 承诺时限) of the service items is its own registered type:
``services.application`` for the default pair, ``services.application.<s>-<p>`` for others.
"""

from __future__ import annotations

from dataclasses import replace

from smartcity.cases.types import CaseType, Limits, State, Transition, register_case_type

BASE_NAME = "services.application"
DEPARTMENT = frozenset({"department"})
APPLICANT = frozenset({"applicant"})
# Acceptance (受理) is decided within five working days (行政许可法 第三十二条).
ACCEPT_DAYS = 5

APPLICATION = register_case_type(
    CaseType(
        name=BASE_NAME,
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
            Transition("accept", "受理", ("submitted",), "accepted", DEPARTMENT),
            Transition(
                "not_accept", "不予受理", ("submitted",), "not_accepted", DEPARTMENT, ("reason",)
            ),
            Transition("review", "审查", ("accepted",), "reviewing", DEPARTMENT),
            Transition(
                "request_supplement",
                "要求补正",
                ("reviewing",),
                "awaiting_supplement",
                DEPARTMENT,
                ("missing",),
            ),
            Transition("supplement", "补正", ("awaiting_supplement",), "reviewing", APPLICANT),
            Transition("approve", "准予许可", ("reviewing",), "approved", DEPARTMENT),
            Transition("refuse", "不予许可", ("reviewing",), "refused", DEPARTMENT, ("reason",)),
            Transition("deliver", "送达", ("approved",), "delivered", DEPARTMENT),
        ),
        limits=Limits(statutory_days=20, promised_days=10, step_days=(("submitted", ACCEPT_DAYS),)),
    )
)


def type_name(statutory_days: int, promised_days: int) -> str:
    """The case type name for a pair of limits in working days."""
    limits = APPLICATION.limits
    if (statutory_days, promised_days) == (limits.statutory_days, limits.promised_days):
        return BASE_NAME
    return f"{BASE_NAME}.{statutory_days}-{promised_days}"


def application_type(statutory_days: int, promised_days: int) -> CaseType:
    """The registered application type with these limits (registered on first use)."""
    step = min(ACCEPT_DAYS, statutory_days)
    return register_case_type(
        replace(
            APPLICATION,
            name=type_name(statutory_days, promised_days),
            limits=Limits(
                statutory_days=statutory_days,
                promised_days=promised_days,
                step_days=(("submitted", step),),
            ),
        )
    )
