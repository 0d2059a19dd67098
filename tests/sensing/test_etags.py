"""If-Match is honoured: every entity read or written carries an ETag, and a PATCH, PUT or
DELETE against a stale one is a 412 that changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.sensing.factories import ROOT_URL


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{slug}"
    return body


async def _tag(sta: Any, path: str) -> str:
    response = await sta.get(path)
    assert response.status_code == 200, response.text
    tag: str = response.headers["etag"]
    return tag


async def _patch(sta: Any, path: str, body: Any, if_match: str) -> httpx.Response:
    response: httpx.Response = await sta.client.patch(
        f"{ROOT_URL}/{path}", json=body, headers={**sta.headers, "If-Match": if_match}
    )
    return response


class TestETags:
    async def test_an_entity_has_one_that_changes_with_it(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        first = await _tag(sta, path)
        assert first.startswith('"') and first.endswith('"')
        assert await _tag(sta, path) == first
        response = await sta.patch(path, {"description": "改过"})
        assert response.status_code == 200, response.text
        assert response.headers["etag"] != first
        assert response.headers["etag"] == await _tag(sta, path)

    async def test_a_created_entity_comes_with_its_etag(self, sta: Any) -> None:
        response = await sta.post("Things", {"name": "t", "description": "d"})
        assert response.status_code == 201, response.text
        location = response.headers["location"]
        path = location[location.rindex("/") + 1 :]
        assert response.headers["etag"] == await _tag(sta, path)

    async def test_a_link_change_changes_the_etag(self, sta: Any) -> None:
        one = await sta.thing("一")
        two = await sta.thing("二")
        path = f"Datastreams({one['datastream']})"
        before = await _tag(sta, path)
        response = await sta.patch(path, {"Thing": {"@iot.id": two["thing"]}})
        assert response.status_code == 200, response.text
        assert await _tag(sta, path) != before


class TestIfMatch:
    async def test_the_current_etag_lets_the_patch_through(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        response = await _patch(sta, path, {"name": "新名"}, await _tag(sta, path))
        assert response.status_code == 200, response.text
        assert (await sta.json(path))["name"] == "新名"

    async def test_a_stale_etag_is_a_412_that_changes_nothing(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        stale = await _tag(sta, path)
        assert (await sta.patch(path, {"name": "别人改的"})).status_code == 200
        current = await _tag(sta, path)
        refused = await _patch(sta, path, {"name": "我改的"}, stale)
        body = _problem(refused, 412, "precondition-failed")
        assert body["etag"] == current
        put = await sta.client.put(
            f"{ROOT_URL}/{path}",
            json={"name": "整体替换", "description": "d"},
            headers={**sta.headers, "If-Match": stale},
        )
        _problem(put, 412, "precondition-failed")
        delete = await sta.client.delete(
            f"{ROOT_URL}/{path}", headers={**sta.headers, "If-Match": stale}
        )
        _problem(delete, 412, "precondition-failed")
        assert (await sta.json(path))["name"] == "别人改的"

    async def test_star_matches_any_existing_entity(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        response = await sta.client.delete(
            f"{ROOT_URL}/{path}", headers={**sta.headers, "If-Match": "*"}
        )
        assert response.status_code == 200, response.text
        gone = await sta.client.delete(
            f"{ROOT_URL}/{path}", headers={**sta.headers, "If-Match": "*"}
        )
        _problem(gone, 404, "not-found")

    async def test_one_of_a_list_matches(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        tags = f'"0000", {await _tag(sta, path)}'
        assert (await _patch(sta, path, {"name": "x"}, tags)).status_code == 200

    async def test_a_weak_etag_never_matches(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        weak = "W/" + await _tag(sta, path)
        _problem(await _patch(sta, path, {"name": "x"}, weak), 412, "precondition-failed")

    async def test_on_a_get(self, sta: Any) -> None:
        ids = await sta.thing()
        path = f"Things({ids['thing']})"
        response = await sta.client.get(f"{ROOT_URL}/{path}", headers={"If-Match": '"stale"'})
        _problem(response, 412, "precondition-failed")
        ok = await sta.client.get(f"{ROOT_URL}/{path}", headers={"If-Match": "*"})
        assert ok.status_code == 200

    async def test_on_a_collection_it_is_refused(self, sta: Any) -> None:
        response = await sta.client.post(
            f"{ROOT_URL}/Things",
            json={"name": "t", "description": "d"},
            headers={**sta.headers, "If-Match": "*"},
        )
        body = _problem(response, 400, "bad-request")
        assert "If-Match" in body["detail"]
        empty = await _patch(sta, f"Things({(await sta.thing())['thing']})", {"name": "x"}, " ")
        _problem(empty, 400, "bad-request")
