"""Splitting a draft into articles by its 第X条 markers (Chinese numerals), and the bounds."""

from __future__ import annotations

import pytest

from smartcity.participation import articles
from smartcity.participation.articles import ArticleError, chinese_number, chinese_numeral, parse
from tests.participation.factories import TEXT


@pytest.mark.parametrize(
    ("numeral", "number"),
    [
        ("一", 1),
        ("十", 10),
        ("十一", 11),
        ("二十", 20),
        ("二十三", 23),
        ("九十九", 99),
        ("一百", 100),
        ("一百零五", 105),
        ("一百一十", 110),
        ("一〇五", 105),
        ("两百", 200),
        ("12", 12),
    ],
)
def test_chinese_numerals(numeral: str, number: int) -> None:
    assert chinese_number(numeral) == number


@pytest.mark.parametrize("bad", ["", "十十", "零", "〇〇", "一千", "三五十", "一二三四"])
def test_bad_numerals(bad: str) -> None:
    with pytest.raises(ValueError):
        chinese_number(bad)


def test_numerals_round_trip() -> None:
    for n in range(1, 301):
        assert chinese_number(chinese_numeral(n)) == n
    assert articles.label(21) == "第二十一条"


def test_splits_at_markers_keeping_chapters_and_preamble() -> None:
    parsed = parse(TEXT)
    assert parsed.preamble == "深圳市电动自行车管理办法（征求意见稿）"
    assert [a.number for a in parsed.articles] == [1, 2, 3, 4]
    assert [a.chapter for a in parsed.articles] == ["第一章 总则"] * 2 + ["第二章 登记与通行"] * 2
    # a reference a line break put at the start of a line stays in its article
    assert parsed.articles[2].text.endswith("第一条规定的目的，公安机关交通管理部门负责登记。")
    # the full-width space after the marker is not part of the text
    assert parsed.articles[3].text == "驾驶电动自行车应当佩戴安全头盔。"
    assert "第一章" not in parsed.articles[1].text


def test_windows_line_ends_and_indented_markers() -> None:
    parsed = parse("\u3000\u3000第一条 甲。\r\n  第二条 乙。\r\n")
    assert [a.text for a in parsed.articles] == ["甲。", "乙。"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("没有条文的文本", "No article found"),
        ("第一条 甲。\n第三条 丙。", "第三条 follows 第一条"),
        ("第一条 甲。\n第一条 又一个。", "第一条 follows 第一条"),
        ("第二条 乙。", "第二条 follows —"),
        ("第一条\n第二条 乙。", "第一条 has no text"),
        ("第一条 甲。\n第十十条 乙。", "第十十条 is not a numbered article"),
    ],
)
def test_refused_texts_say_why(text: str, message: str) -> None:
    with pytest.raises(ArticleError) as caught:
        parse(text)
    assert message in caught.value.message % caught.value.values


def test_bounds() -> None:
    with pytest.raises(ArticleError, match="longer than"):
        parse("第一条 " + "字" * (articles.ARTICLE_MAX + 1))
    many = "\n".join(
        f"第{chinese_numeral(n)}条 内容。" for n in range(1, articles.MAX_ARTICLES + 2)
    )
    with pytest.raises(ArticleError, match="at most"):
        parse(many)
    with pytest.raises(ArticleError, match="longer than"):
        parse("字" * (articles.BODY_MAX + 1))
    assert len(parse(many.rsplit("\n", 1)[0]).articles) == articles.MAX_ARTICLES


def test_articles_one_by_one() -> None:
    parsed = articles.from_list(["  甲。 ", "乙。"])
    assert [(a.number, a.text) for a in parsed.articles] == [(1, "甲。"), (2, "乙。")]
    with pytest.raises(ArticleError, match="no text"):
        articles.from_list(["甲。", "  "])
    with pytest.raises(ArticleError, match="at least one"):
        articles.from_list([])
