"""The application case type (行政许可申请办件), declared for the case engine.

One type for every service item: each case is opened with its item's statutory and promised
limits (法定时限, 承诺时限); the type's 20/10 working days are only the default.
"""

from __future__ import annotations

from smartcity.cases.contract import CaseType, Limits, State, Transition

BASE_NAME = "services.application"
DEPARTMENT = frozenset({"department"})
APPLICANT = frozenset({"applicant"})
# Acceptance (受理) is decided within five working days (行政许可法 第三十二条).
ACCEPT_DAYS = 5

APPLICATION = CaseType(
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
            "not_accept",
            "不予受理",
            ("submitted",),
            "not_accepted",
            DEPARTMENT,
            ("reason",),
            refusal=True,
            decisive=True,
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
        Transition("approve", "准予许可", ("reviewing",), "approved", DEPARTMENT, decisive=True),
        Transition(
            "refuse",
            "不予许可",
            ("reviewing",),
            "refused",
            DEPARTMENT,
            ("reason",),
            refusal=True,
            decisive=True,
        ),
        Transition("deliver", "送达", ("approved",), "delivered", DEPARTMENT),
    ),
    limits=Limits(statutory_days=20, promised_days=10, step_days=(("submitted", ACCEPT_DAYS),)),
)
