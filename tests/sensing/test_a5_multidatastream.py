"""A.5 MultiDatastream: properties, relations (ObservedProperties in result order) and the
constraints tying unitOfMeasurements, multiObservationDataTypes, ObservedProperties and
results together."""

from __future__ import annotations

from typing import Any

import pytest

from tests.problems import assert_problem

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/"


def multi_body(ids: dict[str, int], **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "气象三要素",
        "description": "温度、湿度、天气",
        "observationType": OM + "OM_ComplexObservation",
        "multiObservationDataTypes": [
            OM + "OM_Measurement",
            OM + "OM_Measurement",
            OM + "OM_CategoryObservation",
        ],
        "unitOfMeasurements": [
            {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
            {"name": "percent", "symbol": "%", "definition": "ucum:%"},
            {"name": None, "symbol": None, "definition": None},
        ],
        "Thing": {"@iot.id": ids["thing"]},
        "Sensor": {"@iot.id": ids["sensor"]},
        "ObservedProperties": [
            {"name": "湿度", "definition": "x:rh", "description": "相对湿度"},
            {"@iot.id": ids["observed_property"]},
            {"name": "天气", "definition": "x:weather", "description": "天气现象"},
        ],
    }
    body.update(overrides)
    return body


async def test_create_read_and_observe(sta):
    ids = await sta.thing()
    multi_id = await sta.create("MultiDatastreams", multi_body(ids))
    multi = await sta.json(f"MultiDatastreams({multi_id})")
    assert multi["observationType"] == OM + "OM_ComplexObservation"
    assert len(multi["unitOfMeasurements"]) == 3
    for nav in ("Thing", "Sensor", "ObservedProperties", "Observations"):
        assert f"{nav}@iot.navigationLink" in multi
    properties = await sta.json(f"MultiDatastreams({multi_id})/ObservedProperties")
    assert [p["name"] for p in properties["value"]] == ["湿度", "PM2.5", "天气"]
    created = await sta.post(
        f"MultiDatastreams({multi_id})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": [21.5, 60, "http://x/clear"]},
    )
    assert created.status_code == 201, created.text
    observation = created.json()
    assert observation["result"] == [21.5, 60, "http://x/clear"]
    assert "MultiDatastream@iot.navigationLink" in observation
    assert "Datastream@iot.navigationLink" not in observation
    assert (await sta.json(f"Things({ids['thing']})/MultiDatastreams"))["value"][0][
        "@iot.id"
    ] == multi_id
    assert (await sta.json(f"ObservedProperties({ids['observed_property']})/MultiDatastreams"))[
        "value"
    ][0]["@iot.id"] == multi_id
    by_element = await sta.json("Observations", **{"$filter": "result/1 eq 60"})
    assert len(by_element["value"]) == 1
    stream = await sta.json(f"MultiDatastreams({multi_id})")
    assert stream["phenomenonTime"] == "2026-01-01T00:00:00Z/2026-01-01T00:00:00Z"


@pytest.mark.parametrize("result", [[21.5, 60], [21.5, "60", "x"], 5, [21.5, 60, "a", 1]])
async def test_results_must_match_the_data_types(sta, result):
    ids = await sta.thing()
    multi_id = await sta.create("MultiDatastreams", multi_body(ids))
    response = await sta.post(
        f"MultiDatastreams({multi_id})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": result},
    )
    assert_problem(response, 400, "bad-request")


@pytest.mark.parametrize(
    "overrides",
    [
        {"observationType": OM + "OM_Measurement"},
        {"multiObservationDataTypes": [OM + "OM_Measurement"]},
        {"unitOfMeasurements": []},
        {"ObservedProperties": []},
        {"multiObservationDataTypes": "OM_Measurement"},
    ],
)
async def test_constraints_are_enforced(sta, overrides):
    ids = await sta.thing()
    response = await sta.post("MultiDatastreams", multi_body(ids, **overrides))
    assert_problem(response, 400, "bad-request")


async def test_observation_needs_exactly_one_stream(sta):
    ids = await sta.thing()
    multi_id = await sta.create("MultiDatastreams", multi_body(ids))
    response = await sta.post(
        "Observations",
        {
            "result": [1, 2, "x"],
            "Datastream": {"@iot.id": ids["datastream"]},
            "MultiDatastream": {"@iot.id": multi_id},
        },
    )
    assert_problem(response, 400, "bad-request")


async def test_deleting_an_observed_property_takes_its_multi_datastreams(sta):
    ids = await sta.thing()
    multi_id = await sta.create("MultiDatastreams", multi_body(ids))
    assert (await sta.delete(f"ObservedProperties({ids['observed_property']})")).status_code == 200
    assert_problem(await sta.get(f"MultiDatastreams({multi_id})"), 404, "not-found")


async def test_observed_properties_of_a_multi_datastream_are_fixed(sta):
    ids = await sta.thing()
    multi_id = await sta.create("MultiDatastreams", multi_body(ids))
    response = await sta.patch(
        f"MultiDatastreams({multi_id})",
        {"ObservedProperties": [{"@iot.id": ids["observed_property"]}]},
    )
    assert_problem(response, 400, "bad-request")
    shrink = await sta.patch(
        f"MultiDatastreams({multi_id})", {"unitOfMeasurements": [{"name": "x"}]}
    )
    assert_problem(shrink, 400, "bad-request")
