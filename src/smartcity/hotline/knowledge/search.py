"""Searching the knowledge base (知识库检索) with Chinese word segmentation (中文分词, jieba).

An answer's title, keywords and text are cut into words when it is saved and the words kept
with the row (``*_terms``), so every server process searches the current text with no index
to rebuild. A search cuts the query the same way and scores each answer holding one of its
words: a word found in the title counts most, then in the keywords, then in the answer, each
weighted by how rare the word is among the answers (a word every answer has says little).
Answers holding more of the query's words come first; the title holding the whole query
wins outright."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from smartcity.core import segmentation
from smartcity.core.segmentation import normalise

TITLE, KEYWORD, ANSWER = "title", "keyword", "answer"
WEIGHTS = {TITLE: 3.0, KEYWORD: 2.5, ANSWER: 1.0}
RELATIVE_FLOOR = 0.15

# Words of asking rather than of the matter (请问, 怎么办, how do I): they would match every
# answer and say nothing about which one is wanted.
STOP_WORDS = frozenset(
    (
        "我",
        "我要",
        "我想",
        "想",
        "要",
        "的",
        "了",
        "是",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "和",
        "与",
        "及",
        "或",
        "在",
        "有",
        "没有",
        "请问",
        "请",
        "问",
        "怎么",
        "怎么办",
        "怎样",
        "如何",
        "什么",
        "哪里",
        "哪儿",
        "哪",
        "可以",
        "能",
        "能不能",
        "能否",
        "需要",
        "应该",
        "一下",
        "这个",
        "那个",
        "这",
        "那",
        "你们",
        "我们",
        "他们",
        "多少",
        "几",
        "还",
        "就",
        "都",
        "也",
        "会",
        "让",
        "被",
        "把",
        "对",
        "给",
        "从",
        "到",
        "为",
        "为什么",
        "a",
        "an",
        "the",
        "of",
        "to",
        "for",
        "and",
        "in",
        "on",
        "is",
        "are",
        "do",
        "does",
        "how",
        "what",
        "where",
        "when",
        "can",
        "i",
        "my",
        "me",
        "we",
        "you",
        "it",
    )
)
_WORD = re.compile(r"\w", re.UNICODE)


def _keep(word: str) -> bool:
    return bool(_WORD.search(word)) and word not in STOP_WORDS


def words_of(text: str) -> list[str]:
    """The words of a text, each once: jieba's search mode (居住证 → 居住, 居住证) and its full
    mode, every dictionary word the characters hold, so a phrase jieba happens to cut across
    (一股煤气味 as 煤 + 气味) still gives 煤气."""
    tokenizer = segmentation.tokenizer()
    plain = normalise(text)
    seen: dict[str, None] = {}
    for word in [*tokenizer.lcut_for_search(plain), *tokenizer.lcut(plain, cut_all=True)]:
        word = word.strip()
        if _keep(word):
            seen.setdefault(word, None)
    return list(seen)


def query_words(query: str) -> list[str]:
    """The words of a query, each once (search mode too: 居住证 also finds 居住)."""
    return words_of(query)


def terms(texts: Iterable[str]) -> str:
    """What a row keeps: the words of its texts, space-separated."""
    seen: dict[str, None] = {}
    for text in texts:
        for word in words_of(text):
            seen.setdefault(word, None)
    return " ".join(seen)


@dataclass(frozen=True)
class Document:
    """One answer as search sees it: its id, its title as typed and the words of each part."""

    id: uuid.UUID
    title: str
    words: dict[str, frozenset[str]]


@dataclass(frozen=True)
class Scored:
    id: uuid.UUID
    score: float


def document(
    answer_id: uuid.UUID, title: str, title_terms: str, keyword_terms: str, answer_terms: str
) -> Document:
    return Document(
        answer_id,
        normalise(title),
        {
            TITLE: frozenset(title_terms.split()),
            KEYWORD: frozenset(keyword_terms.split()),
            ANSWER: frozenset(answer_terms.split()),
        },
    )


def rank(query: str, documents: Sequence[Document], limit: int) -> list[Scored]:
    """The best ``limit`` documents for the query, best first (ties by title)."""
    wanted = query_words(query)
    if not wanted or not documents:
        return []
    whole = normalise(query)
    total = len(documents)
    frequency = {
        w: sum(1 for d in documents if any(w in words for words in d.words.values()))
        for w in wanted
    }
    scored: list[tuple[float, str, uuid.UUID]] = []
    for doc in documents:
        score = 0.0
        matched = 0
        for word in wanted:
            found = [WEIGHTS[where] for where, words in doc.words.items() if word in words]
            if not found:
                continue
            matched += 1
            # Rarer words say more; a longer word (居住证) more than a short one inside it.
            rarity = math.log(1 + total / frequency[word])
            score += (max(found) + 0.25 * (len(found) - 1)) * rarity * min(len(word), 4) / 2
        if not matched:
            continue
        score *= matched / len(wanted)
        if len(whole) >= 2 and whole in doc.title:
            score += 100.0
        scored.append((score, doc.title, doc.id))
    scored.sort(key=lambda s: (-s[0], s[1]))
    # Far weaker than the best it is a stray word in common, not an answer to the question.
    floor = scored[0][0] * RELATIVE_FLOOR if scored else 0.0
    return [
        Scored(answer_id, round(score, 3))
        for score, _title, answer_id in scored[:limit]
        if score >= floor
    ]
