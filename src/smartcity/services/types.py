"""The application case type (行政许可申请办件), declared for the case engine. Titles are
msgids (N_): pages, messages and answers translate them where they show them.

One type for every service item: each case is opened with its item's statutory and promised
limits (法定时限, 承诺时限); the type's 20/10 working days are only the default.
"""

from __future__ import annotations

from smartcity.cases.contract import CaseType, Limits, State, Transition
from smartcity.core.i18n import N_

BASE_NAME = "services.application"
DEPARTMENT = frozenset({"department"})
APPLICANT = frozenset({"applicant"})
# Acceptance (受理) is decided within five working days (行政许可法 第三十二条).
ACCEPT_DAYS = 5

APPLICATION = CaseType(
    name=BASE_NAME,
    title=N_("Administrative licence application"),
    prefix="SQ",
    states=(
        State("submitted", N_("Application submitted")),
        State("accepted", N_("Accepted")),
        State("not_accepted", N_("Not accepted"), "final"),
        State("reviewing", N_("Under review")),
        State("awaiting_supplement", N_("Awaiting supplement"), "waiting_applicant"),
        State("approved", N_("Licence granted")),
        State("refused", N_("Licence refused"), "final"),
        State("delivered", N_("Delivered"), "final"),
    ),
    initial="submitted",
    transitions=(
        Transition("accept", N_("Accept"), ("submitted",), "accepted", DEPARTMENT),
        Transition(
            "not_accept",
            N_("Do not accept"),
            ("submitted",),
            "not_accepted",
            DEPARTMENT,
            ("reason",),
            refusal=True,
            decisive=True,
        ),
        Transition("review", N_("Start the review"), ("accepted",), "reviewing", DEPARTMENT),
        Transition(
            "request_supplement",
            N_("Ask for a supplement"),
            ("reviewing",),
            "awaiting_supplement",
            DEPARTMENT,
            ("missing",),
        ),
        Transition(
            "supplement", N_("Supplement"), ("awaiting_supplement",), "reviewing", APPLICANT
        ),
        Transition(
            "approve",
            N_("Grant the licence"),
            ("reviewing",),
            "approved",
            DEPARTMENT,
            decisive=True,
        ),
        Transition(
            "refuse",
            N_("Refuse the licence"),
            ("reviewing",),
            "refused",
            DEPARTMENT,
            ("reason",),
            refusal=True,
            decisive=True,
        ),
        Transition("deliver", N_("Deliver"), ("approved",), "delivered", DEPARTMENT),
    ),
    limits=Limits(statutory_days=20, promised_days=10, step_days=(("submitted", ACCEPT_DAYS),)),
)
