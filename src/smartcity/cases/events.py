"""The case engine's topics (办件事件), each with its payload. Publishers and subscribers import
the topic from here, so no topic string is written twice.

Every change on a case's timeline publishes a ``CaseChanged`` (the timeline line's kind, name
and states, plus what the change adds, e.g. a step's ``fields``); the keys are those webhook
subscribers and NATS consumers have always read.
"""

from __future__ import annotations

from smartcity.core.bus import Payload, Topic


class CaseChanged(Payload):
    """A line on a case's timeline; further keys (``fields``, ``officer``, ``reason`` ...)
    say what the change was."""

    case_id: str
    number: str
    case_type: str
    kind: str
    name: str
    from_state: str
    to_state: str
    department_id: str


class CaseFlagged(Payload):
    """An irregularity raised on a case for supervisors (电子监察异常); further keys are the
    flag's detail."""

    case_id: str
    number: str
    case_type: str
    department_id: str
    flag: str


class WarningRaised(Payload):
    """A clock of a case passed its yellow instant or its end (黄牌/红牌预警)."""

    case_id: str
    number: str
    case_type: str
    department_id: str
    clock: str
    level: str
    due_at: str  # ISO 8601


class ClockRecomputed(Payload):
    """A case's provisional clocks were recomputed once its year's calendar was entered."""

    case_id: str
    number: str


OPENED = Topic("cases.case.opened", CaseChanged)
ASSIGNED = Topic("cases.case.assigned", CaseChanged)
TRANSFERRED = Topic("cases.case.transferred", CaseChanged)
TRANSITIONED = Topic("cases.case.transitioned", CaseChanged)
CLOCK_PAUSED = Topic("cases.case.clock_paused", CaseChanged)
CLOCK_RESUMED = Topic("cases.case.clock_resumed", CaseChanged)
CLOCK_EXTENDED = Topic("cases.case.clock_extended", CaseChanged)
CORRECTED = Topic("cases.case.corrected", CaseChanged)
COMMENTED = Topic("cases.case.commented", CaseChanged)
ATTACHMENT_ADDED = Topic("cases.case.attachment_added", CaseChanged)
RATED = Topic("cases.case.rated", CaseChanged)
URGED = Topic("cases.case.urged", CaseChanged)
URGE_REPLIED = Topic("cases.case.urge_replied", CaseChanged)
FLAG_REVIEWED = Topic("cases.case.flag_reviewed", CaseChanged)
FLAGGED = Topic("cases.case.flagged", CaseFlagged)
WARNING_RAISED = Topic("cases.case.warning_raised", WarningRaised)
CLOCK_RECOMPUTED = Topic("cases.case.clock_recomputed", ClockRecomputed)
