"""Searching the service items (事项搜索): one box over names, keywords, life events and
departments, with Chinese word segmentation (中文分词) by jieba.

An item's texts are cut into words once, into an in-memory index per process; a search cuts
the query the same way and looks its words up. The index is rebuilt when the catalogue
changes: the same cache tag the catalogue pages use (``service.CATALOGUE_PAGES``) is dropped
after an item is created or updated, and its generation is part of the index's key. An item
changed in another server process shows within ``INDEX_MAX_AGE``, as the cached pages do.

Ranking, as a person expects it: the item whose name is the query, then items whose name
holds the query, then by how many of the query's words an item has and where (name before
keywords, keywords before life events, life events before the department).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import InvalidInput
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.core.text import text_problem
from smartcity.services import service
from smartcity.services.models import ServiceItem
from smartcity.web import cache

if TYPE_CHECKING:
    import jieba

MAX_QUERY = 100
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
INDEX_MAX_AGE = 60.0

# Where a query word was found, best first; the weight orders items with the same coverage.
NAME, KEYWORD, LIFE_EVENT, DEPARTMENT = "name", "keyword", "life_event", "department"
WEIGHTS = {NAME: 8, KEYWORD: 4, LIFE_EVENT: 2, DEPARTMENT: 1}

# Words of a question rather than of a service ("我要办居住证", "how to apply for ..."): they
# would match half the catalogue and say nothing about what is wanted.
STOP_WORDS = frozenset(
    [
        "我",
        "我要",
        "要",
        "想",
        "我想",
        "的",
        "了",
        "怎么",
        "怎样",
        "如何",
        "办",
        "去",
        "在",
        "哪",
        "哪里",
        "哪儿",
        "需要",
        "吗",
        "呢",
        "和",
        "及",
        "与",
        "how",
        "to",
        "the",
        "a",
        "an",
        "of",
        "for",
        "and",
        "in",
        "on",
        "i",
        "want",
        "apply",
        "my",
        "me",
    ]
)
_WORD = re.compile(r"\w", re.UNICODE)


def _item_names(item: ServiceItem) -> list[str]:
    """Every name an item is known by, in any language the data has."""
    return [item.name, item.name_en] if item.name_en else [item.name]


# --- words ------------------------------------------------------------------------------------

_tokenizer: jieba.Tokenizer | None = None
_tokenizer_lock = threading.Lock()


def _jieba() -> jieba.Tokenizer:
    """jieba's tokenizer with its dictionary loaded: once per process (about a second), from
    the dictionary in its wheel; nothing is downloaded."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            import jieba as jieba_module

            jieba_module.setLogLevel(logging.WARNING)
            tokenizer = jieba_module.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
        return _tokenizer


def normalise(text: str) -> str:
    """Full-width letters and digits as ASCII (ＡＢＣ → abc), lower case, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _keep(word: str) -> bool:
    return bool(_WORD.search(word)) and word not in STOP_WORDS


def index_words(text: str) -> set[str]:
    """The words of an item's text: jieba's search mode also gives the shorter words inside a
    long one (居住证 → 居住, 居住证), so a query of either finds it."""
    return {w for w in (t.strip() for t in _jieba().lcut_for_search(normalise(text))) if _keep(w)}


def query_words(query: str) -> list[str]:
    """The words of a query, in order, each once; jieba's precise mode, so 居住证办理 is
    居住证 and 办理, not also 居住."""
    seen: dict[str, None] = {}
    for word in _jieba().lcut(normalise(query)):
        word = word.strip()
        if _keep(word):
            seen.setdefault(word, None)
    return list(seen)


# --- the index --------------------------------------------------------------------------------


@dataclass
class _Entry:
    item_id: uuid.UUID
    code: str
    names: list[str]  # normalised
    name_text: str  # the names on lines of their own: one test for "a name holds the query"
    words: dict[str, set[str]]  # where -> its words
    texts: dict[str, str]  # where -> its normalised text, for words jieba cut otherwise


@dataclass
class ItemIndex:
    entries: list[_Entry] = field(default_factory=list)
    # word -> {entry position: best place}
    postings: dict[str, dict[int, str]] = field(default_factory=dict)
    life_events: list[str] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)


def _rank(where: str) -> int:
    return WEIGHTS[where]


def build_index(
    items: Sequence[ServiceItem], departments: dict[uuid.UUID, Department]
) -> ItemIndex:
    """The index of these items (CPU work: cut every text into words)."""
    index = ItemIndex()
    seen_events: dict[str, None] = {}
    for item in items:
        department = departments.get(item.department_id)
        department_texts = (
            [department.name, department.name_en, department.code] if department else []
        )
        texts = {
            NAME: " ".join(_item_names(item)),
            # The legal basis too: people search by the law they were told of (食品安全法).
            KEYWORD: f"{item.description} {item.legal_basis} {item.code}",
            LIFE_EVENT: " ".join(item.life_events),
            DEPARTMENT: " ".join(t for t in department_texts if t),
        }
        words = {where: index_words(text) for where, text in texts.items()}
        # A life event is also one word as a whole (开办企业 is not only 开办 and 企业).
        words[LIFE_EVENT] |= {normalise(e) for e in item.life_events if e.strip()}
        position = len(index.entries)
        index.entries.append(
            _Entry(
                item.id,
                item.code,
                [normalise(n) for n in _item_names(item)],
                "\n".join(normalise(n) for n in _item_names(item)),
                words,
                {where: normalise(text) for where, text in texts.items()},
            )
        )
        for where, found in words.items():
            for word in found:
                places = index.postings.setdefault(word, {})
                best = places.get(position)
                if best is None or _rank(where) > _rank(best):
                    places[position] = where
        for event in item.life_events:
            seen_events.setdefault(event, None)
    index.life_events = list(seen_events)
    index.departments = sorted(
        {d.id: d for i in items if (d := departments.get(i.department_id))}.values(),
        key=lambda d: d.code,
    )
    return index


@dataclass(frozen=True)
class Hit:
    item_id: uuid.UUID
    code: str
    matched: tuple[str, ...]  # the places the query's words were found, best first
    key: tuple[int, int, float, int, str]


def rank(index: ItemIndex, query: str) -> list[Hit]:
    """The items the query finds, best first (see the module's docstring for the order)."""
    whole = normalise(query)
    words = query_words(query)
    if not whole:
        return []
    found: dict[int, dict[str, str]] = {}  # position -> word -> place
    for word in words:
        posted = index.postings.get(word)
        if posted:
            for position, where in posted.items():
                found.setdefault(position, {})[word] = where
            continue
        # A word jieba cut differently in the item's text than in the query: look for it
        # as text (two characters at least, so 证 alone does not find every certificate).
        if len(word) < 2:
            continue
        for position, entry in enumerate(index.entries):
            for where in WEIGHTS:
                if word in entry.texts[where]:
                    found.setdefault(position, {})[word] = where
                    break
    hits = []
    for position, entry in enumerate(index.entries):
        in_name = whole in entry.name_text
        matched = found.get(position, {})
        if not (in_name or matched):
            continue
        exact = in_name and whole in entry.names
        coverage = len(matched) / len(words) if words else 1.0
        weight = sum(WEIGHTS[where] for where in matched.values())
        places = tuple(sorted(set(matched.values()), key=_rank, reverse=True))
        if in_name and NAME not in places:
            places = (NAME, *places)
        hits.append(
            Hit(
                entry.item_id,
                entry.code,
                places,
                (-int(exact), -int(in_name), -coverage, -weight, entry.code),
            )
        )
    # Of several words, an item with half of them or fewer is noise beside one with all:
    # "public security" should not list the Social Security Bureau's items. Names holding
    # the query always stay.
    best = min((h.key[2] for h in hits), default=0.0)
    hits = [h for h in hits if h.key[1] or h.key[2] < best / 2]
    hits.sort(key=lambda h: h.key)
    return hits


# --- per process ------------------------------------------------------------------------------


@dataclass
class _Built:
    index: ItemIndex
    generation: int
    at: float


class IndexHolder:
    """The process's index, rebuilt when the catalogue tag's generation moves or it is
    older than ``max_age``; one rebuild at a time (a crowd after an edit waits for one)."""

    def __init__(
        self, *, max_age: float = INDEX_MAX_AGE, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age = max_age
        self._monotonic = monotonic
        self._built: _Built | None = None
        self._lock = asyncio.Lock()
        self.builds = 0

    def forget(self) -> None:
        self._built = None

    def _fresh(self) -> ItemIndex | None:
        built = self._built
        if (
            built is not None
            and built.generation == cache.generation(service.CATALOGUE_PAGES)
            and self._monotonic() - built.at < self.max_age
        ):
            return built.index
        return None

    async def index(self, session: AsyncSession) -> ItemIndex:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            generation = cache.generation(service.CATALOGUE_PAGES)
            items = list((await session.execute(service.readable_service_items(None))).scalars())
            departments = await service.departments_of_items(session, None)
            # The first build loads jieba's dictionary: off the event loop.
            index = await asyncio.to_thread(build_index, items, departments)
            self._built = _Built(index, generation, self._monotonic())
            self.builds += 1
            return index


_HOLDER = IndexHolder()


def forget_index() -> None:
    """Drop the process's index (tests: each starts from its own catalogue)."""
    _HOLDER.forget()


def holder() -> IndexHolder:
    return _HOLDER


# --- searching --------------------------------------------------------------------------------


def check_query(q: str) -> str:
    """The query trimmed, or 422 naming ``q``: not empty, at most ``MAX_QUERY`` characters, no
    control or text-direction characters."""
    problem = text_problem(q, multi_line=False)
    if problem:
        raise InvalidInput(_(problem), field="q")
    q = q.strip()
    if not q:
        raise InvalidInput(_("Type what you are looking for."), field="q")
    if len(q) > MAX_QUERY:
        raise InvalidInput(
            _("A search has at most %(max)s characters.") % {"max": MAX_QUERY}, field="q"
        )
    return q


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            _("Ask for 1 to %(max)s results at a time.") % {"max": MAX_LIMIT}, field="limit"
        )
    return limit


@dataclass(frozen=True)
class FoundItem:
    item: ServiceItem
    department: Department
    matched: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    query: str
    words: list[str]
    total: int
    found: list[FoundItem]
    # For "no results": what the catalogue can be browsed by.
    life_events: list[str]
    departments: list[Department]


async def search_service_items(
    session: AsyncSession, *, q: str, limit: int = DEFAULT_LIMIT
) -> SearchResult:
    """The active items the words find, best first, at most ``limit`` (public: everyone reads
    the catalogue)."""
    q, limit = check_query(q), check_limit(limit)
    index = await _HOLDER.index(session)
    hits = rank(index, q)
    top = hits[:limit]
    rows = await _items_by_id(session, [h.item_id for h in top])
    departments = {d.id: d for d in index.departments}
    missing = {i.department_id for i in rows.values()} - set(departments)
    if missing:
        departments |= await _departments(session, missing)
    found = [
        FoundItem(rows[h.item_id], departments[rows[h.item_id].department_id], h.matched)
        for h in top
        if h.item_id in rows
    ]
    return SearchResult(
        query=q,
        words=query_words(q),
        total=len(hits) - (len(top) - len(found)),
        found=found,
        life_events=index.life_events,
        departments=index.departments,
    )


async def _items_by_id(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ServiceItem]:
    # Read anew rather than kept in the index: what a result shows is the item as it is now,
    # and an item withdrawn since the index was built is left out.
    wanted = list(ids)
    if not wanted:
        return {}
    rows = await session.execute(
        service.readable_service_items(None).where(ServiceItem.id.in_(wanted))
    )
    return {i.id: i for i in rows.scalars()}


async def _departments(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Department]:
    rows = await session.execute(select(Department).where(Department.id.in_(list(ids))))
    return {d.id: d for d in rows.scalars()}
