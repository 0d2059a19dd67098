"""Deny by default: every route of the app refuses anonymous callers and callers of the wrong
kind, unless it is declared public. New modules are covered by construction."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from smartcity.core.models import PrincipalKind
from smartcity.core.security import issue_access_token
from smartcity.settings import get_settings
from tests.core import factories

ALL_KINDS = [k.value for k in PrincipalKind]


def _dependency_calls(route: APIRoute) -> list[Any]:
    calls = []
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.append(dependant.call)
        stack.extend(dependant.dependencies)
    return calls


def guard_of(route: APIRoute) -> tuple[bool, frozenset[str] | None]:
    """(public?, admitted kinds or None). Routes with neither are a failure of this test."""
    calls = _dependency_calls(route)
    is_public = any(getattr(c, "__smartcity_public__", False) for c in calls)
    kinds = [getattr(c, "__smartcity_kinds__", None) for c in calls]
    admitted = [k for k in kinds if k is not None]
    return is_public, (admitted[0] if admitted else None)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: str(uuid.uuid4()) if "id" in m.group() else "x", path)


def api_routes(app: Any) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps those as branches; the
    routers carry no include-time prefix or dependencies here, so their routes are complete)."""
    found: list[APIRoute] = []
    stack = list(app.routes)
    while stack:
        route = stack.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            stack.extend(route.original_router.routes)
    return found


def test_every_route_is_public_or_guarded(app: Any) -> None:
    assert len(api_routes(app)) > 20
    unguarded = []
    for route in api_routes(app):
        is_public, kinds = guard_of(route)
        if not is_public and kinds is None:
            unguarded.append(f"{sorted(route.methods)} {route.path}")
    assert unguarded == [], "routes with no principal check and no public marker"


def test_mounts_are_static_only(app: Any) -> None:
    mounts = [r.path for r in app.routes if isinstance(r, Mount)]
    assert set(mounts) <= {"/static", "/static/apidocs"}


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
async def test_anonymous_is_refused_everywhere(app: Any, client: Any, accept: str) -> None:
    checked = 0
    for route in api_routes(app):
        is_public, _kinds = guard_of(route)
        if is_public:
            continue
        for method in route.methods - {"HEAD"}:
            response = await client.request(
                method, concrete(route.path), headers={"accept": accept}
            )
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login"), route.path
            else:
                assert response.status_code == 401, (method, route.path, response.text)
            checked += 1
    assert checked > 10


async def test_wrong_kind_is_refused_everywhere(app: Any, client: Any, session: Any) -> None:
    tokens: dict[str, str] = {}
    settings = get_settings()
    for kind in ALL_KINDS:
        if kind in ("system", "device"):
            continue  # machine kinds use keys; their refusal is the same code path as tokens
        account = await factories.create_account(session, kind=kind)
        tokens[kind] = issue_access_token(settings, account, amr=["pwd", "otp"])
    await session.commit()
    checked = 0
    for route in api_routes(app):
        is_public, kinds = guard_of(route)
        if is_public or not kinds:
            continue
        outsiders = [k for k in tokens if k not in kinds]
        for kind in outsiders:
            for method in route.methods - {"HEAD"}:
                response = await client.request(
                    method,
                    concrete(route.path),
                    headers={
                        "Authorization": f"Bearer {tokens[kind]}",
                        "accept": "application/json",
                    },
                )
                assert response.status_code == 403, (kind, method, route.path, response.text)
                checked += 1
    assert checked > 10


async def test_unknown_route_is_a_problem(client: Any) -> None:
    response = await client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/not-found"
    assert "/api/v1/no-such-thing" in body["detail"]


async def test_unknown_page_is_a_page(client: Any) -> None:
    response = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


# --- exact route counts per module ---------------------------------------------------------

# (API routes, page routes) of every module in modules(), counted as (method, path) pairs
# without HEAD. A new route changes its module's count: add it here, and, when it acts on a
# department's objects, to DEPARTMENT_ROUTES below (or to NOT_DEPARTMENT_OWNED with why).
ROUTE_COUNTS: dict[str, tuple[int, int]] = {
    "core": (27, 0),
    "portal": (0, 33),
    "registry": (24, 15),
    "exchange": (26, 11),
    "cases": (24, 16),
    "services": (26, 21),
    "hotline": (33, 17),
    "participation": (13, 12),
    "knowledge": (9, 8),
    "sensing": (24, 15),
    "environment": (5, 2),
    "traffic": (6, 3),
    "demo": (0, 0),
}
# Routes of no module: the shared pages of web and the API docs of create_app.
OUTSIDE_MODULES = {
    ("GET", "/"),
    ("GET", "/lang/{locale}"),
    ("GET", "/static/vendor/plotly.css"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
}


def method_paths(routes: Any) -> set[tuple[str, str]]:
    return {(method, r.path) for r in api_routes(routes) for method in r.methods - {"HEAD"}}


def test_route_counts_per_module_are_exact(app: Any) -> None:
    from smartcity.app import modules

    counted: dict[str, tuple[int, int]] = {}
    in_modules: set[tuple[str, str]] = set()
    for module in modules():
        api = method_paths(module.router) if module.router is not None else set()
        pages = method_paths(module.pages) if module.pages is not None else set()
        counted[module.name] = (len(api), len(pages))
        in_modules |= api | pages
    table = "\n".join(f'    "{name}": {pair},' for name, pair in counted.items())
    assert counted == ROUTE_COUNTS, (
        "the routes of a module changed: check each new route is guarded (and, when it acts "
        "on a department's objects, listed in DEPARTMENT_ROUTES or NOT_DEPARTMENT_OWNED), "
        f"then make ROUTE_COUNTS:\n{table}"
    )
    outside = method_paths(app) - in_modules
    assert outside == OUTSIDE_MODULES, (
        f"routes served by no module: {sorted(outside - OUTSIDE_MODULES)}; "
        f"gone: {sorted(OUTSIDE_MODULES - outside)}. Put a route in its module's router or "
        "pages, or (only for the shared pages and API docs) in OUTSIDE_MODULES"
    )
    assert len(method_paths(app)) == sum(a + p for a, p in ROUTE_COUNTS.values()) + len(
        OUTSIDE_MODULES
    ), "two modules serve the same method and path"


# --- the wrong department ------------------------------------------------------------------

# Department A owns one object of each kind; staff of department B must be refused on every
# route that acts on one (403 or 404 as problem+json on the API, a 403/404 page on pages) and
# must find none of them in a list. A third department, C, publishes the resource A holds a
# grant for.
A, B, C = "SCJGJ", "GAJ", "ZWSJJ"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# (method, path) -> (the object of A in its path, the body a caller of A's own could send)
DEPARTMENT_ROUTES: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    # cases: a case of A
    ("GET", "/api/v1/cases/{case_id:uuid}"): ("case", None),
    ("GET", "/api/v1/cases/{case_id:uuid}/steps"): ("case", None),
    ("GET", "/api/v1/cases/{case_id:uuid}/flags"): ("case", None),
    ("POST", "/api/v1/cases/{case_id:uuid}/transitions/{name}"): ("case", {"fields": {}}),
    ("POST", "/api/v1/cases/{case_id:uuid}/assign"): ("case", {"officer": "@staff_a"}),
    ("POST", "/api/v1/cases/{case_id:uuid}/transfer"): (
        "case",
        {"department": B, "reason": "不属本部门"},
    ),
    ("POST", "/api/v1/cases/{case_id:uuid}/comments"): ("case", {"text": "已核实"}),
    ("POST", "/api/v1/cases/{case_id:uuid}/correction"): (
        "case",
        {"to_state": "submitted", "reason": "纠错"},
    ),
    ("POST", "/api/v1/cases/{case_id:uuid}/rating"): ("case", {"score": 5}),
    ("GET", "/api/v1/cases/{case_id:uuid}/urges"): ("case", None),
    # 督办: only the urged department replies
    ("POST", "/api/v1/cases/urges/{urge_id}/reply"): ("urge", {"reply": "已加快办理"}),
    ("POST", "/cases/urges/{urge_id:uuid}/reply"): ("urge", {"reply": "已加快办理"}),
    ("GET", "/cases/{case_id:uuid}"): ("case", None),
    ("POST", "/cases/{case_id:uuid}/steps/{name}"): ("case", {}),
    ("POST", "/cases/{case_id:uuid}/assign"): ("case", {"officer": "@staff_a"}),
    ("POST", "/cases/{case_id:uuid}/transfer"): ("case", {"department": B, "reason": "不属"}),
    ("POST", "/cases/{case_id:uuid}/comment"): ("case", {"text": "已核实"}),
    ("POST", "/cases/{case_id:uuid}/correct"): ("case", {"to_state": "submitted", "reason": "x"}),
    # services: the material of A's application, a licence A issued
    ("GET", "/api/v1/services/materials/{material_id}"): ("material", None),
    ("GET", "/api/v1/licences/{number}/document"): ("licence", None),
    ("GET", "/api/v1/licences/{number}/signature"): ("licence", None),
    ("GET", "/api/v1/licences/{number}/pdf"): ("licence", None),
    ("GET", "/my/licences/{number}/licence.pdf"): ("licence", None),
    ("POST", "/api/v1/licences/{number}/revoke"): ("licence", {"reason": "吊销"}),
    ("GET", "/licences/{number}/revoke"): ("licence", None),
    ("POST", "/licences/{number}/revoke"): ("licence", {"reason": "吊销"}),
    # sensing: A's rule and its alert (read by all staff, changed by A only)
    ("PATCH", "/api/v1/sensing/rules/{rule_id}"): ("rule", {"active": False}),
    ("DELETE", "/api/v1/sensing/rules/{rule_id}"): ("rule", None),
    ("POST", "/api/v1/sensing/alerts/{alert_id}/acknowledge"): ("alert", {"note": "已知"}),
    ("POST", "/api/v1/sensing/alerts/{alert_id}/resolve"): ("alert", {"note": "已处置"}),
    ("POST", "/sensing/rules/{rule_id}/edit"): (
        "rule",
        {
            "name": "改名",
            "severity": "critical",
            "scope": "datastream",
            "datastream_id": "@datastream",
            "department_id": "@department_a",
            "threshold-op": "above",
            "threshold-value": "80",
            "threshold-hysteresis": "5",
        },
    ),
    ("POST", "/sensing/rules/{rule_id}/active"): ("rule", {"active": "false"}),
    ("POST", "/sensing/rules/{rule_id}/delete"): ("rule", {}),
    ("POST", "/sensing/alerts/{alert_id}/acknowledge"): ("alert", {"note": "已知"}),
    ("POST", "/sensing/alerts/{alert_id}/resolve"): ("alert", {"note": "已处置"}),
    # exchange: A's resource, A's grant, A's subscription and A's call
    ("PATCH", "/api/v1/exchange/resources/{code}"): ("resource", {"title": "改名"}),
    ("GET", "/api/v1/exchange/grants/{grant_id}"): ("grant", None),
    ("POST", "/api/v1/exchange/grants/{grant_id}/approve"): ("grant", {}),
    ("POST", "/api/v1/exchange/grants/{grant_id}/refuse"): ("grant", {"reason": "不同意"}),
    ("POST", "/api/v1/exchange/grants/{grant_id}/revoke"): ("grant", {"reason": "收回"}),
    ("POST", "/exchange/grants/{grant_id}"): ("grant", {"action": "revoke", "reason": "收回"}),
    ("DELETE", "/api/v1/exchange/subscriptions/{subscription_id}"): ("subscription", None),
    ("GET", "/api/v1/exchange/subscriptions/{subscription_id}/deliveries"): (
        "subscription",
        None,
    ),
    ("GET", "/api/v1/exchange/messages/{message_id}"): ("exchange_message", None),
    # hotline: a work order dispatched to A
    ("GET", "/api/v1/hotline/orders/{order_id}"): ("hotline_order", None),
    ("POST", "/api/v1/hotline/orders/{order_id}/dispatch"): ("hotline_order", {"department": B}),
    ("POST", "/api/v1/hotline/orders/{order_id}/sign"): ("hotline_order", None),
    ("POST", "/api/v1/hotline/orders/{order_id}/return"): ("hotline_order", {"reason": "不属"}),
    ("POST", "/api/v1/hotline/orders/{order_id}/transfer"): (
        "hotline_order",
        {"department": B, "reason": "不属"},
    ),
    ("POST", "/api/v1/hotline/orders/{order_id}/reply"): ("hotline_order", {"reply": "已处理"}),
    ("POST", "/api/v1/hotline/orders/{order_id}/visit"): (
        "hotline_order",
        {"rating": "satisfied"},
    ),
    ("POST", "/api/v1/hotline/orders/{order_id}/close"): ("hotline_order", {"opinion": "办结"}),
    ("GET", "/api/v1/hotline/orders/{order_id}/extensions"): ("hotline_order", None),
    ("POST", "/api/v1/hotline/orders/{order_id}/extensions"): (
        "hotline_order",
        {"days": 3, "reason": "需现场勘查"},
    ),
    ("POST", "/hotline/orders/{order_id}/extensions/request"): (
        "hotline_order",
        {"days": "3", "reason": "需现场勘查"},
    ),
    ("GET", "/hotline/orders/{order_id}"): ("hotline_order", None),
    ("POST", "/hotline/orders/{order_id}/{step}"): ("hotline_order", {"reply": "已处理"}),
    # participation: a draft of A open for comment, with a pending comment
    ("POST", "/api/v1/participation/drafts/{draft_id}/publish"): ("participation_draft", None),
    ("PUT", "/api/v1/participation/drafts/{draft_id}"): (
        "participation_draft",
        {
            "title": "改",
            "kind": "other",
            "articles": ["甲"],
            "opens_at": "2030-01-01T00:00:00",
            "closes_at": "2030-03-01T00:00:00",
        },
    ),
    ("GET", "/participation/manage/{draft_id}/edit"): ("participation_draft", None),
    ("POST", "/api/v1/participation/drafts/{draft_id}/report"): ("participation_draft", {}),
    ("POST", "/api/v1/participation/comments/{comment_id}/moderation"): (
        "participation_comment",
        {"decision": "publish"},
    ),
    ("POST", "/api/v1/participation/comments/{comment_id}/answer"): (
        "participation_comment",
        {"answer": "adopted"},
    ),
    ("GET", "/participation/manage/{draft_id}"): ("participation_draft", None),
    ("POST", "/participation/manage/{draft_id}/{action}"): ("participation_draft", {}),
    # hotline knowledge base: a draft answer of A (only its department edits it)
    ("PUT", "/api/v1/hotline/knowledge/answers/{answer_id}"): (
        "knowledge_answer",
        {
            "title": "改",
            "answer": "改",
            "category": "04.02.02",
            "source_name": "规定",
            "effective_on": "2026-01-01",
            "review_by": "2027-01-01",
        },
    ),
    ("POST", "/api/v1/hotline/knowledge/answers/{answer_id}/publish"): ("knowledge_answer", None),
    ("POST", "/api/v1/hotline/knowledge/answers/{answer_id}/retire"): ("knowledge_answer", None),
    ("POST", "/api/v1/hotline/knowledge/answers/{answer_id}/use"): (
        "knowledge_answer",
        {"category": "04.02.02", "text": "咨询预付卡退费"},
    ),
    ("GET", "/hotline/knowledge/manage/{answer_id:uuid}"): ("knowledge_answer", None),
    ("POST", "/hotline/knowledge/manage/{answer_id:uuid}"): ("knowledge_answer", {"title": "改"}),
    ("POST", "/hotline/knowledge/manage/{answer_id:uuid}/{action}"): ("knowledge_answer", {}),
    ("GET", "/api/v1/hotline/orders/{order_id}/routing"): ("hotline_order", None),
    ("POST", "/api/v1/hotline/orders/{order_id}/merge"): (
        "hotline_order",
        {"parent": "00000000-0000-4000-8000-000000000001"},
    ),
    ("POST", "/hotline/queue/{order_id}/dispatch"): ("hotline_order", {"department": B}),
    # core: a message in the inbox of A's staff
    ("GET", "/api/v1/messages/{message_id}"): ("message", None),
    ("POST", "/api/v1/messages/{message_id}/read"): ("message", None),
    ("POST", "/messages/{message_id}/read"): ("message", {}),
}

# List routes staff of B may call: none of A's objects may be in the answer.
DEPARTMENT_LISTS: dict[str, tuple[str, ...]] = {
    "/api/v1/cases/": ("case",),
    "/api/v1/supervision/cases": ("case",),
    "/api/v1/supervision/export/cases": ("case_number",),
    "/cases": ("case",),
    "/supervision/cases": ("case",),
    "/supervision/cases.csv": ("case_number",),
    "/api/v1/licences": ("licence",),
    "/api/v1/exchange/grants": ("grant", "grant_on_a"),
    "/exchange/grants": ("grant_on_a",),
    "/api/v1/exchange/subscriptions": ("subscription",),
    "/api/v1/exchange/messages": ("exchange_message",),
    "/exchange/log": ("call_purpose",),
    "/api/v1/messages": ("message",),
    "/messages": ("message",),
    "/api/v1/hotline/orders": ("hotline_order",),
    "/hotline/desk": ("hotline_order",),
    "/participation/manage": ("participation_comment",),
    "/api/v1/hotline/knowledge/answers": ("knowledge_answer",),
    "/hotline/knowledge/manage": ("knowledge_answer",),
}

# Staff routes with an object in their path that is not a department's: why B may act there.
NOT_DEPARTMENT_OWNED: dict[tuple[str, str], str] = {
    # duplicate proposals are the 12345 centre's queue: the service admits the centre only
    ("POST", "/api/v1/hotline/duplicates/{proposal_id}/reject"): "12345 centre only",
    ("POST", "/hotline/duplicates/{proposal_id}/{decision}"): "12345 centre only",
    # the registries are the city's; fields are masked by grant, not rows by department
    ("GET", "/api/v1/registry/organizations/{organization_id}"): "city registry",
    ("PATCH", "/api/v1/registry/organizations/{organization_id}"): "source fields by grant",
    ("GET", "/api/v1/registry/organizations/{organization_id}/history"): "city registry",
    ("GET", "/api/v1/registry/persons/{person_id}"): "city registry",
    ("PATCH", "/api/v1/registry/persons/{person_id}"): "source fields by grant",
    ("GET", "/api/v1/registry/persons/{person_id}/history"): "city registry",
    ("PUT", "/api/v1/registry/persons/{person_id}/account"): "city registry",
    ("GET", "/api/v1/registry/places/{code}"): "city registry",
    ("PATCH", "/api/v1/registry/places/{code}"): "city registry",
    ("GET", "/registry/organizations/{organization_id}"): "city registry",
    ("POST", "/registry/organizations/{organization_id}"): "source fields by grant",
    ("GET", "/registry/persons/{person_id}"): "city registry",
    ("POST", "/registry/persons/{person_id}"): "source fields by grant",
    ("GET", "/registry/places/{code}"): "city registry",
    ("POST", "/api/v1/registry/imports/{record_type}"): "a record type, not an object",
    ("GET", "/api/v1/registry/imports/{run_id}"): "the runs of the account that started them",
    ("GET", "/api/v1/registry/imports/{run_id}/rejects"): "the runs of their starter",
    # the catalog is read by every department; asking for a grant is what it is for
    ("GET", "/api/v1/exchange/resources/{code}"): "the catalog",
    ("GET", "/exchange/catalog/{code}"): "the catalog",
    ("POST", "/api/v1/exchange/resources/{code}/grants"): "any department asks for a grant",
    ("POST", "/exchange/catalog/{code}/request"): "any department asks for a grant",
    ("POST", "/exchange/catalog/{code}/subscribe"): "needs the caller's own grant",
    ("POST", "/api/v1/exchange/resources/{code}/query"): "needs the caller's own grant",
    # the city's sensors are everyone's inside the administration (sensing.access)
    ("GET", "/api/v1/sensing/rules/{rule_id}"): "rules are read by all staff",
    ("GET", "/api/v1/sensing/alerts/{alert_id}"): "alerts are read by all staff",
    ("GET", "/sensing/alerts/{alert_id}"): "alerts are read by all staff; acting is refused",
    ("GET", "/sensing/rules/{rule_id}/edit"): "rules are read by all staff; saving is refused",
    ("PUT", "/api/v1/sensing/datastreams/{datastream_id}/retention"): "sensors are the city's",
    ("PUT", "/api/v1/sensing/things/{thing_id}/owner"): "sensors are the city's",
    ("PUT", "/api/v1/sensing/things/{thing_id}/visibility"): "sensors are the city's",
    ("GET", "/sensing/datastreams/{datastream_id}"): "sensors are the city's",
    ("GET", "/sensing/things/{thing_id}"): "sensors are the city's",
    # the road network is the city's, read by all staff (its feeds are public)
    ("GET", "/traffic/segments/{code}"): "roads are the city's",
    ("GET", "/traffic/intersections/{code}"): "roads are the city's",
    ("DELETE", "/sta/v1.1/{resource_path:path}"): "sensors are the city's",
    ("PUT", "/sta/v1.1/{resource_path:path}"): "sensors are the city's",
    ("PATCH", "/sta/v1.1/{resource_path:path}"): "sensors are the city's",
    ("POST", "/sta/v1.1/{resource_path:path}"): "sensors are the city's",
    # supervision (督办) is city-wide: supervisors and admins review flags
    ("POST", "/api/v1/cases/flags/{flag_id}/review"): "supervisors only",
    ("POST", "/supervision/flags/{flag_id}/review"): "supervisors only",
    ("POST", "/api/v1/cases/{case_id:uuid}/urges"): "supervisors only",
    ("POST", "/cases/{case_id:uuid}/urge"): "supervisors only",
    ("GET", "/api/v1/calendar/{year}"): "the city's calendar",
    # 延期 is decided by the 12345 centre only (a department's staff: 403 on its own order,
    # 404 on another's: tests/hotline/test_extension.py)
    ("POST", "/api/v1/hotline/orders/{order_id}/extensions/{extension_id}/decision"): (
        "the 12345 centre only"
    ),
    ("POST", "/hotline/orders/{order_id}/extensions/{extension_id}/decision"): (
        "the 12345 centre only"
    ),
}


def test_every_staff_route_on_an_object_is_classified(app: Any) -> None:
    """A route staff (or a department's system) may call with an object in its path either
    refuses the wrong department (DEPARTMENT_ROUTES) or says why it need not."""
    unclassified = []
    for route in api_routes(app):
        is_public, kinds = guard_of(route)
        if "{" not in route.path or is_public:
            continue
        # an empty set of kinds admits every signed-in caller, staff too
        if kinds and not kinds & {"staff", "system", "supervisor", "auditor"}:
            continue
        for method in route.methods - {"HEAD"}:
            key = (method, route.path)
            if key not in DEPARTMENT_ROUTES and key not in NOT_DEPARTMENT_OWNED:
                unclassified.append(key)
    assert unclassified == [], (
        "routes on an object not classified: add each to DEPARTMENT_ROUTES (and the object "
        "to the wrong-department world) or to NOT_DEPARTMENT_OWNED with the reason"
    )
    every = method_paths(app)
    stale = [k for k in [*DEPARTMENT_ROUTES, *NOT_DEPARTMENT_OWNED] if k not in every]
    assert stale == [], "classified routes the app no longer has"
    assert [p for p in DEPARTMENT_LISTS if ("GET", p) not in every] == []


class DepartmentWorld:
    """Staff of A and B, and one object of each kind owned by A (ids as they appear in paths
    and in answers)."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.headers_a: dict[str, str] = {}
        self.headers_b: dict[str, str] = {}
        # what a body names as "@...": A's officer, A's department, the station's datastream
        self.values: dict[str, Any] = {}


def _bearer(account: Any) -> dict[str, str]:
    token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
    return {"Authorization": f"Bearer {token}", "accept": "application/json"}


async def department_world(client: Any, session: Any) -> DepartmentWorld:
    from tests.exchange import factories as exchange_factories
    from tests.hotline import factories as hotline_factories
    from tests.hotline.knowledge import factories as knowledge_factories
    from tests.participation import factories as participation_factories
    from tests.sensing.rule_helpers import feed, station
    from tests.services import factories as services_factories

    w = DepartmentWorld()
    account_a, _pa = await exchange_factories.staff(session, A)
    account_b, _pb = await exchange_factories.staff(session, B)
    w.values["@staff_a"] = account_a.username
    w.headers_a, w.headers_b = _bearer(account_a), _bearer(account_b)
    # services and cases: a submitted application (its case open at A) and an approved one
    # (its licence issued by A)
    item = await services_factories.citizen_item(session)
    applicant = await services_factories.citizen(session)
    application, case = await services_factories.submitted(session, applicant, item)
    w.objects["case"] = str(case.id)
    second = await services_factories.citizen(session, phone="13912345678")
    _application2, case2 = await services_factories.submitted(session, second, item)
    # exchange: A's resource with a grant A gave C; C's resource A holds a grant for,
    # subscribed to and called by A
    resource_a = await exchange_factories.create_resource(session, publisher=A)
    w.objects["resource"] = resource_a.code
    resource_c = await exchange_factories.create_resource(session, publisher=C)
    grant = await exchange_factories.grant(session, resource_c, A, fields=["name", "sex"])
    w.objects["grant"] = str(grant.id)
    granted_by_a = await exchange_factories.grant(session, resource_a, C, fields=["name"])
    w.objects["grant_on_a"] = str(granted_by_a.id)
    _system_a, key_a = await exchange_factories.system(session, A)
    person = await exchange_factories.person(session)
    # sensing: a station whose readings open an alert of A's rule
    stream = await station(session)
    w.objects["hotline_order"] = await hotline_factories.order_of(session, A)
    draft_a, comment_a = await participation_factories.draft_of(session, A)
    w.objects["participation_draft"], w.objects["participation_comment"] = draft_a, comment_a
    w.objects["knowledge_answer"] = await knowledge_factories.answer_of(session, A)
    await session.commit()

    citizen = _bearer(applicant.account)
    read = await client.get(f"/api/v1/services/applications/{application.id}", headers=citizen)
    assert read.status_code == 200, read.text
    files = [f["id"] for m in read.json()["materials"] for f in m["files"]]
    w.objects["material"] = files[0]
    # (delivered, so that the only open case on A's desk is the unassigned one: the officer
    # who took case2's steps took it on)
    for step in ("accept", "review", "approve", "deliver"):
        r = await client.post(
            f"/api/v1/cases/{case2.id}/transitions/{step}",
            json={"opinion": "经审查，同意。"},
            headers=w.headers_a,
        )
        assert r.status_code == 200, r.text
    read = await client.get(f"/api/v1/cases/{case.id}", headers=w.headers_a)
    assert read.status_code == 200, read.text
    w.objects["case_number"] = read.json()["case"]["number"]
    [licence] = (await client.get("/api/v1/licences", headers=w.headers_a)).json()
    w.objects["licence"] = licence["number"]

    department_a = (await client.get("/api/v1/departments", headers=w.headers_a)).json()
    [dep_a] = [d["id"] for d in department_a if d["code"] == A]
    w.values["@department_a"], w.values["@datastream"] = dep_a, str(stream[0])
    rule = {
        "name": "PM2.5 超标",
        "kind": "threshold",
        "params": {"op": "above", "value": 75, "hysteresis": 5},
        "severity": "critical",
        "datastream_id": stream[0],
        "department_id": dep_a,
    }
    r = await client.post("/api/v1/sensing/rules", json=rule, headers=w.headers_a)
    assert r.status_code == 201, r.text
    w.objects["rule"] = str(r.json()["id"])
    await feed(session, stream, [(T0, 90)])
    await session.commit()
    [alert] = (await client.get("/api/v1/sensing/alerts", headers=w.headers_a)).json()
    w.objects["alert"] = str(alert["id"])
    [message] = (await client.get("/api/v1/messages", headers=w.headers_a)).json()["items"]
    w.objects["message"] = str(message["id"])

    machine = {"X-API-Key": key_a}
    w.objects["call_purpose"] = "核验市场监管申请人身份"
    r = await client.post(
        "/api/v1/exchange/subscriptions", json={"resource": resource_c.code}, headers=machine
    )
    assert r.status_code == 201, r.text
    w.objects["subscription"] = r.json()["id"]
    r = await client.post(
        f"/api/v1/exchange/resources/{resource_c.code}/query",
        json={"filters": {"id_number": person.id_number}, "purpose": w.objects["call_purpose"]},
        headers=machine,
    )
    assert r.status_code == 200, r.text
    [call] = (await client.get("/api/v1/exchange/messages", headers=w.headers_a)).json()
    w.objects["exchange_message"] = str(call["message_id"])
    # a supervisor urges A on its open case (督办)
    supervisor = await factories.create_account(session, kind="supervisor")
    await session.commit()
    r = await client.post(
        f"/api/v1/cases/{case.id}/urges",
        json={"note": "请加快办理", "reply_days": 3},
        headers=_bearer(supervisor),
    )
    assert r.status_code == 201, r.text
    w.objects["urge"] = r.json()["id"]
    return w


def _as_caller(headers: dict[str, str], path: str) -> dict[str, str]:
    """An API client asks for JSON, a browser for a page."""
    return headers if path.startswith("/api/") else {**headers, "accept": "text/html"}


def _filled(path: str, value: str) -> str:
    path = re.sub(r"\{name\}", "accept", path)
    return re.sub(r"\{[^}]+\}", value, path, count=1)


async def test_wrong_department_is_refused(app: Any, client: Any, session: Any) -> None:
    w = await department_world(client, session)
    # B's browser: a pre-session CSRF token, so that refused forms are refused for the
    # department, not for the token
    page = await client.get("/cases", headers={**w.headers_b, "accept": "text/html"})
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    for (method, path), (kind, body) in DEPARTMENT_ROUTES.items():
        url = _filled(path, w.objects[kind])
        is_page = not path.startswith("/api/")
        sent = {k: w.values.get(v, v) if isinstance(v, str) else v for k, v in (body or {}).items()}
        if is_page:
            headers = {**w.headers_b, "accept": "text/html"}
            data = {**sent, "csrf_token": csrf.group(1)} if method == "POST" else None
            response = await client.request(method, url, headers=headers, data=data)
        else:
            response = await client.request(
                method, url, headers=w.headers_b, json=sent if body is not None else None
            )
        assert response.status_code in (403, 404), (method, url, response.text)
        if not is_page:
            assert response.headers["content-type"] == "application/problem+json", url
            assert response.json()["type"] in ("/problems/forbidden", "/problems/not-found")
    for path, kinds in DEPARTMENT_LISTS.items():
        response = await client.get(path, headers=_as_caller(w.headers_b, path))
        assert response.status_code == 200, (path, response.text)
        for kind in kinds:
            assert w.objects[kind] not in response.text, (path, kind)
    # and A's own staff do read them: the objects are there to be refused
    for (method, path), (kind, _body) in DEPARTMENT_ROUTES.items():
        if method == "GET" and path.startswith("/api/"):
            url = _filled(path, w.objects[kind])
            response = await client.get(url, headers=w.headers_a)
            assert response.status_code == 200, (url, response.text)
    for path, kinds in DEPARTMENT_LISTS.items():
        response = await client.get(path, headers=_as_caller(w.headers_a, path))
        assert response.status_code == 200, (path, response.text)
        for kind in kinds:
            assert w.objects[kind] in response.text, (path, kind)
