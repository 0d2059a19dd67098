"""Staff pages of the sensing platform (物联感知): the devices on a map coloured by status
(/sensing), one Thing (/sensing/things/{id}), one Datastream's chart of aggregates
(/sensing/datastreams/{id}) and the MQTT dead letters (/sensing/dead-letters). The rules
pages are in rule_pages.py, the alerts page in alert_pages.py; this router includes both."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from smartcity.core import clock, i18n
from smartcity.core.authz import Principal
from smartcity.core.errors import NotFound, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import DIVISIONS
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.registry import contract as registry
from smartcity.registry.contract import PlaceArea
from smartcity.sensing import labels, status
from smartcity.sensing import service as extras
from smartcity.sensing.models import StaDatastream, StaObservedProperty, StaThing
from smartcity.sensing.rules import alert_pages, alerts
from smartcity.sensing.rules import pages as rule_pages
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules import words as rule_words
from smartcity.sensing.rules.models import SensingAlert
from smartcity.sensing.sta.times import parse_datetime
from smartcity.web.maps import Bounds, Marker, Projection, place_labels, point_bounds, union_bounds
from smartcity.web.pages import require_page
from smartcity.web.render import data_name, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)
router.include_router(alert_pages.router)
router.include_router(rule_pages.router)

Reader = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin"))]
Staff = Annotated[Principal, Depends(require_page("staff", "admin"))]

PAGE_SIZE = 50
MAP_WIDTH = 760
STA_ROOT = "/sta/v1.1"
STATUS_COLOURS = {status.REPORTING: "#00703c", status.SILENT: "#c8102e", status.NO_DATA: "#8a8f93"}
LIST_ORDER = {status.SILENT: 0, status.NO_DATA: 1, status.REPORTING: 2}
KIND_LABELS = {
    "air-station": N_("air station"),
    "traffic-detector": N_("traffic detector"),
    "water-meter": N_("water meter"),
}


def kind_label(kind: str) -> str:
    return _(KIND_LABELS[kind]) if kind in KIND_LABELS else kind


def district_of(device: status.Device) -> str:
    """The district a device stands in, by name, from its ``districtCode`` property."""
    code = str(device.properties.get("districtCode") or "")
    info = DIVISIONS.get(code)
    if info:
        return i18n.pick(info.name, info.name_en)
    return code or str(device.properties.get("district") or "—")


def district_name(code: str) -> str:
    """A district's name by its 行政区划代码, in the reader's language; else the code."""
    info = DIVISIONS.get(code)
    return i18n.pick(info.name, info.name_en) if info else code


def property_rows(properties: dict[str, Any]) -> list[tuple[str | None, str, Any]]:
    """A Thing's properties as (label or None, key, value shown): known keys in words, their
    values in words where they have some (labels.py); unknown keys as they are."""
    rows = []
    for key in sorted(properties):
        value = properties[key]
        worded = labels.property_value(key, value, kind_label, district_name)
        rows.append((labels.property_key_label(key), key, value if worded is None else worded))
    return rows


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and 0 < len(text) < 7 and int(text) > 0 else 1


def _link(path: str, params: dict[str, Any]) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "", 1)})
    return f"{path}?{query}" if query else path


# --- the map -----------------------------------------------------------------------------------


@dataclass
class Dot:
    x: float
    y: float
    colour: str
    device: status.Device


@dataclass
class Outline:
    path: str
    label: str = ""
    x: float = 0.0
    y: float = 0.0


@dataclass
class DeviceMap:
    width: int
    height: int
    outlines: list[Outline] = field(default_factory=list)
    captions: list[Outline] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)


def _place_bounds(found: list[PlaceArea]) -> Bounds | None:
    return union_bounds(
        (p.min_lon, p.min_lat, p.max_lon, p.max_lat)  # type: ignore[misc]
        for p in found
        if None not in (p.min_lon, p.min_lat, p.max_lon, p.max_lat)
    )


async def _areas(session: DbSession, principal: Principal) -> tuple[list[PlaceArea], bool]:
    """District outlines from the registry when it has them, else its streets (grouped into
    districts by caption); (places, whether they are districts)."""
    try:
        districts = await registry.areas(session, principal, ("district",))
        if districts:
            return districts, True
        return await registry.areas(session, principal, ("street",)), False
    except Problem:  # no registry for this caller: the map falls back to the points alone
        return [], False


def build_map(
    devices: list[status.Device], areas: list[PlaceArea], are_districts: bool
) -> DeviceMap | None:
    """An SVG map: the areas' outlines, a dot per located device coloured by its status."""
    located = [d for d in devices if d.lon is not None and d.lat is not None]
    points = [(d.lon, d.lat) for d in located if d.lon is not None and d.lat is not None]
    shaped = [p for p in areas if p.geometry is not None]
    bounds = union_bounds([_place_bounds(shaped), point_bounds(points)])
    if bounds is None:
        return None
    projection = Projection(bounds, MAP_WIDTH)
    svg = DeviceMap(projection.width, projection.height)
    for place in shaped:
        assert place.geometry is not None
        try:
            path = projection.path(place.geometry)
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # not a polygon: nothing to outline
        svg.outlines.append(Outline(path))
    by_district: dict[str, list[PlaceArea]] = {}
    for place in shaped:
        key = place.code if are_districts else place.district_code
        by_district.setdefault(key, []).append(place)
    for code, members in by_district.items():
        box = _place_bounds(members)
        if box is None:
            continue
        info = DIVISIONS.get(code)
        label = members[0].name if are_districts else (info.name if info else code)
        x, y = projection.xy((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        svg.captions.append(Outline("", label, x, y))
    # Silent devices last, so the red dots that need attention are drawn on top.
    order = {status.NO_DATA: 0, status.REPORTING: 1, status.SILENT: 2}
    for device in sorted(located, key=lambda d: order[d.status]):
        assert device.lon is not None and device.lat is not None
        x, y = projection.xy(device.lon, device.lat)
        svg.dots.append(Dot(x, y, STATUS_COLOURS[device.status], device))
    # District names moved off the dots (silent ones are drawn larger), so both stay readable.
    spots = place_labels(
        [(c.label, c.x, c.y) for c in svg.captions],
        [Marker(d.x, d.y, 7 if d.device.status == status.SILENT else 5.5) for d in svg.dots],
        projection.width,
        projection.height,
    )
    for caption, (x, y) in zip(svg.captions, spots, strict=True):
        caption.x, caption.y = x, y
    return svg


# --- /sensing: the devices ---------------------------------------------------------------------


@router.get("/sensing")
async def devices_page(request: Request, session: DbSession, principal: Reader) -> Response:
    query = request.query_params
    wanted_status = query.get("status", "")
    wanted_kind = query.get("kind", "")[:64]
    errors: dict[str, str] = {}
    if wanted_status and wanted_status not in status.STATUSES:
        errors["status"] = _("Choose one of the statuses listed.")
        wanted_status = ""
    everything = await status.devices(session, principal)
    kinds = sorted({d.kind for d in everything if d.kind})
    of_kind = [d for d in everything if not wanted_kind or d.kind == wanted_kind]
    # Silent devices first: they are what someone has to go and look at.
    shown = sorted(
        (d for d in of_kind if not wanted_status or d.status == wanted_status),
        key=lambda d: LIST_ORDER[d.status],
    )
    page = _page_number(request)
    pages = max(1, math.ceil(len(shown) / PAGE_SIZE))
    page = min(page, pages)
    areas, are_districts = await _areas(session, principal)
    filters = {"status": wanted_status, "kind": wanted_kind}
    return render(
        request,
        "sensing/devices.html",
        {
            "map": build_map(shown, areas, are_districts),
            "rows": shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            "total": len(shown),
            "counts": status.counts(of_kind),
            "all_count": len(of_kind),
            "kinds": kinds,
            "kind_label": kind_label,
            "district_of": district_of,
            "wanted_status": wanted_status,
            "wanted_kind": wanted_kind,
            "page": page,
            "pages": pages,
            "prev_link": _link("/sensing", {**filters, "page": page - 1}) if page > 1 else "",
            "next_link": _link("/sensing", {**filters, "page": page + 1}) if page < pages else "",
            "status_link": lambda s: _link("/sensing", {"kind": wanted_kind, "status": s}),
            "status_labels": status.STATUS_LABELS,
            "status_colours": STATUS_COLOURS,
            "statuses": status.STATUSES,
            "errors": errors,
            "tab": "devices",
            "now": clock.now(),
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


# --- /sensing/things/{id} ----------------------------------------------------------------------


@dataclass
class StreamRow:
    stream: StaDatastream
    property_name: str
    value: Any = None
    time: datetime | None = None
    open_alerts: int = 0


def _instant(text: str | None) -> datetime | None:
    """The end of an ISO 8601 instant or interval, as the latest-observation answer gives it."""
    if not text:
        return None
    try:
        return parse_datetime(text.split("/")[-1])
    except Problem:
        return None


def _unit(stream: StaDatastream) -> str:
    unit = stream.unit_of_measurement if isinstance(stream.unit_of_measurement, dict) else {}
    return str(unit.get("symbol") or unit.get("name") or "")


async def _stream_rows(
    session: DbSession, principal: Principal, streams: list[StaDatastream]
) -> list[StreamRow]:
    if not streams:
        return []
    ids = [s.id for s in streams]
    latest = await extras.latest_observations(
        session, principal, STA_ROOT, datastreams=ids, limit=min(len(ids), extras.LATEST_MAX)
    )
    newest = {item.datastream_id: item.observation for item in latest.value}
    names = await status.observed_property_names(session, {s.observed_property_id for s in streams})
    rows = []
    for stream in streams:
        observation = newest.get(stream.id)
        rows.append(
            StreamRow(
                stream,
                labels.observed_property_label(names.get(stream.observed_property_id, "")),
                observation.result if observation else None,
                _instant(observation.phenomenon_time) if observation else None,
            )
        )
    return rows


@router.get("/sensing/things/{thing_id}")
async def thing_page(
    thing_id: int, request: Request, session: DbSession, principal: Reader
) -> Response:
    found = await status.devices(session, principal, thing_ids=[thing_id])
    if not found:
        raise NotFound(_("There is no such device."))
    device = found[0]
    thing = await session.get(StaThing, thing_id)
    assert thing is not None
    streams = await status.thing_datastreams(session, thing_id)
    rows = await _stream_rows(session, principal, streams)
    open_alerts: list[SensingAlert] = []
    if streams:
        open_alerts = list(
            (
                await session.scalars(
                    alerts.readable_alerts(principal)
                    .where(
                        SensingAlert.datastream_id.in_([s.id for s in streams]),
                        SensingAlert.status != alerts.RESOLVED,
                    )
                    .order_by(SensingAlert.opened_at.desc())
                )
            ).all()
        )
    for row in rows:
        row.open_alerts = sum(1 for a in open_alerts if a.datastream_id == row.stream.id)
    rule_names = await rules.rule_names(session, {a.rule_id for a in open_alerts})
    located = device.lon is not None
    svg = build_map([device], *(await _areas(session, principal))) if located else None
    return render(
        request,
        "sensing/thing.html",
        {
            "device": device,
            "thing": thing,
            "rows": rows,
            "unit": _unit,
            "alerts": open_alerts,
            "rule_names": rule_names,
            "stream_names": {s.id: s.name for s in streams},
            "properties": property_rows(device.properties),
            "kind_label": kind_label,
            "status_labels": status.STATUS_LABELS,
            "status_colours": STATUS_COLOURS,
            "alert_status_labels": alert_pages.STATUS_LABELS,
            "severity_labels": alert_pages.SEVERITY_LABELS,
            "map": svg,
            "tab": "devices",
        },
        principal=principal,
    )


# --- /sensing/datastreams/{id} -----------------------------------------------------------------

RANGES: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "custom": None,
}
RANGE_LABELS = {
    "1h": N_("last hour"),
    "24h": N_("last 24 hours"),
    "7d": N_("last 7 days"),
    "custom": N_("from … to …"),
}
DEFAULT_BUCKET = {"1h": "1min", "24h": "5min", "7d": "1h", "custom": "1h"}
BUCKET_LABELS = {
    "1min": N_("1 minute"),
    "5min": N_("5 minutes"),
    "1h": N_("1 hour"),
    "1d": N_("1 day"),
}
FUNCTION_LABELS = {
    "avg": N_("average"),
    "min": N_("minimum"),
    "max": N_("maximum"),
    "count": N_("count"),
    "sum": N_("sum"),
}
EARLIEST = datetime(1992, 1, 1, tzinfo=clock.CITY_TZ)


@dataclass(frozen=True)
class ChartForm:
    since: datetime
    until: datetime
    bucket: str
    function: str


def _local_time(text: str) -> datetime | None:
    """A ``datetime-local`` value (``2026-05-01T08:00``) as a city time."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=clock.CITY_TZ)
    return value


def parse_chart_form(params: dict[str, str]) -> tuple[ChartForm | None, dict[str, str]]:
    """The chart's GET form: (the request, errors per field). Bad values are named, never a
    500; the values stay in the form for correction."""
    errors: dict[str, str] = {}
    span = params.get("range") or "24h"
    if span not in RANGES:
        errors["range"] = _("Choose one of the ranges listed.")
        span = "24h"
    bucket = params.get("bucket") or DEFAULT_BUCKET[span]
    if bucket not in extras.INTERVALS:
        errors["bucket"] = _("Choose one of the bucket sizes listed.")
    function = params.get("fn") or "avg"
    if function not in extras.FUNCTIONS:
        errors["fn"] = _("Choose one of the functions listed.")
    until = clock.now()
    since: datetime | None = None
    length = RANGES[span]
    if length is not None:
        since = until - length
    else:
        since = _local_time(params.get("from", ""))
        end = _local_time(params.get("to", "")) if params.get("to") else clock.now()
        if since is None:
            errors["from"] = _("Enter the start as a date and time, e.g. 2026-05-01 08:00.")
        elif since < EARLIEST:
            errors["from"] = _("Start after 1992.")
        if end is None:
            errors["to"] = _("Enter the end as a date and time, e.g. 2026-05-02 08:00.")
        else:
            until = end
        if since is not None and end is not None and since >= end and "from" not in errors:
            errors["to"] = _("The end must be after the start.")
    if not errors and since is not None and bucket in extras.INTERVALS:
        step = extras.INTERVALS[bucket]
        if (until - since).total_seconds() / step > extras.MAX_BUCKETS:
            errors["bucket"] = _(
                "This range holds more than %(n)s buckets of this size: choose a larger bucket "
                "or a shorter range."
            ) % {"n": extras.MAX_BUCKETS}
    if errors or since is None:
        return None, errors
    return ChartForm(since, until, bucket, function), errors


@dataclass
class BucketRow:
    start: datetime
    value: float | int | None
    low: float | None
    high: float | None
    count: int


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.0f}"


@router.get("/sensing/datastreams/{datastream_id}")
async def datastream_page(
    datastream_id: int, request: Request, session: DbSession, principal: Reader
) -> Response:
    stream = await extras.readable_datastream(session, principal, datastream_id)
    thing = await session.get(StaThing, stream.thing_id)
    prop = await session.get(StaObservedProperty, stream.observed_property_id)
    assert thing is not None and prop is not None
    params = {
        k: request.query_params.get(k, "")[:40] for k in ("range", "bucket", "fn", "from", "to")
    }
    form, errors = parse_chart_form(params)
    values = {
        "range": params["range"] if params["range"] in RANGES else "24h",
        "bucket": params["bucket"] or DEFAULT_BUCKET.get(params["range"] or "24h", "5min"),
        "fn": params["fn"] or "avg",
        "from": params["from"],
        "to": params["to"],
    }
    buckets: list[BucketRow] = []
    skipped = 0
    not_numeric = stream.observation_type not in extras.NUMERIC_TYPES
    if form is not None and not not_numeric:
        functions = tuple(dict.fromkeys((form.function, "min", "max", "count")))
        try:
            request_ = extras.parse_aggregate_request(
                form.since.isoformat(), form.until.isoformat(), form.bucket, ",".join(functions)
            )
        except Problem as problem:
            where = str(problem.extensions.get("field", "bucket"))
            errors[{"interval": "bucket", "functions": "fn"}.get(where, where)] = problem.detail
        else:
            answer = await extras.aggregates(session, principal, datastream_id, request_)
            skipped = answer.skipped
            for b in answer.buckets:
                start = parse_datetime(b.start)
                count = b.values.get("count")
                buckets.append(
                    BucketRow(
                        start=start,
                        value=b.values.get(form.function),
                        low=_float(b.values.get("min")),
                        high=_float(b.values.get("max")),
                        count=int(count) if isinstance(count, int | float) else 0,
                    )
                )
    unit = _unit(stream)
    chart = {
        "x": [f"{clock.to_city(b.start):%Y-%m-%d %H:%M}" for b in buckets],
        "y": [b.value for b in buckets],
        "low": [b.low for b in buckets],
        "high": [b.high for b in buckets],
        "band": form is not None and form.function == "avg",
        # Plotly writes dates in English ("Dec 7, 2026") unless told how the locale does.
        "zh": i18n.current_locale.get().startswith("zh"),
        "labels": {
            "value": _(FUNCTION_LABELS.get(values["fn"], values["fn"])),
            "low": _("minimum"),
            "high": _("maximum"),
            "unit": unit,
        },
    }
    latest = (await _stream_rows(session, principal, [stream]))[0]
    own_rules = await rules.list_rules(session, principal, datastream_id=datastream_id)
    property_rules = await rules.list_rules(
        session, principal, observed_property_id=stream.observed_property_id
    )
    return render(
        request,
        "sensing/datastream.html",
        {
            "stream": stream,
            "thing": thing,
            "prop": prop,
            "observed_property_label": labels.observed_property_label,
            "unit": unit,
            "latest": latest,
            "form": form,
            "values": values,
            "errors": errors,
            "buckets": buckets,
            "skipped": skipped,
            "not_numeric": not_numeric,
            "chart": chart,
            "fmt": _fmt,
            "range_labels": RANGE_LABELS,
            "bucket_labels": BUCKET_LABELS,
            "function_labels": FUNCTION_LABELS,
            "rules": [*own_rules, *property_rules],
            "in_words": await rule_words.rules_in_words(
                session, [*own_rules, *property_rules], datastream_id=datastream_id, mark=data_name
            ),
            "kind_labels": alert_pages.KIND_LABELS,
            "severity_labels": alert_pages.SEVERITY_LABELS,
            "tab": "devices",
        },
        status_code=422 if errors else 200,
        principal=principal,
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# --- /sensing/dead-letters ---------------------------------------------------------------------

PREVIEW_CHARS = 160


def preview(text: str) -> str:
    """The start of a payload; the template escapes it."""
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB"


@router.get("/sensing/dead-letters")
async def dead_letters_page(request: Request, session: DbSession, principal: Staff) -> Response:
    query = request.query_params
    topic = query.get("topic", "").strip()[:200]
    day_text = query.get("date", "").strip()[:10]
    errors: dict[str, str] = {}
    day: date | None = None
    if day_text:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            errors["date"] = _("Enter a date like 2026-05-01.")
    page = _page_number(request)
    found = await status.dead_letters(
        session,
        principal,
        topic=topic or None,
        day=day,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    filters = {"topic": topic, "date": day_text}
    return render(
        request,
        "sensing/dead_letters.html",
        {
            "letters": found.items,
            "topic": topic,
            "day": day_text,
            "page": page,
            "prev_link": _link("/sensing/dead-letters", {**filters, "page": page - 1})
            if page > 1
            else "",
            "next_link": _link("/sensing/dead-letters", {**filters, "page": page + 1})
            if found.has_more
            else "",
            "preview": lambda text: (
                text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"
            ),
            "size_text": size_text,
            "stamp": lambda at: f"{clock.to_city(at):%Y-%m-%d %H:%M:%S}",
            "errors": errors,
            "tab": "dead-letters",
        },
        status_code=422 if errors else 200,
        principal=principal,
    )
