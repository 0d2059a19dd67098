"""A.4 Batch requests: multipart/mixed with plain requests and change sets; a change set is
all or nothing and refers to what it created by Content-ID."""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import func, select

from smartcity.sensing import models as m
from tests.problems import assert_problem
from tests.sensing.factories import ROOT_URL, thing_body


def multipart(parts: list[str], boundary: str = "batch_36522ad7") -> tuple[bytes, str]:
    body = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"
    return body.encode(), f"multipart/mixed;boundary={boundary}"


def request(
    method: str,
    url: str,
    body: Any = None,
    content_id: str | None = None,
    content_type: str = "application/json",
) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    lines = [f"{method} {url} HTTP/1.1", "Host: testserver"]
    if body is not None:
        lines.append(f"Content-Type: {content_type}")
    text = "\r\n".join(lines) + "\r\n\r\n" + (json.dumps(body) if body is not None else "")
    return head + "\r\n" + text


def changeset(parts: list[str], boundary: str = "changeset_77162fcd") -> str:
    inner = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--"
    return f"Content-Type: multipart/mixed;boundary={boundary}\r\n\r\n{inner}"


def responses(text: str) -> list[tuple[int, str]]:
    """(status, rest) of every HTTP response in a multipart body, nested ones included."""
    return [
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"HTTP/1\.1 (\d{3})[^\r\n]*\r\n(.*?)(?=\r\n--)", text, re.S)
    ]


async def send(sta, parts: list[str]) -> Any:
    body, content_type = multipart(parts)
    return await sta.client.post(
        f"{ROOT_URL}/$batch", content=body, headers={**sta.headers, "Content-Type": content_type}
    )


async def test_batch_with_query_and_changeset_referencing_content_id(sta, session):
    ids = await sta.thing()
    ds_body = {
        "name": "湿度",
        "description": "相对湿度",
        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        "unitOfMeasurement": {"name": "percent", "symbol": "%", "definition": "ucum:%"},
        "Thing": {"@iot.id": ids["thing"]},
        "Sensor": {"@iot.id": ids["sensor"]},
        "ObservedProperty": {"@iot.id": ids["observed_property"]},
    }
    response = await send(
        sta,
        [
            request("GET", f"/sta/v1.1/Things({ids['thing']})"),
            changeset(
                [
                    request("POST", "/sta/v1.1/Datastreams", ds_body, content_id="1"),
                    request(
                        "POST",
                        "$1/Observations",
                        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 60},
                        content_id="2",
                    ),
                    request(
                        "POST",
                        "Observations",
                        {
                            "phenomenonTime": "2026-01-01T01:00:00Z",
                            "result": 61,
                            "Datastream": {"@iot.id": "$1"},
                        },
                        content_id="3",
                    ),
                    request(
                        "PATCH",
                        f"Things({ids['thing']})",
                        {"description": "批量修改"},
                        content_id="4",
                    ),
                ]
            ),
            request("GET", "http://testserver/sta/v1.1/Things(999999)"),
        ],
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("multipart/mixed; boundary=")
    statuses = [s for s, _ in responses(response.text)]
    assert statuses == [200, 201, 201, 201, 200, 404]
    assert "Content-ID: 1" in response.text
    assert (await sta.json(f"Things({ids['thing']})"))["description"] == "批量修改"
    streams = await sta.json(f"Things({ids['thing']})/Datastreams", **{"$expand": "Observations"})
    humidity = next(d for d in streams["value"] if d["name"] == "湿度")
    assert sorted(o["result"] for o in humidity["Observations"]) == [60, 61]


async def test_failed_changeset_is_rolled_back_whole(sta, session):
    ids = await sta.thing()
    before = await session.scalar(select(func.count()).select_from(m.StaThing))
    response = await send(
        sta,
        [
            changeset(
                [
                    request(
                        "POST", "Things", {"name": "批量站", "description": "x"}, content_id="1"
                    ),
                    request("PATCH", f"Things({ids['thing']})", {"name": "不该改"}, content_id="2"),
                    request("POST", "Things", {"description": "缺名字"}, content_id="3"),
                ]
            ),
            request("POST", "Things", {"name": "独立的", "description": "changeset 之外"}),
        ],
    )
    assert response.status_code == 200
    statuses = [s for s, _ in responses(response.text)]
    assert statuses == [400, 201]
    assert await session.scalar(select(func.count()).select_from(m.StaThing)) == before + 1
    assert (await sta.json(f"Things({ids['thing']})"))["name"] == "空气站 福田"


async def test_a_failed_request_outside_a_changeset_leaves_nothing(sta, session):
    body = thing_body()
    body["Datastreams"][0]["Observations"] = [{"result": "not a number"}]
    response = await send(sta, [request("POST", "Things", body), request("GET", "Things")])
    assert [s for s, _ in responses(response.text)] == [400, 200]
    assert await session.scalar(select(func.count()).select_from(m.StaThing)) == 0


async def test_tolerates_the_standard_examples_blank_lines(sta):
    ids = await sta.thing()
    boundary = "batch_x"
    body = (
        f"--{boundary}\nContent-Type: application/http\n\nContent-Transfer-Encoding:binary"
        f"\n\nGET /v1.1/Things({ids['thing']})\nHost: host\n\n\n--{boundary}--\n"
    )
    response = await sta.client.post(
        f"{ROOT_URL}/$batch",
        content=body.encode(),
        headers={**sta.headers, "Content-Type": f'multipart/mixed; boundary="{boundary}"'},
    )
    assert response.status_code == 200
    assert [s for s, _ in responses(response.text)] == [200]


async def test_bad_batches_are_400(sta):
    bad = [
        ("application/json", b"{}"),
        ("multipart/mixed", b"--x\r\n\r\n--x--"),
        ("multipart/mixed;boundary=x", b"no parts at all"),
        (
            "multipart/mixed;boundary=x",
            b"--x\r\nContent-Type: application/http\r\n\r\nFETCH /Things HTTP/1.1\r\n\r\n--x--",
        ),
        (
            "multipart/mixed;boundary=x",
            ("--x\r\n" + changeset([request("GET", "Things")], "cs") + "\r\n--x--").encode(),
        ),
    ]
    for content_type, body in bad:
        response = await sta.client.post(
            f"{ROOT_URL}/$batch",
            content=body,
            headers={**sta.headers, "Content-Type": content_type},
        )
        assert_problem(response, 400, "bad-request")


async def test_unknown_content_id_fails_the_changeset(sta):
    response = await send(
        sta,
        [
            changeset(
                [
                    request("POST", "$7/Observations", {"result": 1}, content_id="1"),
                ]
            )
        ],
    )
    assert [s for s, _ in responses(response.text)] == [400]


async def test_batch_needs_a_writer(sta):
    body, content_type = multipart([request("GET", "Things")])
    response = await sta.client.post(
        f"{ROOT_URL}/$batch", content=body, headers={"Content-Type": content_type}
    )
    assert_problem(response, 401, "unauthenticated")
