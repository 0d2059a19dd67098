"""Does a page speak its own language? Pure checks over a page's visible text, so any crawl
(this suite's, or one over every page) can run them on what it already has.

``check_zh`` finds English that reads like an untranslated msgid on a Chinese page;
``check_en`` finds Chinese on an English page outside the names marked ``lang="zh"`` (a
data name with no English, shown as it is on purpose). ``names`` are the texts the page
marks as allowed as they stand: ``<code>`` elements, marked names and the language switch;
``COLLECT_JS`` gathers both from a live page (``page.evaluate(COLLECT_JS)``): the visible
text nodes outside the allowed elements, one per line, and the allowed texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Run in the page: its visible text (title included) and the texts it marks as allowed.
COLLECT_JS = """() => {
  const own = (document.documentElement.lang || '').toLowerCase().slice(0, 2);
  const allowed = (el) => el.matches('code, kbd, samp, pre, .lang, .mono, .unit') ||
    (el.matches('[lang]') && (el.getAttribute('lang') || '').toLowerCase().slice(0, 2) !== own);
  const names = [];
  const lines = [document.title];
  const shown = NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT;
  const walker = document.createTreeWalker(document.body, shown, {
    acceptNode(node) {
      if (node.nodeType === Node.ELEMENT_NODE) {
        if (node.matches('script, style, noscript, template')) return NodeFilter.FILTER_REJECT;
        if (node !== document.body && allowed(node)) {
          const text = (node.innerText || '').trim();
          if (text) names.push(text);
          return NodeFilter.FILTER_REJECT;
        }
        return NodeFilter.FILTER_SKIP;
      }
      const parent = node.parentElement;
      if (!parent || !parent.checkVisibility()) return NodeFilter.FILTER_REJECT;
      return node.textContent.trim() ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
    }
  });
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.nodeType === Node.TEXT_NODE) lines.push(n.textContent.trim());
  }
  return {text: lines.join('\\n'), names: names};
}"""

# Latin words a Chinese page may show as they are: standards and product names, and units.
ALLOWED_LATIN = frozenset(
    {
        "SensorThings",
        "OpenAPI",
        "OpenID",
        "Connect",
        "Swagger",
        "Plotly",
        "Open311",
        "FHIR",
        "CKAN",
        "WebSocket",
        # units
        "km",
        "kg",
        "mg",
        "ms",
        "min",
        "mm",
        "cm",
        "px",
        "kWh",
        "kPa",
        "hPa",
        "MPa",
        "GeoJSON",
        "JSON",
    }
)

_CJK = (
    r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff"
    r"\uf900-\ufaff\uff00-\uffef"
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_URL = re.compile(r"^(https?://|www\.|/)", re.I)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def _without(text: str, names: Iterable[str]) -> str:
    # Longest first, so a name inside a longer marked name does not leave a stump behind.
    # A one-character name (the logo's 深) would cut words of the text apart: left out.
    kept = {n.strip() for n in names if n and len(n.strip()) > 1}
    for name in sorted(kept, key=len, reverse=True):
        text = text.replace(name, " ")
    return text


def _is_code(token: str) -> bool:
    """IDs, codes, numbers, units with digits, URLs, e-mail, dotted identifiers and
    acronyms (API, AQI, PM2.5, SZ-2026-00001, cases.case.assign)."""
    bare = token.strip("()[]{}<>\"'“”‘’,.;:!?·…—–")
    if not bare:
        return True
    if _URL.match(bare) or _EMAIL.match(bare):
        return True
    if any(c.isdigit() for c in bare) or "_" in bare:
        return True
    if re.fullmatch(r"[0-9a-f]{8,}", bare):  # an id's hex prefix that happens to have no digit
        return True
    if re.fullmatch(r"[a-z]+(\.[a-z_]+)+", bare):  # an action or a key path
        return True
    letters = [c for c in bare if c.isalpha()]
    return bool(letters) and all(c.isupper() for c in letters) and len(letters) <= 8


def check_zh(text: str, names: Iterable[str] = ()) -> list[str]:
    """English phrases on a Chinese page that are not names, codes, IDs, units or links."""
    findings: list[str] = []
    for line in _without(text, names).splitlines():
        phrase: list[str] = []
        for match in re.finditer(f"[{_CJK}]+|[^\\s{_CJK}]+", line):
            token = match.group()
            if _CJK_RUN.fullmatch(token) or _is_code(token):
                if phrase:
                    findings.append(" ".join(phrase))
                    phrase = []
                continue
            words = [
                w
                for w in _WORD.findall(token)
                if len(w) > 1 and w not in ALLOWED_LATIN and not w.isupper()
            ]
            if words:
                phrase.append(token)
        if phrase:
            findings.append(" ".join(phrase))
    return findings


def check_en(text: str, names: Iterable[str] = ()) -> list[str]:
    """Chinese on an English page outside the names it marks ``lang="zh"``."""
    findings: list[str] = []
    for line in _without(text, names).splitlines():
        findings.extend(run for run in _CJK_RUN.findall(line) if run.strip("\u3000 "))
    return findings
