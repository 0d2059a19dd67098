"""Helpers of the SensorThings tests: callers with API keys, and sample entities made
through the API itself (deep insert), as a client would."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import accounts
from smartcity.core.models import Account
from tests.core import factories
from tests.core.factories import ROOT

ROOT_URL = "/sta/v1.1"
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
CELSIUS = {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"}


async def caller(session: AsyncSession, kind: str) -> tuple[Account, dict[str, str]]:
    """An account of the kind and the headers that authenticate as it (an API key)."""
    account = await factories.create_account(session, kind=kind)
    if kind in ("system", "device"):
        _row, key = await accounts.issue_api_key(
            session, ROOT, username=account.username, name="test"
        )
        headers = {"X-API-Key": key}
    else:
        from smartcity.core.security import issue_access_token
        from smartcity.settings import get_settings

        token = issue_access_token(get_settings(), account, amr=["pwd", "otp"])
        headers = {"Authorization": f"Bearer {token}"}
    await session.flush()
    return account, headers


def thing_body(
    name: str = "空气站 福田",
    *,
    x: float = 114.05,
    y: float = 22.54,
    observations: list[dict[str, Any]] | None = None,
    observation_type: str = MEASUREMENT,
) -> dict[str, Any]:
    """A Thing with a Location and one Datastream (Sensor, ObservedProperty) by deep insert."""
    return {
        "name": name,
        "description": "国控空气质量监测站",
        "properties": {"district": "福田区", "owner": "生态环境局", "height": 12},
        "Locations": [
            {
                "name": f"{name} 位置",
                "description": "站点位置",
                "encodingType": "application/vnd.geo+json",
                "location": {"type": "Point", "coordinates": [x, y]},
            }
        ],
        "Datastreams": [
            {
                "name": f"{name} PM2.5",
                "description": "PM2.5 一小时均值",
                "unitOfMeasurement": {
                    "name": "microgram per cubic metre",
                    "symbol": "µg/m³",
                    "definition": "ucum:ug/m3",
                },
                "observationType": observation_type,
                "Sensor": {
                    "name": "BAM-1020",
                    "description": "β射线法颗粒物监测仪",
                    "encodingType": "application/pdf",
                    "metadata": "https://example.org/bam1020.pdf",
                },
                "ObservedProperty": {
                    "name": "PM2.5",
                    "definition": "https://example.org/pm25",
                    "description": "细颗粒物质量浓度",
                },
                "Observations": observations or [],
            }
        ],
    }


class Sta:
    """A SensorThings client over the ASGI app, with a writer's headers."""

    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(f"{ROOT_URL}/{path}", params=params or None)

    async def json(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any, **kw: Any) -> httpx.Response:
        return await self.client.post(
            f"{ROOT_URL}/{path}", json=body, headers=kw.pop("headers", self.headers), **kw
        )

    async def create(self, path: str, body: Any) -> int:
        response = await self.post(path, body)
        assert response.status_code == 201, response.text
        location = response.headers["location"]
        return int(location[location.rindex("(") + 1 : -1])

    async def patch(
        self, path: str, body: Any, content_type: str = "application/json"
    ) -> httpx.Response:
        import json

        return await self.client.patch(
            f"{ROOT_URL}/{path}",
            content=json.dumps(body),
            headers={**self.headers, "Content-Type": content_type},
        )

    async def put(self, path: str, body: Any) -> httpx.Response:
        return await self.client.put(f"{ROOT_URL}/{path}", json=body, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(f"{ROOT_URL}/{path}", headers=self.headers)

    async def thing(self, name: str = "空气站 福田", **kw: Any) -> dict[str, int]:
        """Deep-insert a station; the ids of what was made."""
        thing_id = await self.create("Things", thing_body(name, **kw))
        ds = (await self.json(f"Things({thing_id})/Datastreams"))["value"][0]
        loc = (await self.json(f"Things({thing_id})/Locations"))["value"][0]
        sensor = await self.json(f"Datastreams({ds['@iot.id']})/Sensor")
        prop = await self.json(f"Datastreams({ds['@iot.id']})/ObservedProperty")
        return {
            "thing": thing_id,
            "datastream": ds["@iot.id"],
            "location": loc["@iot.id"],
            "sensor": sensor["@iot.id"],
            "observed_property": prop["@iot.id"],
        }
