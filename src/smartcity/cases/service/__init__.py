"""The case engine's services (办件服务): open, transition, assign, transfer, queue, timeline.

Clock rule (计时规则): every clock counts working days (工作日) after the day it starts (the day
itself is not counted) and ends at 24:00 of its last working day. A case in a state that waits
for the applicant (补正) is paused; on leaving that state the working days of the pause, counted
as the working days after the pause's day up to and including the resume's day, are added to
the statutory and promised limits (so a pause and resume on one day moves nothing, and a pause
over a holiday counts only the working days, 调休 included). The step clock (环节时限) restarts
whenever the case enters a new state.

- `access`: the actions and rules, the cases a principal may read, one readable case, who
  may take a step.
- `limits`: the clocks' ends and yellow instants (``compute_clocks``).
- `events`: the timeline line, audit entry and bus event of every change; the timeline;
  notes, files and the applicant's rating on it.
- `assignment`: the department a code names, 分派 and 转办.
- `opening`: 立案, with the day's next case number.
- `steps`: 流转 with its pause and resume, and 纠错.
- `queue`: the work queue by urgency and the desk's tabs with their counts.
- `desk`: what the staff pages show beside the queue (days left, officers, departments,
  display names).

The public names are re-exported here: callers use ``service.open_case(...)`` and the like.
"""

from __future__ import annotations

from smartcity.cases.service.access import ACTIONS, RULES, get_case, may_take, readable_cases
from smartcity.cases.service.assignment import REASON_MAX, assign, transfer
from smartcity.cases.service.desk import (
    active_departments,
    department_officers,
    display_names,
)
from smartcity.cases.service.events import (
    COMMENT_MAX,
    RATING_COMMENT_MAX,
    comment,
    rate,
    record_attachment,
    timeline,
)
from smartcity.cases.service.limits import compute_clocks, open_case_filter
from smartcity.cases.service.opening import CATEGORY_MAX, NUMBER_ATTEMPTS, TITLE_MAX, open_case
from smartcity.cases.service.queue import QUEUE_TABS, desk_counts, desk_queue, work_queue
from smartcity.cases.service.steps import OPINION_MAX, check_transition, correct, transition

__all__ = [
    "ACTIONS",
    "CATEGORY_MAX",
    "COMMENT_MAX",
    "NUMBER_ATTEMPTS",
    "OPINION_MAX",
    "QUEUE_TABS",
    "RATING_COMMENT_MAX",
    "REASON_MAX",
    "RULES",
    "TITLE_MAX",
    "active_departments",
    "assign",
    "check_transition",
    "comment",
    "compute_clocks",
    "correct",
    "department_officers",
    "desk_counts",
    "desk_queue",
    "display_names",
    "get_case",
    "may_take",
    "open_case",
    "open_case_filter",
    "rate",
    "readable_cases",
    "record_attachment",
    "timeline",
    "transfer",
    "transition",
    "work_queue",
]
