"""What a domain may use of the case engine (办件引擎), and nothing else: open a case and take
its steps, read it, its timeline, clocks, deadline (``case_deadline``) and rating, raise a
supervision flag, the engine's verdict on closed cases (``closed_outcomes``) for a domain's
own figures, and the declarations a domain lists in its ``MODULE.extends`` (case types,
transition hooks, case panels, board panels, category names). Domains import the engine only
from here (import-linter checks it).

The engine's functions hand back its own rows; a domain reads them through the read-only
protocols ``CaseRecord``, ``CaseEventRecord`` and ``CaseRatingRecord`` and never imports the
engine's models.
"""

from __future__ import annotations

from smartcity.cases.clocks import sweep_warnings
from smartcity.cases.deadline import (
    CLOCK_NAMES,
    STATES,
    ClockName,
    Deadline,
    DeadlineState,
    case_deadline,
    format_day,
)
from smartcity.cases.flags import raise_flag, review_flag
from smartcity.cases.hooks import (
    BoardBuilder,
    BoardPanel,
    BoardRange,
    CaseEventRecord,
    CasePanel,
    CaseRatingRecord,
    CaseRecord,
    OnRead,
    OnTransition,
    Panel,
    PanelBuilder,
    ReadHook,
    StepTaken,
    TransitionHook,
)
from smartcity.cases.service import (
    TITLE_MAX,
    correct,
    get_case,
    open_case,
    rate,
    record_attachment,
    timeline,
    transition,
)
from smartcity.cases.service.assignment import transfer
from smartcity.cases.service.extension import EXTENSION_REASON_MAX, extend_limit
from smartcity.cases.service.lookup import (
    OpenFlag,
    case_by_id,
    case_ids_with_step,
    cases_by_id,
    closed_outcomes,
    department_case_ids,
    open_flags,
    rating_of,
    supplement_steps,
)
from smartcity.cases.service.urging import reply as reply_urge
from smartcity.cases.service.urging import urge
from smartcity.cases.supervision.names import CategoryNames, CategoryResolver
from smartcity.cases.types import (
    CaseType,
    CaseTypeError,
    Limits,
    State,
    Transition,
    case_types,
    get_case_type,
)

__all__ = [
    "CLOCK_NAMES",
    "EXTENSION_REASON_MAX",
    "STATES",
    "TITLE_MAX",
    "BoardBuilder",
    "BoardPanel",
    "BoardRange",
    "CaseEventRecord",
    "CasePanel",
    "CaseRatingRecord",
    "CaseRecord",
    "CaseType",
    "CaseTypeError",
    "CategoryNames",
    "CategoryResolver",
    "ClockName",
    "Deadline",
    "DeadlineState",
    "Limits",
    "OnRead",
    "OnTransition",
    "OpenFlag",
    "Panel",
    "PanelBuilder",
    "ReadHook",
    "State",
    "StepTaken",
    "Transition",
    "TransitionHook",
    "case_by_id",
    "case_deadline",
    "case_ids_with_step",
    "case_types",
    "cases_by_id",
    "closed_outcomes",
    "correct",
    "department_case_ids",
    "extend_limit",
    "format_day",
    "get_case",
    "get_case_type",
    "open_case",
    "open_flags",
    "raise_flag",
    "rate",
    "rating_of",
    "record_attachment",
    "reply_urge",
    "review_flag",
    "supplement_steps",
    "sweep_warnings",
    "timeline",
    "transfer",
    "transition",
    "urge",
]
