"""The electronic supervision board (电子监察): queries across departments for supervisors.

Open cases by state and department, the yellow and red lists (黄牌/红牌), and for the cases
closed in a range of months per department, category (service item, 事项) and month: how many,
the on-time rate (按时办结率), average and 90th-percentile handling time in working days
(办理用时), the applicants' ratings (好差评) and the open irregularity flags (异常).

Every figure is one set-based query grouped in SQL, so the board costs the same few queries at
a million cases. Handling times are read as a histogram (one row per key and number of
working days), from which the average and the exact 90th percentile follow without loading a
case. Months are the city's (Asia/Shanghai, UTC+8 all year since 1991).

Who sees what: supervisors, admins and auditors every department; department staff their own
department only; anyone else nothing (403).

- `months`: ``city_month`` (the month of an instant, computed by the database), ``YYYY-MM``
  keys, their parsing and shifting, the default range.
- `names`: titles of flag kinds, clocks and levels, states' titles, categories' names as the
  domains register them.
- `scope`: ``BoardFilter`` resolved against the principal into a ``Scope``; the red, yellow
  and poor-rating conditions the figures and the lists share.
- `figures`: the figures as data (open, closed, a table's row, the tiles, the board).
- `board`: the grouped queries behind the tiles and the tables.
- `lists`: the cases and flags behind a figure (钻取).
- `export`: the tables and the case lists as CSV.

The public names are re-exported here: callers use ``supervision.board(...)`` and the like.
"""

from __future__ import annotations

from smartcity.cases.supervision.board import (
    Cell,
    board,
    by_category,
    by_department,
    by_month,
    categories,
    summary,
)
from smartcity.cases.supervision.export import TABLES, export_cases, export_table
from smartcity.cases.supervision.figures import (
    Board,
    BoardRow,
    ClosedFigures,
    OpenFigures,
    StateCount,
    Summary,
    percentile,
)
from smartcity.cases.supervision.lists import (
    EXPORT_MAX,
    LIST_MAX,
    CaseLine,
    CaseQuery,
    case_list,
    flag_list,
)
from smartcity.cases.supervision.months import (
    TREND_MONTHS,
    city_month,
    month_key,
    month_range_default,
    month_text,
)
from smartcity.cases.supervision.names import (
    CLOCK_TITLES,
    FLAG_TITLES,
    LEVEL_TITLES,
    CategoryNames,
    CategoryResolver,
    category_names,
    install_category_names,
    installed_category_names,
    state_title,
)
from smartcity.cases.supervision.scope import (
    BOARD_KINDS,
    MAX_MONTHS,
    POOR_SCORE,
    BoardFilter,
    Scope,
    may_see_board,
    resolve,
)

__all__ = [
    "BOARD_KINDS",
    "CLOCK_TITLES",
    "EXPORT_MAX",
    "FLAG_TITLES",
    "LEVEL_TITLES",
    "LIST_MAX",
    "MAX_MONTHS",
    "POOR_SCORE",
    "TABLES",
    "TREND_MONTHS",
    "Board",
    "BoardFilter",
    "BoardRow",
    "CaseLine",
    "CaseQuery",
    "CategoryNames",
    "CategoryResolver",
    "Cell",
    "ClosedFigures",
    "OpenFigures",
    "Scope",
    "StateCount",
    "Summary",
    "board",
    "by_category",
    "by_department",
    "by_month",
    "case_list",
    "categories",
    "category_names",
    "city_month",
    "export_cases",
    "export_table",
    "flag_list",
    "install_category_names",
    "installed_category_names",
    "may_see_board",
    "month_key",
    "month_range_default",
    "month_text",
    "percentile",
    "resolve",
    "state_title",
    "summary",
]
