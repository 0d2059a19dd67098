"""Rules in words (规则说明): one sentence per rule, in the reader's language, naming what is
watched, the limit with the datastream's unit, and when the alert clears. The alert list, the
alert page, the rules pages and the notifications all say a rule this way.

Units come from the Datastream's ``unitOfMeasurement``: its UCUM code (``ucum:ug/m3``, a UCUM
URL ending ``#ug/m3``, or the symbol itself) is shown as the symbol people read (µg/m³); a
unit the table does not know is shown as its own symbol or name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.i18n import gettext as _
from smartcity.sensing.labels import observed_property_label
from smartcity.sensing.models import StaDatastream, StaObservedProperty
from smartcity.sensing.rules.models import SensingRule
from smartcity.sensing.rules.service import ABOVE, N_OF_M, RATE, SILENCE, THRESHOLD

# UCUM case-sensitive codes of the city's sensors → display symbols.
UCUM_SYMBOLS: dict[str, str] = {
    "ug/m3": "µg/m³",
    "mg/m3": "mg/m³",
    "ng/m3": "ng/m³",
    "Cel": "°C",
    "K": "K",
    "%": "%",
    "[ppm]": "ppm",
    "[ppb]": "ppb",
    "dB": "dB",
    "dB[A]": "dB(A)",
    "m/s": "m/s",
    "km/h": "km/h",
    "mm": "mm",
    "mm/h": "mm/h",
    "m": "m",
    "cm": "cm",
    "hPa": "hPa",
    "kPa": "kPa",
    "MPa": "MPa",
    "m3/h": "m³/h",
    "m3/s": "m³/s",
    "L/s": "L/s",
    "mg/L": "mg/L",
    "[NTU]": "NTU",
    "uS/cm": "µS/cm",
    "kW": "kW",
    "kW.h": "kWh",
    "V": "V",
    "A": "A",
    "lx": "lx",
    "1": "",  # dimensionless (an index such as the AQI): no unit after the number
    "[pH]": "",
}


def unit_symbol(unit: Any) -> str:
    """The symbol to show after a number of this Datastream (its unitOfMeasurement)."""
    if not isinstance(unit, dict):
        return ""
    for key in ("definition", "symbol"):
        text = unit.get(key)
        if not isinstance(text, str) or not text:
            continue
        for code in (text.rsplit("#", 1)[-1], text.removeprefix("ucum:"), text):
            if code in UCUM_SYMBOLS:
                return UCUM_SYMBOLS[code]
    for key in ("symbol", "name"):
        text = unit.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()[:20]
    return ""


def number(value: Any, unit: str = "") -> str:
    """A limit as people write it: 100, 0.5, 100 µg/m³."""
    text = f"{value:g}" if isinstance(value, int | float) else str(value)
    return f"{text} {unit}" if unit else text


def _fill(template: str, values: dict[str, Any]) -> str:
    """A sentence's msgid filled in: as plain text, or as HTML when a value is already HTML
    (a name marked lang="zh-CN"), so the rest is escaped and the mark kept."""
    if any(isinstance(v, Markup) for v in values.values()):
        return escape(template) % values
    return template % values


def rule_in_words(rule: SensingRule, *, subject: str = "", unit: str = "") -> str:
    """What the rule raises an alert on and when it clears, as one sentence.

    ``subject`` is what is watched (the observed property, e.g. PM2.5; "the reading" when
    empty), ``unit`` the display symbol of the datastream's unit (unit_symbol). A subject
    that is Markup (a marked name) makes the sentence Markup too."""
    p = rule.params
    what = subject or _("the reading")
    if rule.kind == THRESHOLD:
        limit = float(p["value"])
        back = limit - p["hysteresis"] if p["op"] == ABOVE else limit + p["hysteresis"]
        words = {"what": what, "limit": number(limit, unit), "back": number(back, unit)}
        if p["op"] == ABOVE:
            return _fill(
                _("Alert when %(what)s is above %(limit)s; clear at %(back)s or below"), words
            )
        return _fill(_("Alert when %(what)s is below %(limit)s; clear at %(back)s or above"), words)
    if rule.kind == RATE:
        return _fill(
            _(
                "Alert when %(what)s changes by more than %(limit)s per minute within "
                "%(window)s minutes; clear when it changes more slowly"
            ),
            {"what": what, "limit": number(p["limit"], unit), "window": p["window_minutes"]},
        )
    if rule.kind == SILENCE:
        return _fill(
            _("Alert when %(what)s sends no reading for %(minutes)s minutes; clear when data "
              "arrives again"),
            {"what": what, "minutes": p["minutes"]},
        )  # fmt: skip
    if rule.kind == N_OF_M:
        words = {"what": what, "n": p["n"], "m": p["m"], "limit": number(p["value"], unit)}
        if p["op"] == ABOVE:
            return _fill(
                _(
                    "Alert when at least %(n)s of the last %(m)s readings of %(what)s are above "
                    "%(limit)s; clear when fewer are"
                ),
                words,
            )
        return _fill(
            _(
                "Alert when at least %(n)s of the last %(m)s readings of %(what)s are below "
                "%(limit)s; clear when fewer are"
            ),
            words,
        )
    return ", ".join(f"{k}={v}" for k, v in p.items())


def clearing_words(rule: SensingRule) -> str:
    """Why the rule's alert cleared by itself, as the alert's history says it."""
    if rule.kind == RATE:
        return _("The rate of change is back within the limit.")
    if rule.kind == SILENCE:
        return _("Data arrived again.")
    if rule.kind == N_OF_M:
        return _("Fewer than %(n)s of the last %(m)s readings breach.") % {
            "n": rule.params["n"],
            "m": rule.params["m"],
        }
    return _("Back past the threshold and its hysteresis.")


async def rules_in_words(
    session: AsyncSession,
    found: Iterable[SensingRule],
    *,
    datastream_id: int | None = None,
    mark: Callable[[str], str] | None = None,
) -> dict[int, str]:
    """Each rule in words, by id. The subject is the observed property, in the reader's
    language where labels.py knows it; the unit that of the rule's datastream, of
    ``datastream_id`` (an alert's stream, for a rule on a whole property), or the one unit all
    the property's datastreams share. Pages pass ``mark`` (web.render.data_name), so a
    property name left in Chinese on an English page is marked as such; texts (API, messages)
    leave it out and get plain text."""
    found = list(found)
    stream_ids = {r.datastream_id for r in found if r.datastream_id is not None}
    if datastream_id is not None:
        stream_ids.add(datastream_id)
    streams: dict[int, tuple[int, Any]] = {}
    if stream_ids:
        rows = await session.execute(
            select(
                StaDatastream.id,
                StaDatastream.observed_property_id,
                StaDatastream.unit_of_measurement,
            ).where(StaDatastream.id.in_(stream_ids))
        )
        streams = {i: (p, u) for i, p, u in rows.all()}
    property_ids = {p for p, _u in streams.values()} | {
        r.observed_property_id for r in found if r.observed_property_id is not None
    }
    names: dict[int, str] = {}
    if property_ids:
        rows = await session.execute(
            select(StaObservedProperty.id, StaObservedProperty.name).where(
                StaObservedProperty.id.in_(property_ids)
            )
        )
        names = {int(i): (mark or str)(observed_property_label(str(n))) for i, n in rows.all()}
    shared: dict[int, str] = {}
    out: dict[int, str] = {}
    for rule in found:
        stream = rule.datastream_id if rule.datastream_id is not None else datastream_id
        if stream is not None and stream in streams:
            prop, unit = streams[stream]
            out[rule.id] = rule_in_words(rule, subject=names.get(prop, ""), unit=unit_symbol(unit))
            continue
        prop_id = rule.observed_property_id
        if prop_id is not None and prop_id not in shared:
            shared[prop_id] = await _shared_unit(session, prop_id)
        out[rule.id] = rule_in_words(
            rule,
            subject=names.get(prop_id, "") if prop_id is not None else "",
            unit=shared.get(prop_id, "") if prop_id is not None else "",
        )
    return out


async def _shared_unit(session: AsyncSession, property_id: int) -> str:
    """The unit symbol every datastream of the property has (judged on up to 50), else ""."""
    rows = await session.scalars(
        select(StaDatastream.unit_of_measurement)
        .where(StaDatastream.observed_property_id == property_id)
        .limit(50)
    )
    symbols = {unit_symbol(u) for u in rows}
    return symbols.pop() if len(symbols) == 1 else ""
