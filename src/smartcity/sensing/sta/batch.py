"""Batch requests (A.4, OData 4.0 §11.7): ``POST $batch`` with a multipart/mixed body of
requests and change sets. A change set is atomic (one savepoint: all of it or none) and its
requests may refer to an entity created earlier in it by Content-ID, as ``$1`` at the start
of a URL or as ``{"@iot.id": "$1"}`` in a body."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.errors import Problem
from smartcity.sensing.sta.dispatch import JSON, Reply, handle
from smartcity.sensing.sta.entities import BadRequest

log = logging.getLogger(__name__)
MAX_PARTS = 1000
_REQUEST_LINE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE)\s+(\S+)(?:\s+HTTP/\d(?:\.\d)?)?\s*$")
_HEADER = re.compile(r"^([A-Za-z0-9-]+)\s*:\s*(.*)$")


@dataclass
class SubRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    requests: list[SubRequest] = field(default_factory=list)


def boundary_of(content_type: str) -> str:
    match = re.search(r'boundary\s*=\s*("([^"]+)"|[^;\s]+)', content_type, flags=re.IGNORECASE)
    if match is None:
        raise BadRequest("A $batch request is multipart/mixed with a boundary parameter.")
    return match.group(2) or match.group(1)


def split_parts(body: str, boundary: str) -> list[str]:
    delimiter = re.compile(r"(?:\A|\r?\n)--" + re.escape(boundary) + r"(--)?[ \t]*(?:\r?\n|\Z)")
    found = list(delimiter.finditer(body))
    if not found:
        raise BadRequest(f"The body has no part delimited by --{boundary}.")
    parts = []
    for current, following in itertools.pairwise(found):
        if current.group(1):
            break
        parts.append(body[current.end() : following.start()])
    return parts


def _headers_and_rest(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Leading header lines (blank lines between them tolerated, as in the standard's own
    examples) and the lines after them."""
    headers: dict[str, str] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _HEADER.match(line)
        if match and not _REQUEST_LINE.match(line):
            headers[match.group(1).lower()] = match.group(2).strip()
        elif line.strip():
            break
        index += 1
    return headers, lines[index:]


def parse_part(part: str) -> SubRequest | ChangeSet:
    lines = part.replace("\r\n", "\n").split("\n")
    mime, rest = _headers_and_rest(lines)
    content_type = mime.get("content-type", "application/http")
    if content_type.lower().startswith("multipart/mixed"):
        inner = "\n".join(rest)
        changeset = ChangeSet()
        for sub in split_parts(
            "\n" + inner if not inner.startswith("--") else inner, boundary_of(content_type)
        ):
            parsed = parse_part(sub)
            if isinstance(parsed, ChangeSet):
                raise BadRequest("Change sets cannot be nested.")
            if parsed.method == "GET":
                raise BadRequest("A change set holds only changes (POST, PATCH, PUT, DELETE).")
            changeset.requests.append(parsed)
        return changeset
    if not rest:
        raise BadRequest("A batch part holds no request.")
    match = _REQUEST_LINE.match(rest[0].strip())
    if match is None:
        raise BadRequest(f"Not an HTTP request line: '{rest[0][:80]}'.")
    headers, body_lines = _headers_and_rest(rest[1:])
    body = "\n".join(body_lines).strip()
    return SubRequest(
        match.group(1), match.group(2), headers, body.encode(), mime.get("content-id")
    )


def parse_batch(body: bytes, content_type: str) -> list[SubRequest | ChangeSet]:
    try:
        text = body.decode()
    except UnicodeDecodeError as exc:
        raise BadRequest("The batch body is not UTF-8 text.") from exc
    parts = [parse_part(p) for p in split_parts(text, boundary_of(content_type))]
    total = sum(len(p.requests) if isinstance(p, ChangeSet) else 1 for p in parts)
    if total > MAX_PARTS:
        raise BadRequest(f"A batch holds at most {MAX_PARTS} requests, not {total}.")
    return parts


def _service_relative(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    path = split.path
    for prefix in ("/sta/v1.1/", "/v1.1/", "sta/v1.1/", "v1.1/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    else:
        path = path.lstrip("/")
    params = dict(parse_qsl(split.query, keep_blank_values=True))
    return path, params


def _substitute(value: Any, created: dict[str, tuple[str, int]]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "@iot.id" and isinstance(item, str) and item.startswith("$"):
                if item[1:] not in created:
                    raise BadRequest(f"{item} does not name an earlier request of the change set.")
                out[key] = created[item[1:]][1]
            else:
                out[key] = _substitute(item, created)
        return out
    if isinstance(value, list):
        return [_substitute(v, created) for v in value]
    return value


class _ChangeSetFailed(Exception):
    def __init__(self, reply: Reply, content_id: str | None) -> None:
        self.reply, self.content_id = reply, content_id


def problem_reply(problem: Problem) -> Reply:
    return Reply(problem.status, problem.body(), media_type="application/problem+json")


async def _one(
    session: AsyncSession,
    principal: Principal,
    request: SubRequest,
    base: str,
    created: dict[str, tuple[str, int]],
) -> Reply:
    path, params = _service_relative(request.url)
    if path.startswith("$"):
        reference, _, rest = path[1:].partition("/")
        if reference not in created:
            raise BadRequest(f"${reference} does not name an earlier request of the change set.")
        set_name, entity_id = created[reference]
        path = f"{set_name}({entity_id})" + (f"/{rest}" if rest else "")
    body = request.body
    if body and request.method != "GET" and created:
        # Bad JSON is left for handle() to report.
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.dumps(_substitute(orjson.loads(body), created))
    return await handle(
        session,
        principal,
        request.method,
        path,
        params,
        base=base,
        body=body,
        content_type=request.headers.get("content-type", JSON),
        if_match=request.headers.get("if-match"),
    )


def _remember(reply: Reply, request: SubRequest, created: dict[str, tuple[str, int]]) -> None:
    location = reply.headers.get("Location", "")
    match = re.search(r"/(\w+)\((\d+)\)$", location)
    if request.content_id and match:
        created[request.content_id] = (match.group(1), int(match.group(2)))


async def run_batch(
    session: AsyncSession, principal: Principal, parts: list[SubRequest | ChangeSet], base: str
) -> list[tuple[SubRequest | ChangeSet, list[tuple[Reply, str | None]]]]:
    """Each part's replies: one per request, or one error reply for a failed change set."""
    results: list[tuple[SubRequest | ChangeSet, list[tuple[Reply, str | None]]]] = []
    for part in parts:
        if isinstance(part, SubRequest):
            results.append(
                (part, [(await _guarded(session, principal, part, base, {}), part.content_id)])
            )
            continue
        created: dict[str, tuple[str, int]] = {}
        replies: list[tuple[Reply, str | None]] = []
        try:
            async with session.begin_nested():
                for request in part.requests:
                    try:
                        reply = await _one(session, principal, request, base, created)
                    except Problem as problem:
                        raise _ChangeSetFailed(problem_reply(problem), request.content_id) from None
                    replies.append((reply, request.content_id))
                    _remember(reply, request, created)
        except _ChangeSetFailed as failed:
            replies = [(failed.reply, failed.content_id)]
        results.append((part, replies))
    return results


async def _guarded(
    session: AsyncSession,
    principal: Principal,
    request: SubRequest,
    base: str,
    created: dict[str, tuple[str, int]],
) -> Reply:
    """A request outside a change set: its own savepoint, so a failed deep insert leaves
    nothing behind and the batch goes on."""
    try:
        async with session.begin_nested():
            return await _one(session, principal, request, base, created)
    except Problem as problem:
        return problem_reply(problem)
    except Exception:
        log.exception("batch request %s %s failed", request.method, request.url)
        return problem_reply(
            Problem(
                "Something went wrong on our side; it has been logged.",
                status=500,
                slug="internal-error",
                title="Internal error",
            )
        )


def _http_part(reply: Reply, content_id: str | None) -> str:
    lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id:
        lines.append(f"Content-ID: {content_id}")
    phrase = HTTPStatus(reply.status).phrase
    lines += ["", f"HTTP/1.1 {reply.status} {phrase}"]
    for name, value in reply.headers.items():
        lines.append(f"{name}: {value}")
    content = reply.content()
    if content:
        lines.append(f"Content-Type: {reply.media_type}")
    lines.append("")
    lines.append(content.decode())
    return "\r\n".join(lines)


def render(
    results: list[tuple[SubRequest | ChangeSet, list[tuple[Reply, str | None]]]],
) -> tuple[bytes, str]:
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks = []
    for part, replies in results:
        if isinstance(part, ChangeSet) and not _failed(replies):
            inner_boundary = f"changesetresponse_{uuid.uuid4()}"
            inner = [f"--{inner_boundary}\r\n{_http_part(r, cid)}" for r, cid in replies]
            chunks.append(
                f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={inner_boundary}\r\n\r\n"
                + "\r\n".join(inner)
                + f"\r\n--{inner_boundary}--"
            )
        else:
            for reply, content_id in replies:
                chunks.append(f"--{boundary}\r\n{_http_part(reply, content_id)}")
    body = "\r\n".join(chunks) + f"\r\n--{boundary}--\r\n"
    return body.encode(), f"multipart/mixed; boundary={boundary}"


def _failed(replies: list[tuple[Reply, str | None]]) -> bool:
    return any(r.status >= 400 for r, _cid in replies)
