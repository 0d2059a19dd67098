"""Splitting a pasted draft into its articles (第一条 …): the 第X条 markers at the start of a
line, numbered in Chinese numerals; chapter headings (第一章 总则) name the articles after them.
A 第X条 inside a sentence (依照本办法第三条) is a reference, not a new article."""

from __future__ import annotations

import re
from dataclasses import dataclass

from smartcity.core.i18n import N_

MAX_ARTICLES = 300
ARTICLE_MAX = 5000
BODY_MAX = 200_000
PREAMBLE_MAX = 5000
CHAPTER_MAX = 200

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}
_DIGITS |= {"七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100}
_NUMERAL = "零〇一二三四五六七八九十百两"
# A marker starts a line (after spaces, full-width ones too); the article's text follows it.
_ARTICLE = re.compile(rf"^[ \t\u3000]*第([{_NUMERAL}]+|[0-9]+)条[ \t\u3000]*", re.MULTILINE)
_CHAPTER = re.compile(rf"^[ \t\u3000]*第([{_NUMERAL}]+|[0-9]+)[章节][ \t\u3000]*.*$", re.MULTILINE)


class ArticleError(ValueError):
    """The text does not split into articles; the message says why, in English (a msgid)."""

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message)
        self.message, self.values = message, values


@dataclass(frozen=True)
class ParsedArticle:
    number: int
    text: str
    chapter: str = ""


@dataclass(frozen=True)
class ParsedDraft:
    preamble: str
    articles: tuple[ParsedArticle, ...]


def chinese_number(numeral: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 一百零五 → 105, 一〇五 → 105; Arabic digits too.
    Raises ValueError on anything that is not a numeral up to 999."""
    if numeral.isdigit():
        return int(numeral)
    if not numeral or any(ch not in _DIGITS and ch not in _UNITS for ch in numeral):
        raise ValueError(numeral)
    if not any(ch in _UNITS for ch in numeral):
        # positional digits, as in 一〇五
        value = 0
        for ch in numeral:
            value = value * 10 + _DIGITS[ch]
        if value == 0 or value > 999:
            raise ValueError(numeral)
        return value
    total, digit, last_unit = 0, None, 1000
    for ch in numeral:
        if ch in _DIGITS:
            if digit is not None and _DIGITS[ch] != 0:
                raise ValueError(numeral)
            digit = _DIGITS[ch] if _DIGITS[ch] != 0 else None
            continue
        unit = _UNITS[ch]
        if unit >= last_unit:
            raise ValueError(numeral)
        total += (1 if digit is None else digit) * unit
        digit, last_unit = None, unit
    if digit is not None:
        total += digit
    if total == 0 or total > 999:
        raise ValueError(numeral)
    return total


def chinese_numeral(number: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (how articles are labelled)."""
    digits = "零一二三四五六七八九"
    if number < 10:
        return digits[number]
    if number < 20:
        return "十" + (digits[number - 10] if number > 10 else "")
    if number < 100:
        tens, ones = divmod(number, 10)
        return digits[tens] + "十" + (digits[ones] if ones else "")
    hundreds, rest = divmod(number, 100)
    head = digits[hundreds] + "百"
    if rest == 0:
        return head
    if rest < 10:
        return head + "零" + digits[rest]
    return head + ("一" + chinese_numeral(rest) if rest < 20 else chinese_numeral(rest))


def label(number: int) -> str:
    return f"第{chinese_numeral(number)}条"


def _clean(text: str) -> str:
    return "\n".join(line.strip(" \t\u3000") for line in text.strip().splitlines()).strip()


def parse(text: str) -> ParsedDraft:
    """The preamble (the text before 第一条) and the articles, numbered 1, 2, 3 … in order."""
    if len(text) > BODY_MAX:
        raise ArticleError(N_("The text is longer than %(max)s characters."), max=BODY_MAX)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    markers = _markers(text)
    preamble_end = markers[0][1].start()
    preamble, chapter = _split_chapter(text[:preamble_end])
    if len(preamble) > PREAMBLE_MAX:
        raise ArticleError(
            N_("The text before 第一条 is longer than %(max)s characters."), max=PREAMBLE_MAX
        )
    articles: list[ParsedArticle] = []
    for index, (number, marker) in enumerate(markers):
        end = markers[index + 1][1].start() if index + 1 < len(markers) else len(text)
        body, next_chapter = _split_chapter(text[marker.end() : end])
        if not body:
            raise ArticleError(N_("%(article)s has no text."), article=label(number))
        if len(body) > ARTICLE_MAX:
            raise ArticleError(
                N_("%(article)s is longer than %(max)s characters."),
                article=label(number),
                max=ARTICLE_MAX,
            )
        articles.append(ParsedArticle(number, body, chapter))
        chapter = next_chapter or chapter
    return ParsedDraft(preamble, tuple(articles))


def _markers(text: str) -> list[tuple[int, re.Match[str]]]:
    """The article markers, numbered. A 第X条 starting a line is the next article when it
    carries the next number; one with another number is a reference that a line break put at
    the start of a line (本办法\n第三条规定…) unless a space follows it, as after a real
    marker: then the numbering has a gap or a repeat, which is refused."""
    found: list[tuple[int, re.Match[str]]] = []
    for marker in _ARTICLE.finditer(text):
        try:
            number = chinese_number(marker.group(1))
        except ValueError:
            raise ArticleError(
                N_("%(marker)s is not a numbered article."), marker=marker.group(0).strip()
            ) from None
        expected = len(found) + 1
        if number == expected:
            found.append((number, marker))
            if len(found) > MAX_ARTICLES:
                raise ArticleError(N_("A draft has at most %(max)s articles."), max=MAX_ARTICLES)
            continue
        spaced = marker.group(0) != marker.group(0).rstrip(" \t\u3000")
        if spaced:
            raise ArticleError(
                N_(
                    "%(found)s follows %(before)s: the articles must be numbered 1, 2, 3 … "
                    "without gaps or repeats."
                ),
                found=label(number),
                before=label(expected - 1) if expected > 1 else "—",
            )
    if not found:
        raise ArticleError(N_("No article found: each article starts a line with 第一条, 第二条 …"))
    return found


def _split_chapter(text: str) -> tuple[str, str]:
    """The text without chapter headings, and the last heading in it (it names what follows)."""
    headings = list(_CHAPTER.finditer(text))
    if not headings:
        return _clean(text), ""
    last = _clean(headings[-1].group(0))[:CHAPTER_MAX]
    return _clean(_CHAPTER.sub("", text)), last


def from_list(texts: list[str]) -> ParsedDraft:
    """Articles entered one by one (the marker is added, not typed)."""
    if not texts:
        raise ArticleError(N_("A draft needs at least one article."))
    if len(texts) > MAX_ARTICLES:
        raise ArticleError(N_("A draft has at most %(max)s articles."), max=MAX_ARTICLES)
    articles = []
    for number, raw in enumerate(texts, start=1):
        body = _clean(raw)
        if not body:
            raise ArticleError(N_("%(article)s has no text."), article=label(number))
        if len(body) > ARTICLE_MAX:
            raise ArticleError(
                N_("%(article)s is longer than %(max)s characters."),
                article=label(number),
                max=ARTICLE_MAX,
            )
        articles.append(ParsedArticle(number, body))
    return ParsedDraft("", tuple(articles))
