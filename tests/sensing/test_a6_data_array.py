"""A.6 Data array: GET $resultFormat=dataArray grouped per (Multi)Datastream, and POST
CreateObservations with a URL or "error" per row, written in one batch."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from smartcity.core import clock
from smartcity.sensing import models as m
from tests.problems import assert_problem
from tests.sensing.factories import ROOT_URL, caller


async def test_create_observations_and_read_them_as_data_array(sta, session):
    first, second = await sta.thing("站一"), await sta.thing("站二")
    feature_id = await sta.create(
        "FeaturesOfInterest",
        {
            "name": "点",
            "description": "x",
            "encodingType": "application/vnd.geo+json",
            "feature": {"type": "Point", "coordinates": [114, 22.5]},
        },
    )
    body = [
        {
            "Datastream": {"@iot.id": first["datastream"]},
            "components": ["phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArray@iot.count": 3,
            "dataArray": [
                ["2010-12-23T10:20:00-0700", 20, feature_id],
                ["2010-12-23T10:21:00-0700", "bad", feature_id],
                ["2010-12-23T10:22:00-0700", 30, 999999],
            ],
        },
        {
            "Datastream": {"@iot.id": second["datastream"]},
            "components": ["result", "phenomenonTime", "resultTime", "parameters"],
            "dataArray": [
                [65, "2010-12-23T10:20:00Z", "2010-12-23T10:25:00Z", {"q": 1}],
                [60, "2010-12-23T10:21:00Z", None, None],
                [61],
            ],
        },
        {
            "Datastream": {"@iot.id": 999999},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2010-12-23T10:20:00Z", 1]],
        },
    ]
    response = await sta.client.post(
        f"{ROOT_URL}/CreateObservations", json=body, headers=sta.headers
    )
    assert response.status_code == 201, response.text
    urls = response.json()
    assert len(urls) == 7
    assert [u == "error" for u in urls] == [False, True, True, False, False, True, True]
    assert urls[0].startswith("http://testserver/sta/v1.1/Observations(")
    assert await session.scalar(select(func.count()).select_from(m.StaObservation)) == 3

    data = await sta.json(
        "Observations", **{"$resultFormat": "dataArray", "$orderby": "id", "$count": "true"}
    )
    assert data["@iot.count"] == 3
    groups = data["value"]
    assert [g["Datastream@iot.navigationLink"] for g in groups] == [
        f"http://testserver/sta/v1.1/Datastreams({first['datastream']})",
        f"http://testserver/sta/v1.1/Datastreams({second['datastream']})",
    ]
    assert groups[0]["components"] == ["id", "phenomenonTime", "resultTime", "result"]
    assert groups[0]["dataArray"][0][1:] == ["2010-12-23T17:20:00Z", None, 20]
    assert groups[1]["dataArray@iot.count"] == 2
    selected = await sta.json(
        f"Datastreams({second['datastream']})/Observations",
        **{
            "$resultFormat": "dataArray",
            "$select": "result,parameters,FeatureOfInterest/id",
            "$orderby": "phenomenonTime",
            "$top": "1",
        },
    )
    group = selected["value"][0]
    assert group["components"] == ["result", "parameters", "FeatureOfInterest/id"]
    assert group["dataArray"][0][:2] == [65, {"q": 1}]
    assert "$resultFormat=dataArray" in selected["@iot.nextLink"]


async def test_data_array_of_a_multi_datastream(sta):
    from tests.sensing.test_a5_multidatastream import multi_body

    ids = await sta.thing()
    multi_id = await sta.create("MultiDatastreams", multi_body(ids))
    response = await sta.client.post(
        f"{ROOT_URL}/CreateObservations",
        headers=sta.headers,
        json=[
            {
                "MultiDatastream": {"@iot.id": multi_id},
                "components": ["phenomenonTime", "result"],
                "dataArray": [["2026-01-01T00:00:00Z", [1.0, 2.0, "x:clear"]]],
            }
        ],
    )
    assert response.status_code == 201 and response.json()[0] != "error"
    data = await sta.json(
        f"MultiDatastreams({multi_id})/Observations", **{"$resultFormat": "dataArray"}
    )
    group = data["value"][0]
    assert group["MultiDatastream@iot.navigationLink"].endswith(f"MultiDatastreams({multi_id})")
    assert group["dataArray"][0][3] == [1.0, 2.0, "x:clear"]


@pytest.mark.parametrize(
    "body",
    [
        {"not": "a list"},
        [5],
        [{"Datastream": {"@iot.id": 1}, "components": ["result"], "dataArray": []}],
        [
            {
                "Datastream": {"@iot.id": 1},
                "components": ["phenomenonTime", "result", "colour"],
                "dataArray": [],
            }
        ],
        [{"Datastream": {"@iot.id": 1}, "components": ["phenomenonTime", "result"]}],
        [{"components": ["phenomenonTime", "result"], "dataArray": []}],
    ],
)
async def test_bad_create_observations_are_400(sta, body):
    await sta.thing()
    response = await sta.client.post(
        f"{ROOT_URL}/CreateObservations", json=body, headers=sta.headers
    )
    assert_problem(response, 400, "bad-request")


async def test_rows_far_in_the_future_are_errors(sta):
    ids = await sta.thing()
    with clock.frozen(datetime(2026, 1, 1, tzinfo=UTC)):
        response = await sta.client.post(
            f"{ROOT_URL}/CreateObservations",
            headers=sta.headers,
            json=[
                {
                    "Datastream": {"@iot.id": ids["datastream"]},
                    "components": ["phenomenonTime", "result"],
                    "dataArray": [["2026-01-01T00:00:00Z", 1], ["2027-01-01T00:00:00Z", 2]],
                }
            ],
        )
    assert [u == "error" for u in response.json()] == [False, True]


async def test_device_rows_for_other_datastreams_are_errors(sta, session, client):
    mine, theirs = await sta.thing("我的"), await sta.thing("别人的")
    device, headers = await caller(session, "device")
    _staff, staff_headers = await caller(session, "staff")
    await client.put(
        f"/api/v1/sensing/things/{mine['thing']}/owner",
        json={"username": device.username},
        headers=staff_headers,
    )
    groups = [
        {
            "Datastream": {"@iot.id": d},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-01-01T00:00:00Z", 1]],
        }
        for d in (mine["datastream"], theirs["datastream"])
    ]
    response = await client.post(f"{ROOT_URL}/CreateObservations", json=groups, headers=headers)
    assert response.status_code == 201
    assert [u == "error" for u in response.json()] == [False, True]


@pytest.mark.parametrize(
    "params",
    [
        {"$resultFormat": "dataArray", "$expand": "Datastream"},
        {"$resultFormat": "dataArray", "$select": "name"},
    ],
)
async def test_bad_data_array_queries(sta, params):
    await sta.thing()
    assert_problem(await sta.get("Observations", **params), 400, "bad-request")
    assert_problem(await sta.get("Things", **{"$resultFormat": "dataArray"}), 400, "bad-request")
