"""Air stations (空气质量监测站) as the sensing engine holds them, and their stored reports.

A station is a Thing with ``properties.kind = "air-station"`` (stations.py); its pollutant
Datastreams are recognised by their ObservedProperty's definition, and its computed reports
are Observations of its AQI-1h and AQI-24h Datastreams (compute.py writes them). Every read
here goes through sensing.contract, under the sensing engine's access rules: an anonymous
reader sees public stations only, and a station it may not read does not exist for it (404).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound
from smartcity.core.geo import to_geometry
from smartcity.core.i18n import gettext as _
from smartcity.environment.aqi import Pollutant, WrongUnit, check_unit
from smartcity.environment.stations import (
    AIR_STATION_KIND,
    AQI_DAILY_DEFINITION,
    AQI_HOURLY_DEFINITION,
    POLLUTANT_DEFINITIONS,
)
from smartcity.sensing import contract as sensing
from smartcity.sensing.contract import Datastream

POLLUTANT_OF_DEFINITION = {definition: p for p, definition in POLLUTANT_DEFINITIONS.items()}
AQI_DEFINITIONS = (AQI_HOURLY_DEFINITION, AQI_DAILY_DEFINITION)


@dataclass
class Station:
    """One air station: its Thing, where it stands and the ids of its Datastreams."""

    id: int
    name: str
    code: str
    district_code: str
    public: bool
    lon: float | None = None
    lat: float | None = None
    pollutants: dict[Pollutant, Datastream] = field(default_factory=dict)
    hourly: Datastream | None = None
    daily: Datastream | None = None
    # Pollutant Datastreams left out because their unit is not the tables' (µg/m³, mg/m³).
    wrong_units: list[str] = field(default_factory=list)


def unit_fits(pollutant: Pollutant, unit: Any) -> bool:
    """Whether a Datastream's unitOfMeasurement is the tables' unit for the pollutant: its
    symbol, name or UCUM definition (``ucum:ug/m3``, ``…#ug/m3``) may say so."""
    if not isinstance(unit, dict):
        return False
    for key in ("symbol", "definition", "name"):
        text = unit.get(key)
        if not isinstance(text, str) or not text:
            continue
        for candidate in {text, text.rsplit(":", 1)[-1], text.rsplit("#", 1)[-1]}:
            try:
                check_unit(pollutant, candidate)
            except WrongUnit:
                continue
            return True
    return False


def _point(location: Any) -> tuple[float, float] | None:
    shape = to_geometry(location)
    if shape is None or shape.is_empty:
        return None
    centre = shape.representative_point()  # the point itself for a Point
    return float(centre.x), float(centre.y)


async def find_stations(
    session: AsyncSession,
    principal: Principal | None,
    *,
    ids: Sequence[int] | None = None,
) -> list[Station]:
    """The air stations the caller may read (all of them for staff and the platform), in
    the order of their station codes, with their Datastreams."""
    things = await sensing.find_things(
        session, principal, properties={"kind": AIR_STATION_KIND}, ids=ids
    )
    if not things:
        return []
    stations: dict[int, Station] = {}
    for thing in things:
        props = thing.properties
        stations[thing.id] = Station(
            id=thing.id,
            name=thing.name,
            code=str(props.get("stationCode") or ""),
            district_code=str(props.get("districtCode") or ""),
            public=thing.public,
        )
        for location in thing.locations:
            point = _point(location)
            if point is not None:
                stations[thing.id].lon, stations[thing.id].lat = point
                break
    streams = await sensing.datastreams_of(
        session, list(stations), definitions=[*POLLUTANT_OF_DEFINITION, *AQI_DEFINITIONS]
    )
    for stream in streams:
        definition = stream.definition
        station = stations[stream.thing_id]
        if definition in AQI_DEFINITIONS:
            # Only the platform's own AQI streams count: one a client made with the AQI's
            # ObservedProperty is written by that client, not computed here.
            if not stream.computed:
                continue
            if definition == AQI_HOURLY_DEFINITION:
                station.hourly = station.hourly or stream
            else:
                station.daily = station.daily or stream
        else:
            pollutant = POLLUTANT_OF_DEFINITION[definition]
            if pollutant in station.pollutants:
                continue  # a second stream of one pollutant: the first one counts
            if unit_fits(pollutant, stream.unit_of_measurement):
                station.pollutants[pollutant] = stream
            else:
                station.wrong_units.append(stream.name)
    return sorted(stations.values(), key=lambda s: (s.code or "~", s.name, s.id))


async def get_station(
    session: AsyncSession, principal: Principal | None, station_id: int
) -> Station:
    """One station the caller may read, else 404 (a private one does not exist for them)."""
    found = await find_stations(session, principal, ids=[station_id])
    if not found:
        raise NotFound(_("There is no such air station."))
    return found[0]


# --- stored reports -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredReport:
    """A report as stored: the Observation of an AQI Datastream and its parameters."""

    station_id: int
    start: datetime
    end: datetime
    aqi: int
    parameters: dict[str, Any]

    @property
    def edition(self) -> str:
        return str(self.parameters.get("edition", ""))

    @property
    def level(self) -> int | None:
        level = self.parameters.get("category")
        return level if isinstance(level, int) else None


# Stored reports come from Observations, which a bad migration, an old bug or a hand-made row
# could leave in any shape; a report is shown only when every part the pages read is sound.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
MAX_AQI = 10_000
# A station's newest rows looked at for a readable one, when the newest cannot be read.
LATEST_PROBE = 5


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return value is None or (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    )


def _sound_figure(figure: Any) -> bool:
    if not isinstance(figure, dict):
        return False
    counts = (figure.get(k) for k in ("valid", "needed", "outOf"))
    texts = (figure.get(k) for k in ("pollutant", "measure", "unit", "indicator", "reason"))
    return (
        all(c is None or _whole(c) for c in counts)
        and all(t is None or isinstance(t, str) for t in texts)
        and _number(figure.get("value"))
        and (figure.get("iaqi") is None or _whole(figure.get("iaqi")))
    )


def _texts(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(c, str) for c in value))


def _sound_parameters(parameters: Any) -> bool:
    if parameters is None:
        return True
    if not isinstance(parameters, dict):
        return False
    primary = parameters.get("primaryPollutants")
    iaqi = parameters.get("iaqi")
    figures = parameters.get("figures")
    edition = parameters.get("edition")
    category = parameters.get("category")
    return (
        _texts(primary)
        and (iaqi is None or (isinstance(iaqi, dict) and all(_whole(v) for v in iaqi.values())))
        and (figures is None or (isinstance(figures, list) and all(map(_sound_figure, figures))))
        and (edition is None or isinstance(edition, str))
        and (category is None or _whole(category))
    )


def _stored(station_id: int, obs: sensing.Observation) -> StoredReport | None:
    """The report an AQI Observation holds; None when it cannot be read (a time outside
    1970–9999, an index that is not a finite number in 0–10000, parameters of the wrong
    shape), so a page skips that one row instead of failing for everyone."""
    start, end = obs.phenomenon_time_start, obs.phenomenon_time_end or obs.phenomenon_time_start
    aqi = obs.result_number
    if obs.result_kind not in (sensing.RESULT_NUMBER, sensing.RESULT_INTEGER) or aqi is None:
        return None
    if not (math.isfinite(aqi) and 0 <= aqi <= MAX_AQI):
        return None
    if not (EARLIEST <= start <= end < LATEST) or not _sound_parameters(obs.parameters):
        return None
    return StoredReport(
        station_id=station_id,
        start=start,
        end=end,
        aqi=int(aqi),
        parameters=dict(obs.parameters or {}),
    )


async def latest_reports(
    session: AsyncSession,
    stations: Sequence[Station],
    *,
    daily: bool = False,
    unreadable: set[int] | None = None,
) -> dict[int, StoredReport]:
    """The newest readable report of each station (hourly, or daily), by station id. One
    backward probe of the (datastream, time) index per station. Stations whose newest
    report could not be read are added to ``unreadable`` (the older one is shown)."""
    found: dict[int, StoredReport] = {}
    for station in stations:
        stream = station.daily if daily else station.hourly
        if stream is None:
            continue
        for row in await sensing.newest_observations(session, stream.id, LATEST_PROBE):
            if row.result_kind == sensing.RESULT_NULL:
                break  # the platform's own "no index for this hour"
            stored = _stored(station.id, row)
            if stored is not None:
                found[station.id] = stored
                break
            if unreadable is not None:
                unreadable.add(station.id)
    return found


async def reports_between(
    session: AsyncSession,
    station: Station,
    start: datetime,
    end: datetime,
    *,
    daily: bool = False,
) -> list[StoredReport]:
    """A station's stored reports whose period starts in [start, end), oldest first."""
    stream = station.daily if daily else station.hourly
    if stream is None:
        return []
    rows = await sensing.observations_between(session, [stream.id], start, end)
    reports = (_stored(station.id, row) for row in rows)
    return [r for r in reports if r is not None]


async def reports_at(
    session: AsyncSession, stations: Sequence[Station], start: datetime
) -> dict[int, StoredReport]:
    """Each station's hourly report for the hour starting at ``start``."""
    ids = {s.hourly.id: s.id for s in stations if s.hourly is not None}
    if not ids:
        return {}
    rows = await sensing.observations_between(session, list(ids), start, start, include_end=True)
    found: dict[int, StoredReport] = {}
    for row in rows:
        stored = _stored(ids[row.datastream_id], row)
        if stored is not None:
            found.setdefault(stored.station_id, stored)
    return found
