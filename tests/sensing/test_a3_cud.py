"""A.3 Create-update-delete: POST with deep insert and links, PATCH, PUT, JSON-Patch, DELETE
with the standard's cascades, HistoricalLocations made automatically, integrity rules, and
who may write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from smartcity.core import clock
from smartcity.core.models import OutboxEvent
from smartcity.sensing import models as m
from tests.problems import assert_problem
from tests.sensing.factories import MEASUREMENT, caller, thing_body


async def test_deep_insert_creates_and_links_everything(sta):
    response = await sta.post(
        "Things",
        thing_body(observations=[{"phenomenonTime": "2026-01-01T00:00:00Z", "result": 35.5}]),
    )
    assert response.status_code == 201, response.text
    thing = response.json()
    assert response.headers["location"] == thing["@iot.selfLink"]
    assert thing["@iot.selfLink"].startswith("http://testserver/sta/v1.1/Things(")
    thing_id = thing["@iot.id"]
    datastreams = await sta.json(f"Things({thing_id})/Datastreams")
    assert len(datastreams["value"]) == 1
    ds_id = datastreams["value"][0]["@iot.id"]
    observations = await sta.json(f"Datastreams({ds_id})/Observations")
    assert [o["result"] for o in observations["value"]] == [35.5]
    history = await sta.json(f"Things({thing_id})/HistoricalLocations")
    assert len(history["value"]) == 1
    located = await sta.json(f"HistoricalLocations({history['value'][0]['@iot.id']})/Locations")
    assert located["value"][0]["name"] == "空气站 福田 位置"


async def test_links_to_existing_entities(sta):
    ids = await sta.thing()
    ds_id = await sta.create(
        "Datastreams",
        {
            "name": "温度",
            "description": "气温",
            "unitOfMeasurement": {
                "name": "degree Celsius",
                "symbol": "°C",
                "definition": "ucum:Cel",
            },
            "observationType": MEASUREMENT,
            "Thing": {"@iot.id": ids["thing"]},
            "Sensor": {"@iot.id": ids["sensor"]},
            "ObservedProperty": {"@iot.id": ids["observed_property"]},
        },
    )
    feature_id = await sta.create(
        "FeaturesOfInterest",
        {
            "name": "福田河",
            "description": "河段",
            "encodingType": "application/vnd.geo+json",
            "feature": {"type": "LineString", "coordinates": [[114.0, 22.5], [114.1, 22.6]]},
        },
    )
    obs = await sta.post(
        "Observations",
        {
            "Datastream": {"@iot.id": ds_id},
            "FeatureOfInterest": {"@iot.id": feature_id},
            "phenomenonTime": "2026-01-01T00:00:00Z",
            "result": 21.5,
            "resultQuality": [{"nameOfMeasure": "accuracy", "value": 0.1}],
            "validTime": "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
            "parameters": {"battery": 0.9},
        },
    )
    assert obs.status_code == 201, obs.text
    body = obs.json()
    assert body["validTime"] == "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z"
    assert body["parameters"] == {"battery": 0.9}
    assert (await sta.json(f"Observations({body['@iot.id']})/FeatureOfInterest"))[
        "@iot.id"
    ] == feature_id
    assert (await sta.json(f"Datastreams({ds_id})/Thing"))["@iot.id"] == ids["thing"]


async def test_post_to_a_navigation_collection_links_the_parent(sta):
    ids = await sta.thing()
    response = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2026-02-01T00:00:00Z", "result": 5},
    )
    assert response.status_code == 201
    location_id = await sta.create(
        f"Things({ids['thing']})/Locations",
        {
            "name": "新址",
            "description": "搬迁后",
            "encodingType": "application/vnd.geo+json",
            "location": {"type": "Point", "coordinates": [114.1, 22.6]},
        },
    )
    things = await sta.json(f"Locations({location_id})/Things")
    assert [t["@iot.id"] for t in things["value"]] == [ids["thing"]]
    history = await sta.json(f"Things({ids['thing']})/HistoricalLocations")
    assert len(history["value"]) == 2


async def test_observation_feature_is_derived_from_the_location_and_reused(sta):
    ids = await sta.thing()
    first = (
        await sta.post(
            f"Datastreams({ids['datastream']})/Observations",
            {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1},
        )
    ).json()
    second = (
        await sta.post(
            f"Datastreams({ids['datastream']})/Observations",
            {"phenomenonTime": "2026-01-01T01:00:00Z", "result": 2},
        )
    ).json()
    f1 = await sta.json(f"Observations({first['@iot.id']})/FeatureOfInterest")
    f2 = await sta.json(f"Observations({second['@iot.id']})/FeatureOfInterest")
    assert f1["@iot.id"] == f2["@iot.id"]
    assert f1["feature"] == {"type": "Point", "coordinates": [114.05, 22.54]}
    # The station moves: the next Observation gets a feature of the new place.
    await sta.patch(
        f"Locations({ids['location']})",
        {"location": {"type": "Point", "coordinates": [114.2, 22.6]}},
    )
    third = (
        await sta.post(
            f"Datastreams({ids['datastream']})/Observations",
            {"phenomenonTime": "2026-01-01T02:00:00Z", "result": 3},
        )
    ).json()
    f3 = await sta.json(f"Observations({third['@iot.id']})/FeatureOfInterest")
    assert f3["@iot.id"] != f1["@iot.id"]
    assert f3["feature"]["coordinates"] == [114.2, 22.6]


async def test_missing_phenomenon_time_is_now_and_result_time_null(sta):
    ids = await sta.thing()
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with clock.frozen(moment):
        body = (
            await sta.post(f"Datastreams({ids['datastream']})/Observations", {"result": 3})
        ).json()
    assert body["phenomenonTime"] == "2026-03-01T08:00:00Z"
    assert body["resultTime"] is None


async def test_observation_without_thing_location_needs_a_feature(sta):
    ids = await sta.thing()
    await sta.delete(f"Locations({ids['location']})")
    response = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1},
    )
    assert_problem(response, 400, "bad-request")
    assert "Location" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("Things", {"description": "no name"}),
        ("Things", {"name": 5, "description": "x"}),
        ("Things", {"name": "x", "description": "x", "properties": [1]}),
        ("Things", {"name": "x", "description": "x", "colour": "red"}),
        ("Things", ["not", "an", "object"]),
        ("Things", {"name": "x", "description": "x", "Locations": {"name": "not a list"}}),
        ("Things", {"name": "x", "description": "x", "Datastreams": [{"name": "incomplete"}]}),
        (
            "Locations",
            {
                "name": "x",
                "description": "x",
                "encodingType": "application/geo+json",
                "location": {"type": "Point"},
            },
        ),
        (
            "Datastreams",
            {
                "name": "x",
                "description": "x",
                "unitOfMeasurement": {},
                "observationType": MEASUREMENT,
            },
        ),
        (
            "Datastreams",
            {
                "name": "x",
                "description": "x",
                "unitOfMeasurement": "°C",
                "observationType": MEASUREMENT,
                "Thing": {"@iot.id": 1},
            },
        ),
        (
            "Datastreams",
            {
                "name": "x",
                "description": "x",
                "unitOfMeasurement": {},
                "observationType": MEASUREMENT,
                "Thing": {"@iot.id": 99999},
                "Sensor": {"@iot.id": 1},
                "ObservedProperty": {"@iot.id": 1},
            },
        ),
        ("Observations", {"result": 1}),
        ("Observations", {"result": 1, "Datastream": {"@iot.id": 99999}}),
        ("Observations", {"result": 1, "Datastream": {"@iot.id": "abc"}}),
        ("Observations", {"result": 1, "Datastream": {"@iot.id": 2**64 - 1}}),
        ("Observations", {"result": 1, "Datastream": {"@iot.id": 0}}),
        ("Things", {"name": "nul\x00", "description": "x"}),
        ("HistoricalLocations", {"time": "2026-01-01T00:00:00Z"}),
        ("HistoricalLocations", {"time": "yesterday", "Thing": {"@iot.id": 1}}),
        ("Sensors", {"name": "x", "description": "x", "encodingType": "application/pdf"}),
        ("FeaturesOfInterest", {"name": "x", "description": "x", "encodingType": "text/plain"}),
    ],
)
async def test_bad_entities_are_400_and_leave_nothing(sta, session, path, body):
    await sta.thing()
    before = await session.scalar(select(func.count()).select_from(m.StaThing))
    response = await sta.post(path, body)
    assert_problem(response, 400, "bad-request")
    assert response.headers["content-type"] == "application/problem+json"
    assert await session.scalar(select(func.count()).select_from(m.StaThing)) == before


async def test_failed_deep_insert_creates_nothing(sta, session):
    body = thing_body()
    body["Datastreams"][0]["Observations"] = [
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": "not a number"}
    ]
    response = await sta.post("Things", body)
    assert_problem(response, 400, "bad-request")
    for model in (m.StaThing, m.StaLocation, m.StaSensor, m.StaDatastream, m.StaObservation):
        assert await session.scalar(select(func.count()).select_from(model)) == 0


@pytest.mark.parametrize(
    ("observation_type", "good", "bad"),
    [
        ("OM_Measurement", 1.5, "1.5"),
        ("OM_Measurement", 2, True),
        ("OM_CountObservation", 3, 3.5),
        ("OM_TruthObservation", False, 0),
        ("OM_CategoryObservation", "http://example.org/clear", 1),
    ],
)
async def test_result_must_fit_the_observation_type(sta, observation_type, good, bad):
    ids = await sta.thing(
        observation_type=(
            f"http://www.opengis.net/def/observationType/OGC-OM/2.0/{observation_type}"
        )
    )
    ok = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": good},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["result"] == good
    refused = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": bad},
    )
    assert_problem(refused, 400, "bad-request")
    assert "result" in refused.json()["detail"]


async def test_far_future_observation_is_refused(sta):
    ids = await sta.thing()
    with clock.frozen(datetime(2026, 1, 1, tzinfo=UTC)):
        soon = await sta.post(
            f"Datastreams({ids['datastream']})/Observations",
            {"phenomenonTime": "2026-01-01T20:00:00Z", "result": 1},
        )
        late = await sta.post(
            f"Datastreams({ids['datastream']})/Observations",
            {"phenomenonTime": "2026-01-02T01:00:00Z", "result": 1},
        )
    assert soon.status_code == 201
    assert_problem(late, 400, "bad-request")
    assert "ahead" in late.json()["detail"]


async def test_patch_merges(sta):
    ids = await sta.thing()
    response = await sta.patch(f"Things({ids['thing']})", {"description": "已升级"})
    assert response.status_code == 200
    thing = await sta.json(f"Things({ids['thing']})")
    assert thing["description"] == "已升级" and thing["name"] == "空气站 福田"
    assert thing["properties"]["district"] == "福田区"


async def test_patch_relinks_and_moves_a_thing(sta):
    ids, other = await sta.thing("站一"), await sta.thing("站二")
    assert (
        await sta.patch(
            f"Datastreams({ids['datastream']})", {"Sensor": {"@iot.id": other["sensor"]}}
        )
    ).status_code == 200
    assert (await sta.json(f"Datastreams({ids['datastream']})/Sensor"))["@iot.id"] == other[
        "sensor"
    ]
    moved = await sta.patch(
        f"Things({ids['thing']})", {"Locations": [{"@iot.id": other["location"]}]}
    )
    assert moved.status_code == 200
    locations = await sta.json(f"Things({ids['thing']})/Locations")
    assert [loc["@iot.id"] for loc in locations["value"]] == [other["location"]]
    history = await sta.json(
        f"Things({ids['thing']})/HistoricalLocations", **{"$orderby": "time desc,id desc"}
    )
    assert len(history["value"]) == 2
    latest = await sta.json(f"HistoricalLocations({history['value'][0]['@iot.id']})/Locations")
    assert [loc["@iot.id"] for loc in latest["value"]] == [other["location"]]


@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"name": 3},
        {"Locations": [{"name": "nested", "description": "x"}]},
        {"Datastreams": {"@iot.id": 1}},
        {"colour": "red"},
        ["name"],
    ],
)
async def test_bad_patches_are_400(sta, body):
    ids = await sta.thing()
    response = await sta.patch(f"Things({ids['thing']})", body)
    assert_problem(response, 400, "bad-request")


async def test_put_replaces(sta):
    ids = await sta.thing()
    response = await sta.put(f"Things({ids['thing']})", {"name": "新名", "description": "新描述"})
    assert response.status_code == 200
    thing = await sta.json(f"Things({ids['thing']})")
    assert thing["name"] == "新名" and "properties" not in thing
    missing = await sta.put(f"Things({ids['thing']})", {"name": "只有名字"})
    assert_problem(missing, 400, "bad-request")
    assert "description" in missing.json()["detail"]


async def test_json_patch(sta):
    ids = await sta.thing()
    patch = [
        {"op": "replace", "path": "/name", "value": "补丁后"},
        {"op": "add", "path": "/properties/model", "value": "BAM"},
        {"op": "remove", "path": "/properties/owner"},
        {"op": "test", "path": "/description", "value": "国控空气质量监测站"},
    ]
    response = await sta.patch(f"Things({ids['thing']})", patch, "application/json-patch+json")
    assert response.status_code == 200, response.text
    thing = await sta.json(f"Things({ids['thing']})")
    assert thing["name"] == "补丁后"
    assert thing["properties"] == {"district": "福田区", "height": 12, "model": "BAM"}


@pytest.mark.parametrize(
    "patch",
    [
        [{"op": "test", "path": "/name", "value": "something else"}],
        [{"op": "replace", "path": "/nosuch/deep", "value": 1}],
        [{"op": "remove", "path": "/name"}],
        [{"op": "jump", "path": "/name"}],
        {"op": "replace", "path": "/name", "value": "x"},
    ],
)
async def test_bad_json_patches_are_400(sta, patch):
    ids = await sta.thing()
    response = await sta.patch(f"Things({ids['thing']})", patch, "application/json-patch+json")
    assert_problem(response, 400, "bad-request")
    assert (await sta.json(f"Things({ids['thing']})"))["name"] == "空气站 福田"


async def test_update_observation_checks_and_recomputes_the_stream(sta):
    ids = await sta.thing()
    obs = [
        (
            await sta.post(
                f"Datastreams({ids['datastream']})/Observations", {"phenomenonTime": t, "result": 1}
            )
        ).json()["@iot.id"]
        for t in ("2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z")
    ]
    assert_problem(await sta.patch(f"Observations({obs[1]})", {"result": "x"}), 400, "bad-request")
    assert (
        await sta.patch(
            f"Observations({obs[1]})", {"phenomenonTime": "2026-01-03T00:00:00Z", "result": 2}
        )
    ).status_code == 200
    stream = await sta.json(f"Datastreams({ids['datastream']})")
    assert stream["phenomenonTime"] == "2026-01-01T00:00:00Z/2026-01-03T00:00:00Z"
    assert (await sta.delete(f"Observations({obs[1]})")).status_code == 200
    stream = await sta.json(f"Datastreams({ids['datastream']})")
    assert stream["phenomenonTime"] == "2026-01-01T00:00:00Z/2026-01-01T00:00:00Z"


async def test_update_of_a_missing_entity_is_404(sta):
    assert_problem(await sta.patch("Things(999999)", {"name": "x"}), 404, "not-found")
    assert_problem(
        await sta.put("Things(999999)", {"name": "x", "description": "y"}), 404, "not-found"
    )
    assert_problem(await sta.delete("Things(999999)"), 404, "not-found")


async def test_delete_cascades(sta, session):
    ids = await sta.thing(observations=[{"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1}])
    assert (await sta.delete(f"Things({ids['thing']})")).status_code == 200
    assert_problem(await sta.get(f"Things({ids['thing']})"), 404, "not-found")
    assert_problem(await sta.get(f"Datastreams({ids['datastream']})"), 404, "not-found")
    assert await session.scalar(select(func.count()).select_from(m.StaObservation)) == 0
    assert await session.scalar(select(func.count()).select_from(m.StaHistoricalLocation)) == 0
    # A Sensor and a Location outlive the Thing; deleting them is fine too.
    assert (await sta.get(f"Sensors({ids['sensor']})")).status_code == 200
    assert (await sta.delete(f"Locations({ids['location']})")).status_code == 200


@pytest.mark.parametrize("which", ["sensor", "observed_property"])
async def test_deleting_a_sensor_or_property_takes_its_datastreams(sta, which):
    ids = await sta.thing(observations=[{"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1}])
    path = {"sensor": "Sensors", "observed_property": "ObservedProperties"}[which]
    assert (await sta.delete(f"{path}({ids[which]})")).status_code == 200
    assert_problem(await sta.get(f"Datastreams({ids['datastream']})"), 404, "not-found")
    assert (await sta.get(f"Things({ids['thing']})")).status_code == 200


async def test_deleting_a_location_takes_its_historical_locations(sta):
    ids = await sta.thing()
    assert (await sta.delete(f"Locations({ids['location']})")).status_code == 200
    assert (await sta.json(f"Things({ids['thing']})/HistoricalLocations"))["value"] == []


async def test_deleting_a_feature_takes_its_observations(sta):
    ids = await sta.thing(observations=[{"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1}])
    obs = (await sta.json("Observations"))["value"][0]
    feature = await sta.json(f"Observations({obs['@iot.id']})/FeatureOfInterest")
    assert (await sta.delete(f"FeaturesOfInterest({feature['@iot.id']})")).status_code == 200
    assert (await sta.json(f"Datastreams({ids['datastream']})/Observations"))["value"] == []


async def test_events_are_emitted_per_entity(sta, session):
    ids = await sta.thing(observations=[{"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1}])
    await sta.patch(f"Things({ids['thing']})", {"name": "改名"})
    await sta.delete(f"Sensors({ids['sensor']})")
    rows = list(
        (await session.execute(select(OutboxEvent.payload).order_by(OutboxEvent.seq))).scalars()
    )
    events = [
        (p["topic"], p["payload"].get("entity_set"))
        for p in rows
        if p["topic"].startswith("sensing.entity.")
    ]
    created = {s for t, s in events if t == "sensing.entity.created"}
    # Observations are announced in batches (sensing.observations.created), every other
    # entity in an event of its own.
    assert created == {
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "Sensors",
        "ObservedProperties",
        "FeaturesOfInterest",
    }
    batches = [p["payload"] for p in rows if p["topic"] == "sensing.observations.created"]
    assert [[o["entity_set"] for o in b["observations"]] for b in batches] == [["Observations"]]
    assert ("sensing.entity.updated", "Things") in events
    assert ("sensing.entity.deleted", "Sensors") in events
    update = next(
        p
        for p in (await session.execute(select(OutboxEvent.payload))).scalars()
        if p["topic"] == "sensing.entity.updated"
    )
    assert update["payload"]["changed"] == ["name"]
    assert update["payload"]["entity"]["name"] == "改名"


async def test_observation_events_carry_the_entity_as_read(sta, session):
    ids = await sta.thing()
    created = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {
            "phenomenonTime": "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z",
            "result": 1.5,
            "resultTime": "2026-01-01T01:00:00Z",
            "parameters": {"k": 1},
            "validTime": "2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
            "resultQuality": {"q": "good"},
        },
    )
    read = await sta.json(f"Observations({created.json()['@iot.id']})")
    expected = {
        k: v for k, v in read.items() if "@iot.selfLink" not in k and "navigationLink" not in k
    }
    rows = (await session.execute(select(OutboxEvent.payload))).scalars()
    event = next(p for p in rows if p["topic"] == "sensing.observations.created")
    (item,) = event["payload"]["observations"]
    assert item["entity_set"] == "Observations"
    assert item["id"] == read["@iot.id"]
    assert item["entity"] == expected
    assert item["stream"] == {"kind": "Datastream", "id": ids["datastream"]}


@pytest.mark.parametrize("kind", ["citizen", "enterprise", "supervisor"])
async def test_other_kinds_may_not_write(sta, session, kind):
    _account, headers = await caller(session, kind)
    response = await sta.post("Things", {"name": "x", "description": "y"}, headers=headers)
    assert_problem(response, 403, "forbidden")


async def test_anonymous_reads_but_may_not_write(sta):
    await sta.thing()
    assert (await sta.client.get("/sta/v1.1/Things")).status_code == 200
    response = await sta.post("Things", {"name": "x", "description": "y"}, headers={})
    assert_problem(response, 401, "unauthenticated")


async def test_device_writes_only_its_own_datastreams(sta, session, client):
    mine, theirs = await sta.thing("我的站"), await sta.thing("别人的站")
    device, headers = await caller(session, "device")
    _staff, staff_headers = await caller(session, "staff")
    owned = await client.put(
        f"/api/v1/sensing/things/{mine['thing']}/owner",
        json={"username": device.username},
        headers=staff_headers,
    )
    assert owned.status_code == 200, owned.text
    ok = await sta.post(
        f"Datastreams({mine['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1},
        headers=headers,
    )
    assert ok.status_code == 201, ok.text
    refused = await sta.post(
        f"Datastreams({theirs['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1},
        headers=headers,
    )
    assert_problem(refused, 403, "forbidden")
    assert_problem(
        await sta.post("Things", {"name": "x", "description": "y"}, headers=headers),
        403,
        "forbidden",
    )
    assert_problem(
        await client.patch(
            f"/sta/v1.1/Things({mine['thing']})", json={"name": "x"}, headers=headers
        ),
        403,
        "forbidden",
    )
    assert (
        await client.delete(f"/sta/v1.1/Observations({ok.json()['@iot.id']})", headers=headers)
    ).status_code == 200
    not_a_device = await client.put(
        f"/api/v1/sensing/things/{mine['thing']}/owner",
        json={"username": "nobody"},
        headers=staff_headers,
    )
    assert_problem(not_a_device, 400, "bad-request")
    assert_problem(
        await client.put(
            "/api/v1/sensing/things/999999/owner", json={"username": None}, headers=staff_headers
        ),
        404,
        "not-found",
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "Things({})"),
        ("PATCH", "Things"),
        ("DELETE", "Things"),
        ("PATCH", "Things({})/name"),
        ("POST", "Things({})/Datastreams/$ref"),
    ],
)
async def test_wrong_method_for_the_path(sta, method, path):
    ids = await sta.thing()
    path = path.format(ids["thing"])
    response = await sta.client.request(
        method, f"/sta/v1.1/{path}", json={"name": "x"}, headers=sta.headers
    )
    assert_problem(response, 405, "method-not-allowed")


async def test_bad_json_body_is_400(sta):
    response = await sta.client.post(
        "/sta/v1.1/Things",
        content=b"{not json",
        headers={**sta.headers, "Content-Type": "application/json"},
    )
    assert_problem(response, 400, "bad-request")
    empty = await sta.client.post("/sta/v1.1/Things", content=b"", headers=sta.headers)
    assert_problem(empty, 400, "bad-request")
