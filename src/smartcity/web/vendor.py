"""plotly.js under a strict Content-Security-Policy.

plotly.js inserts its style rules as inline <style> elements, which ``style-src 'self'``
refuses. It skips that when the page already has an element with the id it would use
(``plotly.js-style-global`` with the class ``no-inline-styles``, and the id of its bundled
map styles). So the chart pages carry those elements (``plotly_style_links()``, a template
global) and the rules are served as a stylesheet, read from the installed plotly.js: the
same package the script comes from, so they cannot drift apart.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

import plotly
from markupsafe import Markup

log = logging.getLogger(__name__)

PLOTLY_JS = Path(plotly.__file__ or "").resolve().parent / "package_data" / "plotly.min.js"
GLOBAL_STYLE_ID = "plotly.js-style-global"

# The global rules: one object literal, keys shortened (X the plot, Y the notifier).
_RULES_START = '{"X,X div":'
_RULES_END = "};for("
_RULE = re.compile(r'"((?:[^"\\]|\\.)*)":(?:\'((?:[^\'\\]|\\.)*)\'|"((?:[^"\\]|\\.)*)")[,}]')
# The map styles: created once under a fixed id unless an element with that id exists.
_MAP_STYLE = re.compile(
    r'createElement\("style"\);e\.id="([0-9a-f]{64})",e\.textContent=\'((?:[^\'\\]|\\.)*)\''
)


@lru_cache(maxsize=1)
def _bundle() -> str:
    return PLOTLY_JS.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _global_rules() -> str:
    bundle = _bundle()
    start = bundle.find(_RULES_START)
    end = bundle.find(_RULES_END, start)
    if start < 0 or end < 0:
        log.warning("plotly.js keeps its style rules elsewhere now; charts may look plain")
        return ""
    rules = []
    for match in _RULE.finditer(bundle, start, end + 1):
        selector = match.group(1).replace("X", ".js-plotly-plot .plotly")
        selector = selector.replace("Y", ".plotly-notifier")
        rules.append(f"{selector}{{{match.group(2) or match.group(3) or ''}}}")
    return "\n".join(rules) + "\n"


@lru_cache(maxsize=1)
def _map_style() -> tuple[str, str]:
    match = _MAP_STYLE.search(_bundle())
    return (match.group(1), match.group(2)) if match else ("", "")


def plotly_css() -> str:
    """Every style rule plotly.js would insert inline, as one stylesheet."""
    return _global_rules() + _map_style()[1] + "\n"


def plotly_style_links() -> Markup:
    """For the head of a page with charts, before plotly.min.js loads."""
    tags = Markup(
        '<link id="{}" class="no-inline-styles" rel="stylesheet" href="/static/vendor/plotly.css">'
    ).format(GLOBAL_STYLE_ID)
    map_id = _map_style()[0]
    if map_id:
        # Only its id matters to plotly.js: the rules are in plotly.css already.
        tags += Markup('<meta id="{}" name="plotly-map-styles" content="in plotly.css">').format(
            map_id
        )
    return tags
