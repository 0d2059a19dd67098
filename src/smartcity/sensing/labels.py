"""Words for what Things and ObservedProperties carry (物联感知 labels): a Thing's property
keys and the known observed properties, in both languages. Keys and names not known here are
shown as they are (keys in ``<code>``), never guessed."""

from __future__ import annotations

from typing import Any

from smartcity.core import i18n
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _

# A Thing's property keys (camelCase, as devices and the city's device registry send them).
PROPERTY_KEYS = {
    "deviceCode": N_("Device code"),
    "districtCode": N_("District"),
    "kind": N_("Kind of device"),
    "nominalFlow": N_("Nominal flow (m³/h)"),
    "operator": N_("Operated by"),
    "pipeDiameter": N_("Pipe diameter"),
    "reportingIntervalSeconds": N_("Reporting interval (s)"),
    "simulated": N_("Simulated device"),
    "road": N_("Road"),
    "lanes": N_("Lanes"),
    "stationCode": N_("Station code"),
    "stationName": N_("Station name"),
}

# ObservedProperties by the name they are stored under: (Chinese, English).
OBSERVED_PROPERTIES = {
    "Vehicle count": ("车流量", "Vehicle count"),
    "Mean speed": ("平均车速", "Mean speed"),
    "Water flow rate": ("瞬时流量", "Water flow rate"),
    "Water pressure": ("管网压力", "Water pressure"),
    "空气质量指数（小时）": ("空气质量指数（小时）", "Air quality index (hourly)"),
    "空气质量指数（日）": ("空气质量指数（日）", "Air quality index (daily)"),
}


def property_key_label(key: str) -> str | None:
    """The words for a Thing's property key, or None when the key is not known."""
    label = PROPERTY_KEYS.get(key)
    return _(label) if label else None


def observed_property_label(name: str) -> str:
    """An ObservedProperty's name in the reader's language where it is known, else as stored."""
    pair = OBSERVED_PROPERTIES.get(name)
    return i18n.pick(*pair) if pair else name


def property_value(key: str, value: Any, kind_label: Any, district_name: Any) -> str | None:
    """A known key's value in words (是/否, a district's name, a kind of device), or None to
    show the value as it is."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if key == "kind" and isinstance(value, str):
        return str(kind_label(value))
    if key == "districtCode" and isinstance(value, str):
        return str(district_name(value))
    return None
