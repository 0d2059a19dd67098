"""The work order (工单) as a case type on the case engine, and the kinds of request (诉求类型)
with their limits in working days.

Who holds the order moves with it: the 12345 centre (受理, 派单, 回访) and the handling
department (签收, 办理, 答复) take their steps as the case's current department, so the engine's
"department" rule decides who may act; the hotline transfers the case at each handover."""

from __future__ import annotations

from typing import Literal

from smartcity.cases.contract import CaseType, Limits, State, Transition
from smartcity.core.i18n import N_

BASE_NAME = "hotline."
ORDER_TYPE = "hotline.order"

Kind = Literal["consultation", "help", "complaint", "report", "suggestion", "praise"]
KINDS: tuple[Kind, ...] = ("consultation", "help", "complaint", "report", "suggestion", "praise")
KIND_TITLES: dict[str, str] = {
    "consultation": N_("Consultation"),
    "help": N_("Request for help"),
    "complaint": N_("Complaint"),
    "report": N_("Report of wrongdoing"),
    "suggestion": N_("Suggestion"),
    "praise": N_("Praise"),
}
# The limits' defaults (settings override them): one bureau's published rules give 3 working
# days for a consultation or a request for help, 13 for a complaint or a report; suggestions
# and praise follow the common 5-day rule (reference §6.1).
DEFAULT_LIMIT_DAYS: dict[str, int] = {
    "consultation": 3,
    "help": 3,
    "complaint": 13,
    "report": 13,
    "suggestion": 5,
    "praise": 5,
}

Rating = Literal["satisfied", "basically_satisfied", "dissatisfied"]
RATINGS: tuple[Rating, ...] = ("satisfied", "basically_satisfied", "dissatisfied")
RATING_TITLES: dict[str, str] = {
    "satisfied": N_("Satisfied"),
    "basically_satisfied": N_("Basically satisfied"),
    "dissatisfied": N_("Dissatisfied"),
}
# 不满意 twice re-handled (重办); the third goes to the supervisors (督办).
MAX_REWORKS = 2
# 退单: a mis-routed order goes back within 2 working days of its dispatch (reference §6.1).
RETURN_WITHIN_DAYS = 2
# The new clock of a re-handling (重办): its own step limit, restarted at each 重办.
REWORK_DAYS = 5
# 延期: at most 10 working days in all per order, asked for by the handling department and
# approved by the 12345 centre (settings may allow fewer).
MAX_EXTENSION_DAYS = 10

STATE_TITLES: dict[str, str] = {
    "accepted": N_("Received, awaiting dispatch"),
    "dispatched": N_("Dispatched"),
    "handling": N_("Being handled"),
    "replied": N_("Answered, awaiting follow-up"),
    "returned": N_("Returned to the dispatcher"),
    "reworking": N_("Being handled again"),
    "escalated": N_("With the supervisors"),
    "closed": N_("Closed"),
}

HOLDER = frozenset({"department"})
# 回访 online: the caller rates the answer themself (网上评价), the same outcomes as the call.
CALLER = frozenset({"applicant"})
# Steps the caller takes online instead of the centre's call, by the call's step name.
ONLINE_STEPS: dict[str, str] = {
    "visit": "visit_online",
    "rework": "rework_online",
    "escalate": "escalate_online",
}

# The case engine's titles are msgids, so the case desk shows them in the reader's language.
ORDER = CaseType(
    name=ORDER_TYPE,
    title=N_("12345 hotline work order"),
    prefix="GD",
    states=(
        State("accepted", STATE_TITLES["accepted"]),
        State("dispatched", STATE_TITLES["dispatched"]),
        State("handling", STATE_TITLES["handling"]),
        State("replied", STATE_TITLES["replied"]),
        State("returned", STATE_TITLES["returned"]),
        State("reworking", STATE_TITLES["reworking"]),
        State("escalated", STATE_TITLES["escalated"]),
        State("closed", STATE_TITLES["closed"], "final"),
    ),
    initial="accepted",
    transitions=(
        Transition("dispatch", N_("Dispatch"), ("accepted", "returned"), "dispatched", HOLDER),
        Transition("sign", N_("Sign for it"), ("dispatched",), "handling", HOLDER),
        Transition(
            "return",
            N_("Return to the dispatcher"),
            ("dispatched", "handling"),
            "returned",
            HOLDER,
            ("reason",),
        ),
        Transition(
            "transfer", N_("Pass on"), ("dispatched", "handling"), "dispatched", HOLDER, ("reason",)
        ),
        Transition(
            "reply", N_("Send the answer"), ("handling", "reworking"), "replied", HOLDER, ("reply",)
        ),
        Transition("visit", N_("Follow up and close"), ("replied",), "closed", HOLDER, ("rating",)),
        Transition("rework", N_("Re-handle"), ("replied",), "reworking", HOLDER, ("rating",)),
        Transition(
            "escalate",
            N_("Escalate to the supervisors"),
            ("replied",),
            "escalated",
            HOLDER,
            ("rating",),
        ),
        Transition(
            "visit_online", N_("Rate online and close"), ("replied",), "closed", CALLER, ("rating",)
        ),
        Transition(
            "rework_online",
            N_("Rate online: re-handle"),
            ("replied",),
            "reworking",
            CALLER,
            ("rating",),
        ),
        Transition(
            "escalate_online",
            N_("Rate online: escalate"),
            ("replied",),
            "escalated",
            CALLER,
            ("rating",),
        ),
        Transition(
            "close_escalated",
            N_("Close the order"),
            ("escalated",),
            "closed",
            frozenset({"supervisor"}),
            ("opinion",),
        ),
        Transition(
            "close_at_intake", N_("Close at intake"), ("accepted",), "closed", HOLDER, ("answer",)
        ),
    ),
    # Each order gets its kind's limit when it is opened; this is only the engine's fallback.
    limits=Limits(
        statutory_days=13,
        step_days=(("reworking", REWORK_DAYS),),
        max_extension_days=MAX_EXTENSION_DAYS,
    ),
    # 答复's answer, 回访's rating and what the caller said, in the engine's timeline
    field_labels=(
        ("reply", N_("The answer")),
        ("answer", N_("The answer")),
        ("rating", N_("Rating")),
        ("comment", N_("What the caller said")),
    ),
    field_values=tuple(("rating", code, title) for code, title in RATING_TITLES.items()),
)

# The timeline's lines in the city's words (the engine's "open" and "transferred" included).
STEP_TITLES: dict[str, str] = {
    "open": N_("Order received"),
    "dispatch": N_("Dispatched to a department"),
    "sign": N_("Signed for"),
    "return": N_("Returned to the dispatcher"),
    "transfer": N_("Passed on to another department"),
    "reply": N_("Answer sent"),
    "visit": N_("Followed up and closed"),
    "visit_online": N_("Rated online and closed"),
    "rework_online": N_("Rated online: to be handled again"),
    "escalate_online": N_("Rated online: sent to the supervisors"),
    "rework": N_("Sent back to be handled again"),
    "escalate": N_("Sent to the supervisors"),
    "close_escalated": N_("Closed by the supervisors"),
    "close_at_intake": N_("Answered at intake and closed"),
    "transferred": N_("Handed to"),
    # 延期, on the order page's "done" notice
    "extension": N_("Extension asked for"),
    "extension_decided": N_("Extension decided"),
}
