"""The error pages in the visitor's language (every other page is read for its language in
test_page_widths.py's crawl of the demo city, one visit per page for both checks)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, shot, sign_in_as
from tests.e2e.language import COLLECT_JS, check_en, check_zh

pytestmark = pytest.mark.e2e


def _findings(page: Any, locale: str, path: str) -> list[str]:
    page.goto(f"/lang/{locale}?next={path}")
    page.wait_for_load_state()
    seen = page.evaluate(COLLECT_JS)
    found = (check_zh if locale == "zh_CN" else check_en)(seen["text"], seen["names"])
    return [f"{locale} {path}: {f}" for f in found]


@pytest.mark.parametrize("width", [390, 1366])
def test_error_pages_speak_the_visitors_language(
    page: Any, live_server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 860})
    found = []
    for locale in ("zh_CN", "en"):
        found += _findings(page, locale, "/no-such-page")
        heading = "页面不存在" if locale == "zh_CN" else "Page not found"
        assert page.locator("h1").inner_text() == heading
        shot(page, f"language-error-404-{locale}-{width}")
    sign_in_as(page, live_server, f"lang.citizen{width}", "citizen", display_name="王小明")
    for locale in ("zh_CN", "en"):
        found += _findings(page, locale, "/sensing")
        shot(page, f"language-error-403-{locale}-{width}")
    page.goto("/lang/zh_CN?next=/sensing")
    assert (
        "此页面仅供部门工作人员、监察人员和管理员使用；您当前以市民身份登录。"
        in page.locator("main").inner_text()
    )
    assert found == [], "\n".join(found)
