"""Chinese first: every message the code and the templates use has a zh_CN translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

from smartcity.core import i18n

SRC = Path(i18n.__file__).resolve().parents[1]


def used_msgids() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(SRC), method_map, options, keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_msgid_has_a_chinese_translation() -> None:
    catalog = i18n.translations("zh_CN")
    untranslated = sorted(m for m in used_msgids() if catalog.gettext(m) == m)
    assert untranslated == [], "run scripts/i18n and translate these in messages.po"


def test_english_is_the_msgid_itself() -> None:
    token = i18n.current_locale.set("en")
    try:
        assert i18n.gettext("Sign in") == "Sign in"
    finally:
        i18n.current_locale.reset(token)


def test_chinese_is_the_default() -> None:
    assert i18n.DEFAULT_LOCALE == "zh_CN"
    assert i18n.gettext("Sign in") == "登录"


def test_negotiation() -> None:
    assert i18n.negotiate(None, None) == "zh_CN"
    assert i18n.negotiate("en", "zh-CN") == "en"
    assert i18n.negotiate(None, "en-US,en;q=0.9") == "en"
    assert i18n.negotiate("xx", "zh-CN,zh") == "zh_CN"


def test_a_name_over_a_literal_follows_each_request_not_the_first() -> None:
    """Jinja folds filters over literals when it compiles a template; the language filters
    must not be folded, or the first request's language would stick for everyone."""
    from smartcity.web.render import _environment

    template = _environment(()).from_string('{{ "汉族" | name }} {{ "可选" | paren }}')
    token = i18n.current_locale.set("zh_CN")
    try:
        assert template.render() == "汉族 （可选）"
    finally:
        i18n.current_locale.reset(token)
    token = i18n.current_locale.set("en")
    try:
        english = template.render()
    finally:
        i18n.current_locale.reset(token)
    assert 'lang="zh-CN"' in english and "(可选)" in english
