"""Read access per Thing: a non-public Thing and everything under it is visible only to staff,
admins, the platform and its owner device; for everyone else it does not exist (404, absent
from collections, $expand, counts, latest and aggregates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import AuditEntry, OutboxEvent
from smartcity.sensing import models as m
from tests.problems import assert_problem
from tests.sensing.factories import ROOT_URL, Sta, caller

API = "/api/v1/sensing"


@dataclass
class City:
    public: dict[str, int]
    secret: dict[str, int]
    headers: dict[str, dict[str, str]]


@pytest.fixture
async def city(sta: Sta, client: httpx.AsyncClient, session: AsyncSession) -> City:
    """A public station and a private water meter whose owner is a device account."""
    observation = [{"phenomenonTime": "2026-03-01T00:00:00Z", "result": 1.5}]
    public = await sta.thing("空气站 福田", x=114.05, y=22.54, observations=observation)
    secret = await sta.thing("家庭水表", x=114.10, y=22.60, observations=observation)
    for ids in (public, secret):
        stream = await sta.json(f"Datastreams({ids['datastream']})/Observations")
        ids["observation"] = stream["value"][0]["@iot.id"]
        foi = await sta.json(f"Observations({ids['observation']})/FeatureOfInterest")
        ids["feature"] = foi["@iot.id"]
        history = await sta.json(f"Things({ids['thing']})/HistoricalLocations")
        ids["history"] = history["value"][0]["@iot.id"]
    owner, owner_headers = await caller(session, "device")
    _other, other_headers = await caller(session, "device")
    _staff, staff_headers = await caller(session, "staff")
    response = await client.put(
        f"{API}/things/{secret['thing']}/owner",
        json={"username": owner.username},
        headers=staff_headers,
    )
    assert response.status_code == 200, response.text
    response = await client.put(
        f"{API}/things/{secret['thing']}/visibility", json={"public": False}, headers=staff_headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"thing_id": secret["thing"], "public": False}
    return City(
        public,
        secret,
        {
            "anonymous": {},
            "other device": other_headers,
            "staff": staff_headers,
            "owner device": owner_headers,
        },
    )


SEES_SECRET = {"anonymous": False, "other device": False, "staff": True, "owner device": True}

DIRECT = [
    ("Things", "thing"),
    ("Datastreams", "datastream"),
    ("Observations", "observation"),
    ("Locations", "location"),
    ("HistoricalLocations", "history"),
    ("FeaturesOfInterest", "feature"),
]


async def get(client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    return await client.get(f"{ROOT_URL}/{path}", params=params or None, headers=headers)


@pytest.mark.parametrize("viewer", list(SEES_SECRET))
async def test_direct_paths(client: httpx.AsyncClient, city: City, viewer: str) -> None:
    headers = city.headers[viewer]
    expected = 200 if SEES_SECRET[viewer] else 404
    for set_name, key in DIRECT:
        public = await get(client, f"{set_name}({city.public[key]})", headers)
        assert public.status_code == 200, (set_name, public.text)
        secret = await get(client, f"{set_name}({city.secret[key]})", headers)
        assert secret.status_code == expected, (viewer, set_name, secret.text)
        if expected == 404:
            assert secret.headers["content-type"].startswith("application/problem+json")
    s = city.secret
    for path in (
        f"Things({s['thing']})/Datastreams",
        f"Things({s['thing']})/name",
        f"Things({s['thing']})/Datastreams/$ref",
        f"Datastreams({s['datastream']})/Observations",
        f"Datastreams({s['datastream']})/Thing",
        f"Sensors({s['sensor']})/Datastreams({s['datastream']})",
        f"Observations({s['observation']})/FeatureOfInterest",
        f"Observations({s['observation']})/result/$value",
    ):
        response = await get(client, path, headers)
        assert response.status_code == expected, (viewer, path, response.text)
    # The Sensor and ObservedProperty are a shared catalogue: visible, but not what is under.
    sensor = await get(client, f"Sensors({s['sensor']})/Datastreams", headers)
    assert sensor.status_code == 200
    assert len(sensor.json()["value"]) == (1 if SEES_SECRET[viewer] else 0)


@pytest.mark.parametrize("viewer", list(SEES_SECRET))
async def test_collections_counts_and_expand(
    client: httpx.AsyncClient, city: City, viewer: str
) -> None:
    headers = city.headers[viewer]
    sees = SEES_SECRET[viewer]
    for set_name, key in DIRECT:
        body = (await get(client, set_name, headers, **{"$count": "true"})).json()
        ids = {e["@iot.id"] for e in body["value"]}
        assert city.public[key] in ids, set_name
        assert (city.secret[key] in ids) is sees, (viewer, set_name)
        assert body["@iot.count"] == len(ids) == (2 if sees else 1), (viewer, set_name)
    filtered = (
        await get(client, "Things", headers, **{"$filter": "name eq '家庭水表'", "$count": "true"})
    ).json()
    assert filtered["@iot.count"] == (1 if sees else 0)
    # $expand from the shared catalogue and across the whole tree.
    sensors = (
        await get(
            client,
            f"Sensors({city.secret['sensor']})",
            headers,
            **{"$expand": "Datastreams($count=true;$expand=Observations,Thing)"},
        )
    ).json()
    assert sensors["Datastreams@iot.count"] == (1 if sees else 0)
    if sees:
        assert sensors["Datastreams"][0]["Thing"]["name"] == "家庭水表"
        assert len(sensors["Datastreams"][0]["Observations"]) == 1
    features = (
        await get(
            client,
            f"Locations({city.public['location']})",
            headers,
            **{"$expand": "Things($expand=Datastreams/Observations/FeatureOfInterest)"},
        )
    ).json()
    assert [t["name"] for t in features["Things"]] == ["空气站 福田"]
    everything = (
        await get(
            client,
            "ObservedProperties",
            headers,
            **{"$expand": "Datastreams($count=true;$expand=Observations($count=true))"},
        )
    ).json()
    streams = [d for p in everything["value"] for d in p["Datastreams"]]
    assert len(streams) == (2 if sees else 1)
    observations = await get(
        client, "Observations", headers, **{"$resultFormat": "dataArray", "$count": "true"}
    )
    assert observations.json()["@iot.count"] == (2 if sees else 1)


@pytest.mark.parametrize("viewer", list(SEES_SECRET))
async def test_latest_and_aggregates(client: httpx.AsyncClient, city: City, viewer: str) -> None:
    headers = city.headers[viewer]
    sees = SEES_SECRET[viewer]
    both = f"{city.public['datastream']},{city.secret['datastream']}"
    latest = (
        await client.get(f"{API}/latest", params={"datastream": both}, headers=headers)
    ).json()
    ids = [i["datastream_id"] for i in latest["value"]]
    assert ids == ([city.public["datastream"], city.secret["datastream"]] if sees else ids[:1])
    assert city.public["datastream"] in ids
    everything = (await client.get(f"{API}/latest", params={"limit": 1000}, headers=headers)).json()
    assert (city.secret["datastream"] in [i["datastream_id"] for i in everything["value"]]) is sees
    by_thing = (
        await client.get(f"{API}/latest", params={"thing": city.secret["thing"]}, headers=headers)
    ).json()
    assert len(by_thing["value"]) == (1 if sees else 0)
    span = {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "1d"}
    secret = await client.get(
        f"{API}/datastreams/{city.secret['datastream']}/aggregates", params=span, headers=headers
    )
    assert secret.status_code == (200 if sees else 404), secret.text
    if sees:
        assert secret.json()["buckets"][0]["values"]["count"] == 1
    public = await client.get(
        f"{API}/datastreams/{city.public['datastream']}/aggregates", params=span, headers=headers
    )
    assert public.status_code == 200


async def test_other_devices_cannot_write_to_a_private_thing(
    client: httpx.AsyncClient, city: City
) -> None:
    path = f"{ROOT_URL}/Datastreams({city.secret['datastream']})/Observations"
    body = {"phenomenonTime": "2026-03-01T01:00:00Z", "result": 2.0}
    other = await client.post(path, json=body, headers=city.headers["other device"])
    assert_problem(other, 404, "not-found")
    owner = await client.post(path, json=body, headers=city.headers["owner device"])
    assert owner.status_code == 201, owner.text


async def test_visibility_change_is_staff_only_audited_and_reversible(
    client: httpx.AsyncClient, city: City, session: AsyncSession
) -> None:
    url = f"{API}/things/{city.secret['thing']}/visibility"
    assert_problem(await client.put(url, json={"public": True}), 401, "unauthenticated")
    device = city.headers["owner device"]
    assert_problem(await client.put(url, json={"public": True}, headers=device), 403, "forbidden")
    staff = city.headers["staff"]
    for bad in ({}, {"public": "perhaps"}, {"public": None}):
        assert_problem(await client.put(url, json=bad, headers=staff), 422, "invalid-input")
    missing = await client.put(
        f"{API}/things/987654/visibility", json={"public": True}, headers=staff
    )
    assert_problem(missing, 404, "not-found")
    response = await client.put(url, json={"public": True}, headers=staff)
    assert response.status_code == 200
    thing = await get(client, f"Things({city.secret['thing']})", {})
    assert thing.status_code == 200
    actions = (
        await session.execute(
            select(AuditEntry.detail).where(
                AuditEntry.action == "sensing.thing.set_visibility",
                AuditEntry.target == f"Things({city.secret['thing']})",
            )
        )
    ).scalars()
    assert [d["public"] for d in actions] == [False, True]
    events = (
        await session.execute(
            select(OutboxEvent.topic).where(OutboxEvent.topic == "sensing.thing.visibility_changed")
        )
    ).scalars()
    assert len(list(events)) == 2
    row = await session.get(m.StaThing, city.secret["thing"])
    assert row is not None
    await session.refresh(row)
    assert row.public is True
