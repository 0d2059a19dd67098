"""A.1 The data model and resource paths: every entity type with its properties, control
information (@iot.id, @iot.selfLink, navigation links), the landing page, and every usage of
the resource path (collections, entity, navigation, property, $value, $ref, nesting)."""

from __future__ import annotations

import pytest

from tests.problems import assert_problem
from tests.sensing.factories import ROOT_URL

BASE = "http://testserver/sta/v1.1"


async def test_landing_page_lists_entity_sets_and_conformance(sta):
    for url in (ROOT_URL, ROOT_URL + "/"):
        response = await sta.client.get(url)
        assert response.status_code == 200
        body = response.json()
        names = [v["name"] for v in body["value"]]
        assert names == [
            "Things",
            "Locations",
            "HistoricalLocations",
            "Datastreams",
            "MultiDatastreams",
            "Sensors",
            "Observations",
            "ObservedProperties",
            "FeaturesOfInterest",
        ]
        assert body["value"][0]["url"] == BASE + "/Things"
        conformance = body["serverSettings"]["conformance"]
        req = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
        for wanted in (
            "datamodel",
            "resource-path/resource-path-to-entities",
            "request-data",
            "create-update-delete",
            "batch-request/batch-request",
            "multi-datastream",
            "data-array/data-array",
        ):
            assert req + wanted in conformance
        assert not any("mqtt" in c for c in conformance)


async def test_every_entity_has_its_properties_and_links(sta):
    ids = await sta.thing()
    await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 12},
    )
    thing = await sta.json(f"Things({ids['thing']})")
    assert thing["@iot.id"] == ids["thing"]
    assert thing["@iot.selfLink"] == f"{BASE}/Things({ids['thing']})"
    assert {k for k in thing if k.endswith("@iot.navigationLink")} == {
        "Locations@iot.navigationLink",
        "HistoricalLocations@iot.navigationLink",
        "Datastreams@iot.navigationLink",
        "MultiDatastreams@iot.navigationLink",
    }
    assert thing["Locations@iot.navigationLink"] == f"{BASE}/Things({ids['thing']})/Locations"
    assert thing["properties"]["district"] == "福田区"

    location = await sta.json(f"Locations({ids['location']})")
    assert location["encodingType"] == "application/vnd.geo+json"
    assert location["location"] == {"type": "Point", "coordinates": [114.05, 22.54]}

    datastream = await sta.json(f"Datastreams({ids['datastream']})")
    assert datastream["unitOfMeasurement"]["symbol"] == "µg/m³"
    assert datastream["observationType"].endswith("OM_Measurement")
    assert datastream["phenomenonTime"] == "2026-01-01T00:00:00Z/2026-01-01T00:00:00Z"
    assert datastream["observedArea"] == {"type": "Point", "coordinates": [114.05, 22.54]}
    for nav in ("Thing", "Sensor", "ObservedProperty", "Observations"):
        assert f"{nav}@iot.navigationLink" in datastream

    sensor = await sta.json(f"Sensors({ids['sensor']})")
    assert sensor["metadata"] == "https://example.org/bam1020.pdf"
    assert sensor["encodingType"] == "application/pdf"
    prop = await sta.json(f"ObservedProperties({ids['observed_property']})")
    assert prop["definition"] == "https://example.org/pm25"

    observation = (await sta.json(f"Datastreams({ids['datastream']})/Observations"))["value"][0]
    assert observation["result"] == 12 and isinstance(observation["result"], int)
    assert observation["phenomenonTime"] == "2026-01-01T00:00:00Z"
    assert observation["resultTime"] is None
    assert "Datastream@iot.navigationLink" in observation
    assert "MultiDatastream@iot.navigationLink" not in observation

    feature = await sta.json(f"Observations({observation['@iot.id']})/FeatureOfInterest")
    assert feature["feature"] == location["location"]
    assert feature["encodingType"] == "application/vnd.geo+json"

    history = (await sta.json(f"Things({ids['thing']})/HistoricalLocations"))["value"][0]
    assert history["time"].endswith("Z")
    assert "Thing@iot.navigationLink" in history and "Locations@iot.navigationLink" in history


async def test_resource_paths(sta):
    ids = await sta.thing()
    created = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {
            "phenomenonTime": "2026-01-01T00:00:00Z",
            "result": 7.5,
            "resultTime": "2026-01-01T00:05:00+08:00",
        },
    )
    obs_id = created.json()["@iot.id"]
    ds = ids["datastream"]
    # navigation and nested paths
    assert (await sta.json(f"Datastreams({ds})/Observations({obs_id})"))["result"] == 7.5
    assert (await sta.json(f"Observations({obs_id})/Datastream"))["@iot.id"] == ds
    assert (await sta.json(f"Datastreams({ds})/Observations({obs_id})/Datastream/Thing"))[
        "@iot.id"
    ] == ids["thing"]
    assert (await sta.json(f"Things({ids['thing']})/Datastreams({ds})/Sensor"))["@iot.id"] == ids[
        "sensor"
    ]
    # a property, a JSON sub-property, and raw values
    assert await sta.json(f"Observations({obs_id})/resultTime") == {
        "resultTime": "2025-12-31T16:05:00Z"
    }
    assert await sta.json(f"Things({ids['thing']})/properties/district") == {"district": "福田区"}
    raw = await sta.get(f"Observations({obs_id})/resultTime/$value")
    assert raw.status_code == 200 and raw.text == "2025-12-31T16:05:00Z"
    assert raw.headers["content-type"].startswith("text/plain")
    assert (await sta.get(f"Things({ids['thing']})/name/$value")).text == "空气站 福田"
    assert (await sta.get(f"Observations({obs_id})/result/$value")).text == "7.5"
    # a null property is 204 No Content
    assert (await sta.get(f"Observations({obs_id})/validTime")).status_code == 204
    # quoted ids (clients that treat ids as strings)
    assert (await sta.json(f"Things('{ids['thing']}')"))["@iot.id"] == ids["thing"]
    # association links
    refs = await sta.json(f"Datastreams({ds})/Observations/$ref")
    assert refs["value"] == [{"@iot.selfLink": f"{BASE}/Observations({obs_id})"}]
    assert await sta.json(f"Observations({obs_id})/Datastream/$ref") == {
        "@iot.selfLink": f"{BASE}/Datastreams({ds})"
    }


@pytest.mark.parametrize(
    "path",
    [
        "Things(999999)",
        "Nothing",
        "Things(1x)",
        "Things(1)/Nothing",
        "Things/name",
        "Observations(999999)/Datastream",
        "Things(999999)/Datastreams",
        "Things(-1)",
        "Datastreams(999999)/Observations(1)",
        "Things(1)/name/$ref",
    ],
)
async def test_unknown_ids_and_paths_are_404_problems(sta, path):
    await sta.thing()
    response = await sta.get(path)
    assert_problem(response, 404, "not-found")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_entity_of_another_parent_is_404(sta):
    first, second = await sta.thing("站一"), await sta.thing("站二")
    response = await sta.get(f"Things({first['thing']})/Datastreams({second['datastream']})")
    assert_problem(response, 404, "not-found")


async def test_to_one_navigation_without_entity_is_404(sta):
    ids = await sta.thing()
    created = await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2026-01-01T00:00:00Z", "result": 1},
    )
    response = await sta.get(f"Observations({created.json()['@iot.id']})/MultiDatastream")
    assert_problem(response, 404, "not-found")


async def test_every_entity_set_reads(sta):
    await sta.thing()
    for name in (
        "Things",
        "Locations",
        "HistoricalLocations",
        "Datastreams",
        "MultiDatastreams",
        "Sensors",
        "Observations",
        "ObservedProperties",
        "FeaturesOfInterest",
    ):
        body = await sta.json(name)
        assert isinstance(body["value"], list)


async def test_observations_are_partitioned_by_month_on_postgresql(sta, session, backend):
    from datetime import UTC, datetime

    from sqlalchemy import text

    from smartcity.core import clock
    from smartcity.sensing.jobs import ensure_partitions

    if backend != "postgresql":
        pytest.skip("SQLite keeps one plain table")
    moment = datetime(2031, 5, 10, tzinfo=UTC)
    with clock.frozen(moment):
        await ensure_partitions(session)
        await ensure_partitions(session)  # idempotent
        ids = await sta.thing(
            observations=[{"phenomenonTime": "2031-05-10T00:00:00Z", "result": 1}]
        )
    partitions = set(
        (
            await session.execute(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'sta_observation'::regclass"
                )
            )
        ).scalars()
    )
    assert {
        "sta_observation_y2031m05",
        "sta_observation_y2031m06",
        "sta_observation_y2031m07",
        "sta_observation_default",
    } <= partitions
    where = await session.scalar(text("SELECT tableoid::regclass::text FROM sta_observation"))
    assert where == "sta_observation_y2031m05"
    await sta.post(
        f"Datastreams({ids['datastream']})/Observations",
        {"phenomenonTime": "2001-01-01T00:00:00Z", "result": 2},
    )
    old = await session.scalar(
        text("SELECT tableoid::regclass::text FROM sta_observation WHERE result_number = 2")
    )
    assert old == "sta_observation_default"
