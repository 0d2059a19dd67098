"""Languages: Chinese first (zh_CN), English switchable. Catalogs are Babel .po files under
``smartcity/locale``, compiled in memory at start so no build step is needed."""

from __future__ import annotations

import io
import re
from contextvars import ContextVar
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from smartcity.core.clock import to_city

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_COOKIE = "sc_lang"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache
def translations(locale: str) -> NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


_ = gettext


_EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_day(day: date, locale: str | None = None) -> str:
    """A date as the locale writes it: 2026年12月17日 (zh_CN), 17 Dec 2026 (en); the current
    request's locale unless one is given. Due dates on pages and in messages use this one
    helper, so they name the same day the same way."""
    if (locale or current_locale.get()).startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"


def format_time(instant: datetime) -> str:
    """The city's clock time of an instant (Asia/Shanghai): 14:05 in both languages."""
    return f"{to_city(instant):%H:%M}"


def format_datetime(instant: datetime, locale: str | None = None) -> str:
    """An instant as the city's people read it, in Asia/Shanghai: 2026年12月7日 14:05
    (zh_CN), 7 Dec 2026, 14:05 (en). Every page shows times through this one helper."""
    local = to_city(instant)
    day = format_day(local.date(), locale)
    if (locale or current_locale.get()).startswith("zh"):
        return f"{day} {local:%H:%M}"
    return f"{day}, {local:%H:%M}"


_CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")


def has_chinese(text: str) -> bool:
    return bool(_CHINESE.search(text))


def pick(zh: str, en: str | None, locale: str | None = None) -> str:
    """A data name in the locale: the English one on English pages where there is one, else
    the Chinese (pages mark that fallback with web.render.data_name)."""
    if (locale or current_locale.get()).startswith("zh") or not en:
        return zh
    return en


def list_separator(locale: str | None = None) -> str:
    """Between the items of a list in running text: 、 in Chinese, a comma in English."""
    return "、" if (locale or current_locale.get()).startswith("zh") else ", "


def join_words(words: list[str], locale: str | None = None) -> str:
    """A list in running text: 工作人员、监察人员和管理员 / staff, supervisor and admin."""
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    if (locale or current_locale.get()).startswith("zh"):
        return "、".join(words[:-1]) + "和" + words[-1]
    return ", ".join(words[:-1]) + " and " + words[-1]


def N_(message: str) -> str:
    """Marks a msgid for extraction where it is translated later, e.g. a menu label."""
    return message


# Words the pages translate from data: principal kinds and roles.
VOCABULARY = (
    N_("citizen"),
    N_("enterprise"),
    N_("staff"),
    N_("supervisor"),
    N_("admin"),
    N_("system"),
    N_("device"),
    N_("auditor"),
    N_("security"),
)


def negotiate(
    cookie: str | None, accept_language: str | None, default: str = DEFAULT_LOCALE
) -> str:
    """The cookie wins; otherwise Chinese unless the browser asks only for English."""
    if cookie in LOCALES:
        return cookie
    if accept_language:
        first = accept_language.split(",")[0].strip().lower()
        if first.startswith("en"):
            return "en"
    return default
