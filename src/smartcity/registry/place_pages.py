"""Pages of places (地理空间库: a map of a district's grids and the tree 区 → 街道 → 社区 → 网格)
and of data quality (problems to fix per department). Included into the registry's pages."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from smartcity.core.authz import Principal, can
from smartcity.core.errors import InvalidInput, Problem
from smartcity.core.i18n import N_
from smartcity.core.i18n import gettext as _
from smartcity.core.ids import DIVISIONS, SHENZHEN_DISTRICTS
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.registry import places, quality
from smartcity.registry.models import Place
from smartcity.web.maps import Projection
from smartcity.web.pages import require_page
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

Staff = Annotated[Principal, Depends(require_page("staff", "supervisor", "admin"))]
PAGE_SIZE = 50
MAP_WIDTH = 760
# A sequential blue scale for residents per grid; index 0 is "nobody".
SHADES = ("#eef2f5", "#d4e6f1", "#a9cce3", "#6fa8d6", "#2e86c1", "#1b4f72")
DISTRICT_COLOURS = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#1f78b4",
    "#b15928",
    "#6a3d9a",
)


# --- the map -----------------------------------------------------------------------------


@dataclass
class Shape:
    code: str
    name: str
    href: str
    path: str
    fill: str
    title: str
    label: str = ""
    x: float = 0.0
    y: float = 0.0
    current: bool = False


@dataclass
class Outline:
    path: str
    label: str = ""
    x: float = 0.0
    y: float = 0.0


@dataclass
class SvgMap:
    width: int
    height: int
    top: int = 0
    shapes: list[Shape] = field(default_factory=list)
    outlines: list[Outline] = field(default_factory=list)
    dots: list[tuple[float, float, str]] = field(default_factory=list)


def _bounds(items: Iterable[Place]) -> tuple[float, float, float, float] | None:
    boxes = [(p.min_lon, p.min_lat, p.max_lon, p.max_lat) for p in items if p.min_lon is not None]
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes if b[0] is not None),
        min(b[1] for b in boxes if b[1] is not None),
        max(b[2] for b in boxes if b[2] is not None),
        max(b[3] for b in boxes if b[3] is not None),
    )


def shade(count: int, top: int) -> str:
    if count <= 0 or top <= 0:
        return SHADES[0]
    step = math.ceil(count / top * (len(SHADES) - 1))
    return SHADES[min(max(step, 1), len(SHADES) - 1)]


def legend(top: int) -> list[tuple[str, str]]:
    """(colour, range) pairs for the residents scale."""
    items = [(SHADES[0], "0")]
    steps = len(SHADES) - 1
    for i in range(1, steps + 1):
        low = math.floor(top * (i - 1) / steps) + 1
        high = math.floor(top * i / steps)
        if high >= low:
            items.append((SHADES[i], f"{low}–{high}" if high > low else str(low)))
    return items


def build_map(
    filled: Sequence[Place],
    counts: dict[str, int],
    *,
    outlines: Sequence[Place] = (),
    labels: dict[str, str] | None = None,
    dots: Sequence[Place] = (),
    captions: Sequence[tuple[str, tuple[float, float, float, float]]] = (),
    current: str | None = None,
) -> SvgMap | None:
    """An SVG map of areas shaded by residents, with outlines of larger areas above them."""
    bounds = _bounds([*filled, *outlines])
    if bounds is None:
        return None
    projection = Projection(bounds, MAP_WIDTH)
    top = max((counts.get(p.code, 0) for p in filled), default=0)
    svg = SvgMap(projection.width, projection.height, top)
    for place in filled:
        if place.geometry is None:
            continue
        n = counts.get(place.code, 0)
        x, y = _centre(projection, place)
        svg.shapes.append(
            Shape(
                code=place.code,
                name=place.name,
                href=f"/registry/places/{place.code}",
                path=projection.path(place.geometry),
                fill=shade(n, top),
                title=_("{name}: {n} residents").format(name=place.name, n=n),
                x=x,
                y=y,
                current=place.code == current,
            )
        )
    for place in outlines:
        if place.geometry is None:
            continue
        x, y = _centre(projection, place)
        label = (labels or {}).get(place.code, "")
        svg.outlines.append(Outline(projection.path(place.geometry), label, x, y))
    for place in dots:
        if place.geometry is not None and place.geometry.get("type") == "Point":
            lon, lat = place.geometry["coordinates"][:2]
            x, y = projection.xy(float(lon), float(lat))
            svg.dots.append((x, y, place.name))
    for text, (x0, y0, x1, y1) in captions:
        x, y = projection.xy((x0 + x1) / 2, (y0 + y1) / 2)
        svg.outlines.append(Outline("", text, x, y))
    return svg


def _centre(projection: Projection, place: Place) -> tuple[float, float]:
    assert place.min_lon is not None and place.max_lon is not None
    assert place.min_lat is not None and place.max_lat is not None
    return projection.xy((place.min_lon + place.max_lon) / 2, (place.min_lat + place.max_lat) / 2)


# --- the tree ----------------------------------------------------------------------------


@dataclass
class Node:
    code: str
    name: str
    kind: str
    residents: int = 0
    grids: int = 0
    children: list[Node] = field(default_factory=list)
    current: bool = False
    open: bool = False


def _tree(areas: list[Place], counts: dict[str, int], chain: list[str]) -> list[Node]:
    """Districts with their streets, communities and grids; counts summed up the tree."""
    nodes: dict[str, Node] = {}
    for info in SHENZHEN_DISTRICTS:
        nodes[info.code] = Node(info.code, info.name, "district")
    children: dict[str, list[Place]] = defaultdict(list)
    for place in areas:
        nodes[place.code] = Node(place.code, place.name, place.kind)
        if place.parent_code:
            children[place.parent_code].append(place)
    for parent_code, kids in children.items():
        if parent_code in nodes:
            nodes[parent_code].children = [nodes[k.code] for k in kids]

    def total(node: Node) -> tuple[int, int]:
        if node.kind == "grid":
            node.residents, node.grids = counts.get(node.code, 0), 1
        else:
            sums = [total(child) for child in node.children]
            node.residents = sum(s[0] for s in sums)
            node.grids = sum(s[1] for s in sums)
        return node.residents, node.grids

    roots = [nodes[info.code] for info in SHENZHEN_DISTRICTS]
    for root in roots:
        total(root)
    for code in chain:
        if code in nodes:
            nodes[code].open = True
    if chain and chain[-1] in nodes:
        nodes[chain[-1]].current = True
    return roots


async def _chain_of(session: DbSession, principal: Principal, place: Place) -> list[Place]:
    """The place and its ancestors up to the street, top first."""
    chain = [place]
    seen = {place.code}
    while chain[0].parent_code and chain[0].parent_code not in places.DISTRICT_CODES:
        code = chain[0].parent_code
        if code in seen:
            break
        seen.add(code)
        try:
            chain.insert(0, await places.get_place(session, principal, code))
        except Problem:
            break
    return chain


def _district_label(code: str) -> str:
    info = DIVISIONS.get(code)
    return info.name if info else code


async def _places_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    code: str | None,
) -> Response:
    district_code: str | None = None
    current: Place | None = None
    chain: list[Place] = []
    if code is not None:
        if code in places.DISTRICT_CODES:
            district_code = code
        else:
            current = await places.get_place(session, principal, code)
            district_code = current.district_code
            chain = await _chain_of(session, principal, current)
    areas = await places.district_places(session, principal, None)
    counts = await places.grid_person_counts(session, principal)
    tree_chain = ([district_code] if district_code else []) + [p.code for p in chain]
    tree = _tree(areas, counts, tree_chain)
    children_of: dict[str | None, list[Place]] = defaultdict(list)
    for place in areas:
        children_of[place.parent_code].append(place)

    def grids_under(root: str) -> list[Place]:
        found, stack = [], [root]
        while stack:
            for child in children_of.get(stack.pop(), []):
                if child.kind == "grid":
                    found.append(child)
                else:
                    stack.append(child.code)
        return found

    node_totals = {n.code: n for n in _walk(tree)}
    detail: list[Place] = []
    svg: SvgMap | None
    if district_code is None:
        streets = [p for p in areas if p.kind == "street"]
        street_counts = {s.code: node_totals[s.code].residents for s in streets}
        # District names over their streets, for orientation on the city map.
        captions = []
        for info in SHENZHEN_DISTRICTS:
            bounds = _bounds([s for s in streets if s.district_code == info.code])
            if bounds:
                captions.append((info.name, bounds))
        svg = build_map(streets, street_counts, captions=captions)
        title = _("Shenzhen")
        rows = [node_totals[info.code] for info in SHENZHEN_DISTRICTS]
    elif current is None or current.kind in places.AREA_KINDS:
        root = current.code if current else district_code
        grids = grids_under(root)
        framing = [c for c in children_of.get(root, []) if c.kind != "grid"]
        highlight = None
        if current is not None and current.kind == "grid":
            # A grid among its neighbours in the community, itself outlined.
            detail = (await places.list_places(session, principal, parent=current.code))[0]
            grids = [g for g in children_of.get(current.parent_code, []) if g.kind == "grid"]
            grids = grids or [current]
            highlight = current.code
        labels = {p.code: p.name for p in framing}
        svg = build_map(
            grids, counts, outlines=framing, labels=labels, dots=detail, current=highlight
        )
        title = current.name if current else _district_label(district_code)
        rows = list(node_totals[root].children) if root in node_totals else []
    else:
        # A building, address, road segment or point of interest: show it in its grid.
        holder = next((p for p in reversed(chain[:-1]) if p.kind == "grid"), None)
        svg = build_map([holder] if holder else [], counts, dots=[current])
        title = current.name
        rows = []
    resolved: places.ResolvedPlace | None = None
    errors: dict[str, str] = {}
    lon_text = request.query_params.get("lon", "").strip()
    lat_text = request.query_params.get("lat", "").strip()
    searched = bool(lon_text or lat_text)
    if searched:
        try:
            lon, lat = float(lon_text), float(lat_text)
            resolved = await places.resolve_point(session, lon, lat)
        except ValueError:
            errors["lon"] = _("Enter longitude and latitude as numbers, e.g. 114.0579 and 22.5431.")
        except InvalidInput as exc:
            errors["lon"] = exc.detail
    return render(
        request,
        "registry/places.html",
        {
            "title": title,
            "district_code": district_code,
            "district_name": _district_label(district_code) if district_code else "",
            "current": current,
            "chain": chain,
            "tree": tree,
            "svg": svg,
            "legend": legend(svg.top if svg else 0),
            "rows": rows,
            "detail": detail,
            "kind_label": places.kind_label,
            "feature": places.place_feature(current) if current else None,
            "resolved": resolved,
            "searched": searched,
            "errors": errors,
            "values": {"lon": lon_text, "lat": lat_text},
            "total_residents": sum(counts.values()),
            "residents": node_totals[current.code].residents
            if current is not None and current.code in node_totals
            else None,
        },
    )


def _walk(nodes: list[Node]) -> Iterable[Node]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


@router.get("/registry/places")
async def places_overview(request: Request, session: DbSession, principal: Staff) -> Response:
    return await _places_page(request, session, principal, None)


@router.get("/registry/places/{code}")
async def place_page(request: Request, session: DbSession, principal: Staff, code: str) -> Response:
    return await _places_page(request, session, principal, code)


# --- data quality ------------------------------------------------------------------------

FIELD_LABELS = {
    "id_number": N_("ID number"),
    "birth_date": N_("Date of birth"),
    "hukou_division_code": N_("Household registration (hukou)"),
    "phone": N_("Phone"),
    "residence_place_code": N_("Residence grid"),
    "uscc": N_("Unified social credit code"),
    "legal_representative_id": N_("Legal representative"),
    "industry": N_("Industry"),
}
REGISTRY_LABELS = {
    "person": N_("Population registry"),
    "organization": N_("Legal-person registry"),
}


def _record_href(record_type: str, record_id: object) -> str:
    return f"/registry/{'persons' if record_type == 'person' else 'organizations'}/{record_id}"


@router.get("/registry/quality")
async def quality_page(request: Request, session: DbSession, principal: Staff) -> Response:
    params = request.query_params
    department = params.get("department", "").strip() or None
    rule = params.get("rule", "").strip() or None
    record_type = params.get("record_type", "").strip() or None
    if record_type not in (None, *quality.CHECKED_TYPES):
        record_type = None
    try:
        offset = max(int(params.get("offset", "0")), 0)
    except ValueError:
        offset = 0
    errors: dict[str, str] = {}
    if rule and rule not in quality.RULES_BY_NAME:
        errors["rule"] = _("Choose a rule from the list.")
        rule = None
    report = await quality.quality_report(session, principal)
    issues, total = await quality.list_quality_issues(
        session,
        principal,
        department=department,
        rule=rule,
        record_type=record_type,
        limit=PAGE_SIZE,
        offset=offset,
    )
    departments = sorted({(r.department_code, r.department_name) for r in report})
    per_department: dict[str, int] = defaultdict(int)
    for row in report:
        per_department[row.department_code] += row.open
    filters = {"department": department or "", "rule": rule or "", "record_type": record_type or ""}
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "registry/quality.html",
        {
            "report": report,
            "departments": departments,
            "department_names": dict(departments),
            "per_department": dict(per_department),
            "total_open": sum(r.open for r in report),
            "issues": issues,
            "total": total,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "rules": quality.RULES,
            "rule_title": quality.rule_title,
            "field_labels": FIELD_LABELS,
            "registry_labels": REGISTRY_LABELS,
            "record_href": _record_href,
            "values": filters,
            "query": query,
            "errors": errors,
            "may_run": can(principal, "registry.quality.run"),
            "ran": params.get("ran"),
        },
    )


@router.post("/registry/quality/run")
async def run_quality(request: Request, session: DbSession, principal: Staff) -> Response:
    form = await request.form()
    check_csrf(request, form)
    added = resolved = 0
    for record_type in quality.CHECKED_TYPES:
        done = await quality.run_quality_checks(session, principal, record_type)
        added, resolved = added + done.added, resolved + done.resolved
    return RedirectResponse(f"/registry/quality?ran={added}-{resolved}", status_code=303)
