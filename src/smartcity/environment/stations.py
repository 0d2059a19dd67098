"""Air stations (空气质量监测站) as the sensing engine knows them.

An air station is a SensorThings Thing whose ``properties`` carry ``kind = "air-station"``,
a ``stationCode`` and the ``districtCode`` (行政区划代码) of the district it stands in. It has
one Datastream per pollutant, recognised by its ObservedProperty's ``definition`` below (the
name is free, so a station keeps working when an operator renames it). Concentrations are
in the units of the breakpoint tables: µg/m³, and mg/m³ for CO (UCUM ``ug/m3``, ``mg/m3``).

The environment module writes what it computes back as Observations of two more Datastreams
of the station, the hourly and the daily AQI, so the index is stored once, with the edition
it was computed by in the Observation's ``parameters``, and the rules engine can raise
alerts on it like on any other reading.
"""

from __future__ import annotations

from types import MappingProxyType

from smartcity.environment.aqi import Pollutant

AIR_STATION_KIND = "air-station"

# ObservedProperty.definition per pollutant; what identifies a pollutant Datastream.
_BASE = "https://smartcity.invalid/def/air/"
POLLUTANT_DEFINITIONS: MappingProxyType[Pollutant, str] = MappingProxyType(
    {p: f"{_BASE}{p.value}" for p in Pollutant}
)
# UCUM codes of the units the breakpoint tables use.
POLLUTANT_UCUM: MappingProxyType[Pollutant, tuple[str, str]] = MappingProxyType(
    {p: (("mg/m³", "mg/m3") if p is Pollutant.CO else ("µg/m³", "ug/m3")) for p in Pollutant}
)
AQI_HOURLY_DEFINITION = f"{_BASE}AQI-1h"
AQI_DAILY_DEFINITION = f"{_BASE}AQI-24h"


def station_properties(station_code: str, district_code: str) -> dict[str, str]:
    """The Thing properties that make a Thing an air station."""
    return {
        "kind": AIR_STATION_KIND,
        "stationCode": station_code,
        "districtCode": district_code,
    }
