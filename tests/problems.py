"""The assertion every API error test makes: the status, problem+json, and the problem's
stable ``type`` (RFC 9457), which is what clients act on."""

from __future__ import annotations

from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, type_suffix: str) -> dict[str, Any]:
    """The response is a problem of this status and type (``"not-found"`` for
    ``/problems/not-found``); returns its body for further checks."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{type_suffix}", body
    return body
