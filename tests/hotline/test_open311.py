"""Open311 GeoReport v2 at /open311/v2: services, posting with an api_key, bad input in the
standard's error format with nothing written, reads with the standard's filters, the XML per
spec, and a whole 12345 lifecycle seen through requests and servicerequestupdates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.hotline.models import WorkOrder
from smartcity.hotline.open311.models import Open311Media, Open311Request, Open311Update
from smartcity.hotline.open311.service import JURISDICTION
from smartcity.hotline.schemas import PlaceInput
from smartcity.settings import configure, get_settings
from tests.cases.factories import department
from tests.hotline.factories import CENTRE, HANDLER, People, people
from tests.hotline.open311_support import (
    REQUEST_FIELDS,
    UPDATE_FIELDS,
    check_records,
    client_key,
    handle_with_one_rework,
    order_by_number,
    png,
    xml_of,
)

V2 = "/open311/v2"
POST: dict[str, str] = {
    "service_code": "01.01.01",
    "lat": "22.55",
    "long": "114.12",
    "address_string": "罗湖区东门中路1号",
    "description": "东门中路人行道上每晚有流动摊贩占道经营。",
    "first_name": "伟",
    "last_name": "张",
    "phone": "13800138000",
    "email": "zhang.wei@example.cn",
    "attribute[kind]": "complaint",
}


@pytest.fixture(autouse=True)
def _english(client: httpx.AsyncClient) -> Iterator[None]:
    client.headers["Accept-Language"] = "en"
    yield


async def _setup(session: AsyncSession) -> tuple[People, str]:
    who = await people(session)
    await department(session, HANDLER)
    return who, await client_key(session)


def errors(response: httpx.Response, status: int, type_: str) -> str:
    """The standard's error list (JSON), its code the HTTP status, with the problem type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list) and len(body) == 1, body
    assert body[0]["code"] == status
    assert body[0]["type"] == f"/problems/{type_}"
    description: str = body[0]["description"]
    assert description
    return description


async def _written(session: AsyncSession) -> tuple[int, int, int, int]:
    counts = []
    for table in (WorkOrder, Open311Request, Open311Media, Open311Update):
        counts.append((await session.execute(select(func.count()).select_from(table))).scalar_one())
    return (counts[0], counts[1], counts[2], counts[3])


async def _post(client: httpx.AsyncClient, key: str, **overrides: Any) -> httpx.Response:
    data = {**POST, "api_key": key, **{k: v for k, v in overrides.items() if k != "files"}}
    data = {k: v for k, v in data.items() if v is not None}
    return await client.post(f"{V2}/requests.json", data=data, files=overrides.get("files"))


# --- discovery and services ----------------------------------------------------------------


async def test_discovery_names_the_endpoint(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{V2}/discovery.json")).json()
    endpoint = body["endpoints"][0]
    assert endpoint["url"].endswith("/open311/v2")
    assert endpoint["formats"] == ["text/xml", "application/json"]
    doc = xml_of((await client.get(f"{V2}/discovery.xml")).content, "discovery")
    assert [e.tag for e in doc] == ["changeset", "contact", "key_service", "endpoints"]
    assert [f.text for f in doc.find("endpoints/endpoint/formats")] == [
        "text/xml",
        "application/json",
    ]


async def test_services_are_the_category_leaves(client: httpx.AsyncClient) -> None:
    listed = (await client.get(f"{V2}/services.json")).json()
    vending = next(s for s in listed if s["service_code"] == "01.01.01")
    assert vending["service_name"] == "Street vending on the road"
    assert vending["group"] == "City management"
    assert (vending["metadata"], vending["type"]) == (True, "realtime")
    assert not any(s["service_code"] in ("01", "01.01") for s in listed)
    zh = await client.get(f"{V2}/services.xml", headers={"Accept-Language": "zh-CN"})
    assert zh.headers["content-type"].startswith("text/xml")
    doc = xml_of(zh.content, "services")
    first = doc.find("service")
    assert [c.tag for c in first] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert first.findtext("metadata") == "true"
    assert len(doc) == len(listed)
    assert "占道经营" in {s.findtext("service_name") for s in doc}


async def test_service_definition_has_the_kind_attribute(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{V2}/services/01.01.01.json")).json()
    (kind,) = body["attributes"]
    assert (kind["code"], kind["datatype"], kind["required"]) == ("kind", "singlevaluelist", False)
    assert {"key": "complaint", "name": "Complaint"} in kind["values"]
    doc = xml_of((await client.get(f"{V2}/services/01.01.01.xml")).content, "service_definition")
    assert doc.findtext("service_code") == "01.01.01"
    values = doc.findall("attributes/attribute/values/value")
    assert [v.findtext("key") for v in values][:2] == ["consultation", "help"]


async def test_unknown_service_is_404_in_both_formats(client: httpx.AsyncClient) -> None:
    errors(await client.get(f"{V2}/services/99.99.99.json"), 404, "open311-unknown-service")
    response = await client.get(f"{V2}/services/99.99.99.xml")
    assert response.status_code == 404
    doc = xml_of(response.content, "errors")
    assert [c.tag for c in doc.find("error")] == ["code", "description", "type"]
    assert doc.findtext("error/code") == "404"
    bad_format = await client.get(f"{V2}/services.yaml")
    errors(bad_format, 400, "invalid-input")
    errors(
        await client.get(f"{V2}/services.json", params={"jurisdiction_id": "bj.gov.cn"}),
        404,
        "open311-unknown-jurisdiction",
    )
    assert (
        await client.get(f"{V2}/services.json", params={"jurisdiction_id": JURISDICTION})
    ).status_code == 200


# --- posting -------------------------------------------------------------------------------


async def test_post_makes_an_open311_work_order(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    who, key = await _setup(session)
    response = await _post(client, key, device_id="phone-1", account_id="app-user-7")
    assert response.status_code == 201, response.text
    (posted,) = response.json()
    assert posted["account_id"] == "app-user-7"
    assert "handled within 13 working days" in posted["service_notice"]
    order = await order_by_number(session, posted["service_request_id"])
    assert (order.channel, order.kind, order.category_code, order.state) == (
        "open311",
        "complaint",
        "01.01.01",
        "accepted",
    )
    assert (order.department_code, order.lat, order.lon) == (CENTRE, 22.55, 114.12)
    # Contact details for the call back, on the order (masked for the department there).
    assert (order.caller_name, order.caller_phone, order.anonymous) == (
        "张伟",
        "13800138000",
        False,
    )
    assert order.caller_account_id is None
    row = await session.get(Open311Request, order.id)
    assert row is not None
    assert (row.email, row.device_id, row.token) == (
        "zhang.wei@example.cn",
        "phone-1",
        posted["token"],
    )
    # The department sees the caller masked, through the hotline's own API view.
    from smartcity.hotline import views

    seen = await views.full(session, who.officer, order)
    assert (seen.caller_name, seen.caller_phone, seen.channel) == ("张*", "138****8000", "open311")
    # Nothing personal is read back through Open311.
    read = (await client.get(f"{V2}/requests/{order.number}.json")).json()[0]
    assert "13800138000" not in str(read) and "zhang.wei" not in str(read)
    assert list(read) == list(REQUEST_FIELDS)
    assert read["status"] == "open" and read["status_notes"] == "Received, awaiting dispatch"
    token = (await client.get(f"{V2}/tokens/{posted['token']}.json")).json()
    assert token == [{"service_request_id": order.number, "token": posted["token"]}]


async def test_post_anonymous_and_by_address_only(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _who, key = await _setup(session)
    response = await _post(
        client,
        key,
        lat=None,
        long=None,
        first_name=None,
        last_name=None,
        phone=None,
        email=None,
        **{"attribute[kind]": None},
    )
    assert response.status_code == 201, response.text
    order = await order_by_number(session, response.json()[0]["service_request_id"])
    assert (order.anonymous, order.caller_name, order.kind) == (True, "", "help")
    assert (order.lat, order.address) == (None, "罗湖区东门中路1号")


async def test_post_with_a_citizens_token_is_theirs(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    who, key = await _setup(session)
    from tests.hotline.test_api import auth

    data = {**POST, "api_key": key}
    response = await client.post(
        f"{V2}/requests.json", data=data, headers=auth(who.citizen_account)
    )
    assert response.status_code == 201, response.text
    order = await order_by_number(session, response.json()[0]["service_request_id"])
    assert (order.caller_account_id, order.anonymous) == (who.citizen_account.id, False)
    bad = await client.post(f"{V2}/requests.json", data=data, headers={"Authorization": "Basic x"})
    errors(bad, 401, "unauthenticated")


async def test_post_with_a_photo_serves_it_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _who, key = await _setup(session)
    photo = png(2000)
    response = await _post(client, key, files={"media": ("stall.png", photo, "image/png")})
    assert response.status_code == 201, response.text
    number = response.json()[0]["service_request_id"]
    read = (await client.get(f"{V2}/requests/{number}.json")).json()[0]
    assert "/open311/v2/media/" in read["media_url"]
    served = await client.get(httpx.URL(read["media_url"]).path)
    assert served.status_code == 200
    assert served.content == photo
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("overrides", "status", "type_", "field"),
    [
        ({"service_code": "99.99.99"}, 400, "open311-unknown-service", "99.99.99"),
        ({"service_code": "01.01"}, 400, "open311-unknown-service", "01.01"),
        ({"service_code": None}, 400, "invalid-input", "service_code"),
        (
            {"lat": None, "long": None, "address_string": None},
            400,
            "open311-location-required",
            "lat",
        ),
        ({"long": None}, 400, "open311-location-required", "lat and long"),
        ({"lat": "nan"}, 400, "invalid-input", "lat"),
        ({"lat": "39.9", "long": "116.4"}, 400, "invalid-input", "outside Shenzhen"),
        ({"description": ""}, 400, "invalid-input", "description"),
        ({"description": "很长" * 1001}, 400, "invalid-input", "description"),
        ({"attribute[kind]": "rant"}, 400, "invalid-input", "attribute[kind]"),
        ({"attribute[colour]": "red"}, 400, "open311-unknown-attribute", "colour"),
        ({"mystery": "1"}, 400, "open311-unknown-argument", "mystery"),
        ({"phone": "call me"}, 400, "invalid-input", "phone"),
        ({"email": "not-an-address"}, 400, "invalid-input", "email"),
        ({"media_url": "javascript:alert(1)"}, 400, "invalid-input", "media_url"),
        ({"jurisdiction_id": "bj.gov.cn"}, 404, "open311-unknown-jurisdiction", JURISDICTION),
        ({"api_key": "sck_000000000000_wrong"}, 403, "open311-api-key", "api_key"),
        ({"api_key": ""}, 403, "open311-api-key", "api_key"),
        ({"api_key": "x" * 300}, 403, "open311-api-key", "api_key"),
        ({"files": {"media": ("a.png", b"", "image/png")}}, 400, "invalid-input", "empty"),
        (
            {"files": {"media": ("a.png", b"MZ\x90\x00" * 40, "image/png")}},
            415,
            "open311-unsupported-media",
            "JPEG",
        ),
        ({"files": {"doc": ("a.png", png(), "image/png")}}, 400, "invalid-input", "media"),
    ],
)
async def test_bad_posts_are_clear_and_write_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    overrides: dict[str, Any],
    status: int,
    type_: str,
    field: str,
) -> None:
    key = await client_key(session)
    before = await _written(session)
    response = await _post(client, key, **overrides)
    assert field in errors(response, status, type_)
    assert await _written(session) == before


async def test_oversized_media_is_413_and_writes_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _who, key = await _setup(session)
    settings = get_settings()
    configure(settings.model_copy(update={"open311_media_max_bytes": 4096}))
    try:
        before = await _written(session)
        big = await _post(client, key, files={"media": ("big.png", png(5000), "image/png")})
        assert "4 KB" in errors(big, 413, "payload-too-large")
        assert await _written(session) == before
        small = await _post(client, key, files={"media": ("ok.png", png(3000), "image/png")})
        assert small.status_code == 201, small.text
    finally:
        configure(settings)


async def test_keys_of_people_are_not_client_keys(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _who, _key = await _setup(session)
    citizen_key = await client_key(session, kind="citizen")
    errors(await _post(client, citizen_key), 403, "open311-api-key")
    xml = await client.post(f"{V2}/requests.xml", data={**POST, "api_key": "nope"})
    assert xml.status_code == 403
    assert xml_of(xml.content, "errors").findtext("error/type") == "/problems/open311-api-key"


# --- reading -------------------------------------------------------------------------------


async def test_query_filters(client: httpx.AsyncClient, session: AsyncSession) -> None:
    who, key = await _setup(session)
    numbers = []
    for code in ("01.01.01", "01.03.01", "01.03.01"):
        response = await _post(client, key, service_code=code)
        numbers.append(response.json()[0]["service_request_id"])
    # The other channels' orders are not published through Open311.
    from smartcity.hotline import service
    from tests.hotline.factories import report

    await service.create_order(session, who.citizen, report(), channel="web")
    order = await order_by_number(session, numbers[0])
    await service.create_order(session, None, report(place=PlaceInput()), channel="web")

    async def ids(**params: Any) -> list[str]:
        response = await client.get(f"{V2}/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert sorted(await ids()) == sorted(numbers)
    assert sorted(await ids(service_code="01.03.01")) == sorted(numbers[1:])
    assert sorted(await ids(service_code="01.03.01,01.01.01")) == sorted(numbers)
    # The ids override every other filter.
    both = await ids(service_request_id=f"{numbers[0]},{numbers[2]}", status="closed")
    assert sorted(both) == sorted([numbers[0], numbers[2]])
    assert len(await ids(page_size=2)) == 2
    assert len(await ids(page_size=2, page=2)) == 1
    assert await ids(status="closed") == []
    assert sorted(await ids(status="open,closed")) == sorted(numbers)
    received = order.received_at
    assert await ids(start_date=(received + timedelta(days=1)).isoformat()) == []
    assert len(await ids(end_date=(received + timedelta(minutes=5)).isoformat())) == 3
    assert (
        len(await ids(start_date=(received - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")))
        == 3
    )

    bad = [
        ({"start_date": "yesterday"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
        ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "before"),
        ({"status": "pending"}, "status"),
        ({"service_request_id": "GD<1>"}, "service_request_id"),
        ({"service_request_id": ",".join(["GD1"] * 101)}, "100"),
    ]
    for params, said in bad:
        response = await client.get(f"{V2}/requests.json", params=params)
        assert said in errors(response, 400, "invalid-input")
    errors(
        await client.get(f"{V2}/requests.json", params={"service_code": "99.99.99"}),
        400,
        "open311-unknown-service",
    )
    errors(await client.get(f"{V2}/requests.json", params={"page_size": 0}), 400, "invalid-input")
    errors(
        await client.get(f"{V2}/requests.json", params={"page_size": 1001}), 400, "invalid-input"
    )
    errors(await client.get(f"{V2}/requests/GD-nope.json"), 404, "open311-unknown-request")
    errors(await client.get(f"{V2}/tokens/{'0' * 32}.json"), 404, "open311-unknown-token")
    missing = await client.get(f"{V2}/tokens/short.xml")
    assert missing.status_code == 404
    assert xml_of(missing.content, "errors").findtext("error/code") == "404"
    response = await client.get(f"{V2}/media/00000000-0000-0000-0000-000000000000")
    errors(response, 404, "open311-unknown-media")


async def test_lifecycle_through_requests_and_updates(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    who, key = await _setup(session)
    number = (await _post(client, key)).json()[0]["service_request_id"]
    order = await handle_with_one_rework(session, who, number)
    assert (order.state, order.reworks) == ("closed", 1)

    read = (await client.get(f"{V2}/requests/{number}.json")).json()[0]
    assert read["status"] == "closed"
    assert read["status_notes"] == "Closed: 已设置固定岗，每晚巡查。"
    handler = await department(session, HANDLER)
    assert read["agency_responsible"] == (handler.name_en or handler.name)
    assert read["requested_datetime"].endswith("+08:00")
    assert read["expected_datetime"].endswith("+08:00")

    updates = (await client.get(f"{V2}/servicerequestupdates.json")).json()
    mine = [u for u in updates if u["service_request_id"] == number]
    assert [list(u) for u in mine] == [list(UPDATE_FIELDS)] * len(mine)
    assert [u["status"] for u in mine] == ["open"] * 6 + ["closed"]
    described = [u["description"] for u in mine]
    assert described[0] == "Order received"
    assert described[1] == f"Dispatched to a department · {handler.name_en or handler.name}"
    assert described[2] == "Signed for"
    assert described[3] == "Answer sent · 已安排执法队员清理。"
    assert described[4] == "Sent back to be handled again · Dissatisfied · 摊贩晚上又回来了"
    assert described[5] == "Answer sent · 已设置固定岗，每晚巡查。"
    assert described[6] == "Followed up and closed · Satisfied"
    ids = [int(u["update_id"]) for u in mine]
    assert ids == sorted(ids) and len(set(ids)) == 7
    assert all(u["updated_datetime"].endswith("+08:00") for u in mine)

    xml = await client.get(f"{V2}/servicerequestupdates.xml")
    records = check_records(
        xml_of(xml.content, "service_request_updates"), "request_update", UPDATE_FIELDS
    )
    assert [r["status"] for r in records if r["service_request_id"] == number][-1] == "closed"
    doc = xml_of((await client.get(f"{V2}/requests.xml")).content, "service_requests")
    (record,) = check_records(doc, "request", REQUEST_FIELDS)
    assert (record["status"], record["lat"], record["long"]) == ("closed", "22.55", "114.12")
    later = (order.closed_at or order.received_at) + timedelta(hours=1)
    assert (
        await client.get(
            f"{V2}/servicerequestupdates.json", params={"start_date": later.isoformat()}
        )
    ).json() == []
    errors(
        await client.get(f"{V2}/servicerequestupdates.json", params={"end_date": "soon"}),
        400,
        "invalid-input",
    )


async def test_odd_requests_are_4xx_never_5xx(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    key = await client_key(session)
    before = await _written(session)
    many = "&".join(f"f{i}=1" for i in range(200))
    odd = [
        await client.post(
            f"{V2}/requests.json",
            content=f"api_key={key}&{many}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        await client.post(
            f"{V2}/requests.json",
            data={**POST, "api_key": key},
            files=[
                ("media", ("a.png", png(), "image/png")),
                ("media", ("b.png", png(), "image/png")),
            ],
        ),
        await client.post(f"{V2}/requests.json", json={**POST, "api_key": key}),
        await client.post(
            f"{V2}/requests.json",
            content=b"api_key=" + key.encode() + b"&description=\xff\xfe&service_code=01.01.01",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
        await _post(client, key, lat="1e400"),
        await _post(client, key, description="含有\x00控制字符"),
        await client.get(f"{V2}/requests.json", params={"start_date": "2026-13-45T00:00:00"}),
        await client.get(f"{V2}/requests/%00.json"),
        await client.get(f"{V2}/requests/{'9' * 200}.json"),
        await client.get(f"{V2}/requests.json", params={"page": 10_000, "page_size": 1000}),
        await client.get(f"{V2}/servicerequestupdates.json", params={"page_size": "many"}),
        await client.get(f"{V2}/media/not-a-uuid"),
    ]
    for response in odd:
        assert 200 <= response.status_code < 500, (response.request.url, response.text)
        if response.status_code >= 400:
            body = response.json()
            assert body[0]["code"] == response.status_code and body[0]["type"], body
    assert await _written(session) == before
