"""Reads through the exchange with X-Road-style evidence (交换留痕), and the message log.

Every call carries the consumer's identity, an optional end user and the 办件号 (X-Road-Issue);
the answer is signed by the platform and bound to the request by ``X-Road-Request-Hash``; both
go to the exchange message log, hash-chained like the audit trail (core.chain, chain 2), so a
department can later prove what it was given and when.

The request hash (docs/exchange.md shows a worked example)::

    headers = "\\n".join([METHOD, PATH,
                         "x-road-client:" + client, "x-road-userid:" + user_id,
                         "x-road-issue:" + issue, "x-road-id:" + message_id]) + "\\n"
    X-Road-Request-Hash = base64(SHA-512(SHA-512(headers) || SHA-512(body)))

with METHOD upper case, PATH the URL path without query string, absent headers as empty
values, ``message_id`` the X-Road-Id the answer carries (the caller's, or the generated one)
and ``body`` the request body bytes exactly as sent: X-Road's own construction
(SHA-512 over the digests of headers and body).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import chain, clock, signatures, signing
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.models import Department
from smartcity.exchange import grants, service
from smartcity.exchange.models import ExchangeMessage, Grant, Resource
from smartcity.exchange.schemas import ExchangeQuery
from smartcity.registry import contract as registry
from smartcity.settings import get_settings

SIGNATURE_ALGORITHM = signing.SM2
MAX_STATS_DAYS = 366


@dataclass(frozen=True)
class CallHeaders:
    """The X-Road headers of a call, as sent (empty when absent)."""

    client: str = ""
    user_id: str = ""
    issue: str = ""
    message_id: str = ""


def b64_sha512(data: bytes) -> str:
    return base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def request_hash(method: str, path: str, call: CallHeaders, message_id: str, body: bytes) -> str:
    """X-Road-Request-Hash: base64 SHA-512 over the digests of the headers and the body."""
    headers = (
        "\n".join(
            [
                method.upper(),
                path,
                f"x-road-client:{call.client}",
                f"x-road-userid:{call.user_id}",
                f"x-road-issue:{call.issue}",
                f"x-road-id:{message_id}",
            ]
        )
        + "\n"
    ).encode("utf-8")
    digest = hashlib.sha512(hashlib.sha512(headers).digest() + hashlib.sha512(body).digest())
    return base64.b64encode(digest.digest()).decode("ascii")


def entry_hash(message: ExchangeMessage) -> str:
    """The hash of a log entry over everything it records, including the previous hash."""
    body = {
        "seq": message.seq,
        "message_id": str(message.message_id),
        "at": message.at.isoformat(),
        "grant_id": str(message.grant_id) if message.grant_id else None,
        "resource_id": str(message.resource_id),
        "consumer_department_id": (
            str(message.consumer_department_id) if message.consumer_department_id else None
        ),
        "consumer": message.consumer,
        "end_user": message.end_user,
        "case_number": message.case_number,
        "purpose": message.purpose,
        "query": message.query,
        "fields": message.fields,
        "record_ids": message.record_ids,
        "outcome": message.outcome,
        "request_hash": message.request_hash,
        "response_hash": message.response_hash,
        "signature": message.signature,
        "prev_hash": message.prev_hash,
    }
    return chain.canonical_hash(body)


def intact(message: ExchangeMessage) -> bool:
    """Whether one entry still matches its own hash (the full check is ``verify_log``)."""
    return entry_hash(message) == message.hash


@dataclass
class ExchangeAnswer:
    """What the API sends back: the logged message, status, body bytes and headers."""

    message: ExchangeMessage
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


async def _sign(session: AsyncSession, body: bytes) -> str:
    # Signed with the platform's key directly rather than through signatures.sign_document:
    # this log is the record of the signing (X-Road keeps its message log apart from the
    # audit log), and an audit entry per read would double every call's chained writes.
    key = await signatures.active_key(session, SIGNATURE_ALGORITHM)
    detached = signing.sign_document(
        SIGNATURE_ALGORITHM,
        key.private_key_enc,
        key.public_key_pem,
        get_settings().resolved_secret(),
        body,
        clock.now(),
    )
    return detached.to_json()


async def _registry_read(
    session: AsyncSession,
    principal: Principal,
    resource: Resource,
    *,
    query: ExchangeQuery,
    fields: list[str],
    case_number: str,
    grant: Grant,
) -> list[dict[str, Any]]:
    return await registry.exchange_read(
        session,
        principal,
        record_type=resource.source_registry,
        filters=dict(query.filters),
        # Each record carries its registry id besides the granted fields: the consumer needs
        # it to refer back, and the message log names the records disclosed.
        fields=["id", *fields],
        purpose=query.purpose or grant.purpose,
        case_number=case_number,
        # The person is told which grant (共享授权) the read was made under.
        grant_name=grants.grant_label(resource),
        limit=query.limit,
    )


def _refusal(reason: str, resource: Resource) -> Forbidden:
    messages = {
        "no-grant": _("Your department holds no grant for {code}; request one in the catalog."),
        "expired": _("Your department's grant for {code} has expired; request it again."),
        "revoked": _("Your department's grant for {code} was revoked by the publisher."),
        "not-approved": _("Your department's request for {code} has not been approved yet."),
        "refused": _("Your department's request for {code} was refused by the publisher."),
        "not-shared": _("{code} is classed 不予共享 (not shared) and cannot be read."),
        "withdrawn": _("{code} has been withdrawn from the catalog."),
    }
    return Forbidden(
        messages[reason].format(code=resource.code), slug=f"exchange-{reason}", reason=reason
    )


def _check_headers(call: CallHeaders) -> str:
    if len(call.issue) > 64:
        raise InvalidInput(
            _("X-Road-Issue (the case number) is at most 64 characters."), field="X-Road-Issue"
        )
    if len(call.user_id) > 100:
        raise InvalidInput(_("X-Road-UserId is at most 100 characters."), field="X-Road-UserId")
    if not call.message_id:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(call.message_id))
    except ValueError as exc:
        raise InvalidInput(_("X-Road-Id must be a UUID."), field="X-Road-Id") from exc


async def query_resource(
    session: AsyncSession,
    principal: Principal,
    code: str,
    query: ExchangeQuery,
    *,
    call: CallHeaders,
    method: str,
    path: str,
    body: bytes,
) -> ExchangeAnswer:
    """Read a resource through the exchange (共享调用): refused calls are answered (and
    logged), not raised, so the log entry commits with the request."""
    authorize(principal, "exchange.resource.query")
    resource = await service.get_resource(session, principal, code)
    message_id = _check_headers(call)
    if call.message_id:
        # Only a caller's own id can repeat; a generated uuid4 cannot.
        used = await session.execute(
            select(ExchangeMessage.seq).where(ExchangeMessage.message_id == uuid.UUID(message_id))
        )
        if used.first() is not None:
            raise Conflict(
                _("X-Road-Id {id} was already used; send a new message id.").format(id=message_id),
                field="X-Road-Id",
            )
    req_hash = request_hash(method, path, call, message_id, body)
    now = clock.now()
    check = await grants.grant_in_force(session, resource, principal.department_id)
    problem: Problem | None = None
    fields: list[str] = []
    rows: list[dict[str, Any]] = []
    if not resource.active:
        problem = _refusal("withdrawn", resource)
    elif resource.sharing_class == "none":
        problem = _refusal("not-shared", resource)
    elif check.grant is None:
        problem = _refusal(check.reason, resource)
    else:
        granted = grants.effective_fields(check.grant, resource)
        fields = list(dict.fromkeys(query.fields)) if query.fields else granted
        beyond = [f for f in fields if f not in granted]
        if beyond:
            problem = Forbidden(
                _("These fields are not in your department's grant: {names}.").format(
                    names=", ".join(beyond)
                ),
                slug="exchange-fields-not-granted",
                reason="fields-not-granted",
                fields=beyond,
            )
        elif not resource.source_registry:
            problem = Conflict(
                _("{code} is not backed by a registry; it has no rows to read yet.").format(
                    code=resource.code
                ),
                slug="exchange-no-data",
            )
    if problem is None:
        assert check.grant is not None  # no problem means a grant in force
        try:
            async with session.begin_nested():
                rows = await _registry_read(
                    session,
                    principal,
                    resource,
                    query=query,
                    fields=fields,
                    case_number=call.issue,
                    grant=check.grant,
                )
        except Problem as exc:
            problem = exc
    if problem is None:
        answer: dict[str, Any] = {
            "message_id": message_id,
            "resource": resource.code,
            "at": now.isoformat(),
            "purpose": query.purpose,
            "case_number": call.issue,
            "fields": fields,
            "count": len(rows),
            "records": rows,
            "request_hash": req_hash,
        }
        response_body = orjson.dumps(answer)
        signature = await _sign(session, response_body)
        status, media_type = 200, "application/json"
    else:
        response_body = orjson.dumps(problem.body(path))
        signature = ""
        status, media_type = problem.status, "application/problem+json"
    logged_query: dict[str, Any] = {
        "filters": dict(query.filters),
        "fields": query.fields,
        "limit": query.limit,
        "client": call.client,
        "method": method.upper(),
        "path": path,
    }
    if problem is not None:
        logged_query["refusal"] = {"status": problem.status, "type": problem.type}
    message = await _append(
        session,
        message_id=uuid.UUID(message_id),
        at=now,
        grant_id=check.grant.id if check.grant and problem is None else None,
        resource=resource,
        principal=principal,
        call=call,
        purpose=query.purpose,
        query=logged_query,
        fields=fields if problem is None else [],
        record_ids=[str(r["id"]) for r in rows if r.get("id") is not None],
        outcome="answered" if problem is None else "refused",
        request_hash=req_hash,
        response_hash=b64_sha512(response_body),
        signature=signature,
    )
    publisher = await session.get(Department, resource.publisher_department_id)
    headers = {
        "X-Road-Id": message_id,
        "X-Road-Request-Hash": req_hash,
        "X-Road-Service": f"smartcity/{publisher.code if publisher else ''}/{resource.code}",
        "X-Smartcity-Message-Seq": str(message.seq),
    }
    if call.client:
        headers["X-Road-Client"] = call.client
    if signature:
        headers["X-Smartcity-Signature"] = base64.b64encode(signature.encode()).decode("ascii")
    return ExchangeAnswer(message, status, response_body, headers, media_type)


async def _append(
    session: AsyncSession,
    *,
    message_id: uuid.UUID,
    at: datetime,
    grant_id: uuid.UUID | None,
    resource: Resource,
    principal: Principal,
    call: CallHeaders,
    purpose: str,
    query: dict[str, Any],
    fields: list[str],
    record_ids: list[str],
    outcome: str,
    request_hash: str,
    response_hash: str,
    signature: str,
) -> ExchangeMessage:
    # Last step of the call: the chain's lock is held from here to the commit only.
    head = await chain.head_for_append(session, chain.EXCHANGE)
    prev_seq, prev_hash = (head.seq, head.hash) if head else (0, chain.GENESIS)
    message = ExchangeMessage(
        seq=prev_seq + 1,
        message_id=message_id,
        at=at,
        grant_id=grant_id,
        resource_id=resource.id,
        consumer_department_id=principal.department_id,
        consumer=principal.name[:100],
        end_user=call.user_id,
        case_number=call.issue,
        purpose=purpose,
        query=query,
        fields=fields,
        record_ids=record_ids,
        outcome=outcome,
        request_hash=request_hash,
        response_hash=response_hash,
        signature=signature,
        prev_hash=prev_hash,
    )
    message.hash = entry_hash(message)
    session.add(message)
    chain.advance(
        session, head, get_settings().resolved_secret(), chain.EXCHANGE, message.seq, message.hash
    )
    await session.flush()
    return message


# --- the message log ---------------------------------------------------------------------


def readable_messages(principal: Principal) -> Select[ExchangeMessage]:
    """A department sees the calls it made and the calls made to the resources it publishes."""
    query = select(ExchangeMessage).order_by(ExchangeMessage.seq.desc())
    if principal.is_("admin", "auditor"):
        return query
    if principal.department_id is None:
        return query.where(false())
    published = select(Resource.id).where(
        Resource.publisher_department_id == principal.department_id
    )
    return query.where(
        or_(
            ExchangeMessage.consumer_department_id == principal.department_id,
            ExchangeMessage.resource_id.in_(published),
        )
    )


async def list_messages(
    session: AsyncSession,
    principal: Principal,
    *,
    direction: str | None = None,
    resource: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[ExchangeMessage]:
    """Newest first; ``direction`` incoming (calls to my resources) or outgoing (my calls)."""
    query = readable_messages(principal)
    if direction == "outgoing":
        query = query.where(ExchangeMessage.consumer_department_id == principal.department_id)
    elif direction == "incoming":
        query = query.where(
            ExchangeMessage.resource_id.in_(
                select(Resource.id).where(
                    Resource.publisher_department_id == principal.department_id
                )
            )
        )
    if resource:
        query = query.where(
            ExchangeMessage.resource_id.in_(select(Resource.id).where(Resource.code == resource))
        )
    if before:
        query = query.where(ExchangeMessage.seq < before)
    return list((await session.execute(query.limit(limit))).scalars().all())


async def get_message(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID
) -> ExchangeMessage:
    found = (
        await session.execute(
            readable_messages(principal).where(ExchangeMessage.message_id == message_id)
        )
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(_("There is no exchange message {id}.").format(id=message_id))
    return found


async def _links(session: AsyncSession, batch: int = 5000) -> AsyncIterator[chain.Link]:
    last = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(ExchangeMessage)
                    .where(ExchangeMessage.seq > last)
                    .order_by(ExchangeMessage.seq)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield chain.Link(row.seq, row.prev_hash, row.hash, entry_hash(row))
            session.expunge(row)
        last = rows[-1].seq


async def verify_chain(session: AsyncSession) -> chain.Verdict:
    """Walk the whole message log; the first entry that does not fit is the one named."""
    return await chain.verify(
        session, get_settings().resolved_secret(), chain.EXCHANGE, _links(session)
    )


async def verify_log(session: AsyncSession, principal: Principal) -> chain.Verdict:
    """Verify the exchange message log (auditors and administrators)."""
    authorize(principal, "exchange.log.verify")
    return await verify_chain(session)


# --- access statistics (访问统计) ----------------------------------------------------------


@dataclass
class Stat:
    day: date
    resource: str
    consumer: str
    calls: int = 0
    answered: int = 0
    refused: int = 0
    records: int = 0


async def access_stats(
    session: AsyncSession,
    principal: Principal,
    *,
    days: int = 30,
    resource: str | None = None,
) -> list[Stat]:
    """Calls per day (city time), resource and consumer department, with records returned."""
    if not 1 <= days <= MAX_STATS_DAYS:
        raise InvalidInput(
            _("Choose between 1 and {max} days.").format(max=MAX_STATS_DAYS), field="days"
        )
    since = clock.now() - timedelta(days=days)
    query = (
        readable_messages(principal)
        .order_by(None)
        .where(ExchangeMessage.at >= since)
        .with_only_columns(
            ExchangeMessage.at,
            ExchangeMessage.resource_id,
            ExchangeMessage.consumer_department_id,
            ExchangeMessage.outcome,
            ExchangeMessage.record_ids,
        )
    )
    if resource:
        query = query.where(
            ExchangeMessage.resource_id.in_(select(Resource.id).where(Resource.code == resource))
        )
    codes = {r.id: r.code for r in (await session.execute(select(Resource))).scalars().all()}
    departments = await service.departments_by_id(session)
    table: dict[tuple[date, str, str], Stat] = defaultdict(lambda: Stat(date.min, "", ""))
    result = await session.stream(query.execution_options(yield_per=2000))
    async for at, resource_id, consumer_id, outcome, record_ids in result:
        day = clock.to_city(at).date()
        consumer = departments[consumer_id].code if consumer_id in departments else ""
        key = (day, codes.get(resource_id, ""), consumer)
        stat = table[key]
        stat.day, stat.resource, stat.consumer = key
        stat.calls += 1
        if outcome == "answered":
            stat.answered += 1
            stat.records += len(record_ids or [])
        else:
            stat.refused += 1
    return sorted(table.values(), key=lambda s: (-s.day.toordinal(), s.resource, s.consumer))


def signature_of(message: ExchangeMessage) -> dict[str, Any] | None:
    """The detached signature of an answered call, parsed (None for refusals)."""
    if not message.signature:
        return None
    parsed: dict[str, Any] = orjson.loads(message.signature)
    return parsed
