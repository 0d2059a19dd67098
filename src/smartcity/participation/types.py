"""The words of public participation: kinds of draft, states, moderation and answers, with
their titles (English msgids, Chinese in the catalog)."""

from __future__ import annotations

from typing import Literal

from smartcity.core.i18n import N_

DraftKind = Literal["regulation", "investment", "other"]
DocumentKind = Literal["regulation", "investment"]
AnswerKind = Literal["adopted", "partly", "not_adopted"]
Decision = Literal["publish", "reject"]

KINDS: tuple[str, ...] = ("regulation", "investment", "other")
KIND_TITLES: dict[str, str] = {
    "regulation": N_("Normative document"),  # 规范性文件
    "investment": N_("Major public investment project"),  # 重大公共投资项目
    "other": N_("Other"),
}
STATES: tuple[str, ...] = ("draft", "open", "closed", "answered")
STATE_TITLES: dict[str, str] = {
    "draft": N_("Not yet published"),
    "open": N_("Open for comment"),
    "closed": N_("Comment closed"),
    "answered": N_("Adoption report published"),
}
COMMENT_STATE_TITLES: dict[str, str] = {
    "pending": N_("Awaiting moderation"),
    "published": N_("Published"),
    "rejected": N_("Not published"),
}
ANSWERS: tuple[str, ...] = ("adopted", "partly", "not_adopted")
ANSWER_TITLES: dict[str, str] = {
    "adopted": N_("Adopted"),  # 采纳
    "partly": N_("Partly adopted"),  # 部分采纳
    "not_adopted": N_("Not adopted"),  # 未采纳
}
# A window of at least this many days (征求意见期限不少于30日).
MIN_WINDOW_DAYS = 30
MAX_WINDOW_DAYS = 365
# One comment per person per article (or on the whole draft) within this many minutes.
COMMENT_INTERVAL_MINUTES = 10
COMMENT_MAX = 2000
REASON_MAX = 500
ANSWER_REASON_MAX = 2000
REPORT_MAX = 10_000
TITLE_MAX = 200
