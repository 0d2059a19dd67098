"""Open311 GeoReport v2 over the 12345 hotline: the category tree's leaves as services, a
client application's report turned into a work order (``service.create_order``, channel
``open311``), the orders received so read back with the richer states mapped onto
``open``/``closed`` plus ``status_notes``, and each step of them as a numbered update.

Every read here is public, as the standard has it, and shows only orders received through
Open311: their reporters posted them to a public interface. Contact details never leave."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cases import contract as cases
from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.security import principal_from_api_key
from smartcity.hotline import service as hotline
from smartcity.hotline.categories import LEAVES, NODES, path_of
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.open311.models import Open311Media, Open311Request, Open311Update
from smartcity.hotline.schemas import PHONE_PATTERN, ReportCreate
from smartcity.hotline.types import KIND_TITLES, KINDS, RATING_TITLES, STATE_TITLES, STEP_TITLES
from smartcity.settings import get_settings

JURISDICTION = "shenzhen.gov.cn"
CHANNEL = "open311"
# The kind of request an Open311 report is when its client does not say (求助).
DEFAULT_KIND = "help"
# The standard's window of a query: 90 days or 1000 records, whichever is smaller.
WINDOW = timedelta(days=90)
PAGE_MAX = 1000
IDS_MAX = 100
CODES_MAX = 50
DESCRIPTION_MAX = 2000  # the work order's own limit (the standard allows up to 4000)
NAME_PART_MAX = 25
EMAIL_MAX = 254
REF_MAX = 100
MEDIA_URL_MAX = 500
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,60}$")
MEDIA_URL = re.compile(r"^https?://[^\s<>\"]{3,490}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9\-]{1,32}$")
CJK = re.compile(r"[\u3400-\u9fff]")
# Photos by their first bytes, never by the declared type or name: JPEG, PNG, GIF, WebP.
IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# What POST takes (the standard's arguments and three's ``media``); anything else is refused.
POST_FIELDS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
        "media",
    }
)
ATTRIBUTE = re.compile(r"^attribute\[([a-z_]{1,32})\](\[\])?$")


class UnsupportedMedia(Problem):
    """A ``media`` upload that is not a JPEG, PNG or GIF image (415)."""

    status, slug, title = 415, "open311-unsupported-media", "Unsupported media type"


def media_limit() -> int:
    return get_settings().open311_media_max_bytes


def check_jurisdiction(jurisdiction_id: str | None) -> None:
    if jurisdiction_id and jurisdiction_id != JURISDICTION:
        raise NotFound(
            _("This endpoint serves the jurisdiction %(id)s only.") % {"id": JURISDICTION},
            slug="open311-unknown-jurisdiction",
        )


# --- services ----------------------------------------------------------------------------


def _english() -> bool:
    from smartcity.core.i18n import current_locale

    return current_locale.get().startswith("en")


def _node_name(code: str) -> str:
    node = NODES[code]
    return node.name_en if _english() else node.name


def services() -> list[dict[str, Any]]:
    """Each leaf of the category tree as a service; its branch path is the description and
    its top-level node the group."""
    found = []
    for code in LEAVES:
        path = path_of(code)
        found.append(
            {
                "service_code": code,
                "service_name": _node_name(code),
                "description": " / ".join(_node_name(n.code) for n in path),
                "metadata": True,
                "type": "realtime",
                "keywords": ", ".join(_node_name(n.code) for n in path[:-1]),
                "group": _node_name(path[0].code),
            }
        )
    return found


def check_service(code: str, *, posted: bool = False) -> None:
    """404 for a service looked up, 400 for one a request or a query names."""
    if code not in LEAVES:
        message = _("There is no service %(code)s; GET services for the list.") % {
            "code": code[:40]
        }
        if posted:
            raise InvalidInput(message, field="service_code", slug="open311-unknown-service")
        raise NotFound(message, slug="open311-unknown-service")


def service_definition(code: str) -> dict[str, Any]:
    """The attributes a service takes: the kind of request (诉求类型), optional."""
    check_service(code)
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "kind",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": _("The kind of request; a request for help if not given."),
                "order": 1,
                "description": _("Kind of request"),
                "values": [{"key": k, "name": _(KIND_TITLES[k])} for k in KINDS],
            }
        ],
    }


# --- the client application --------------------------------------------------------------


async def client_of(session: AsyncSession, api_key: str) -> Principal:
    """The client application whose key this is: an active system account's valid key."""
    refused = Forbidden(
        _("Send the api_key of a registered client application."), slug="open311-api-key"
    )
    if not api_key or len(api_key) > 200:
        raise refused
    try:
        principal = await principal_from_api_key(session, api_key)
    except Problem as exc:
        raise refused from exc
    if principal.kind != "system":
        raise refused
    return principal


# --- posting a request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Media:
    content: bytes
    filename: str


@dataclass(frozen=True)
class Posted:
    order: WorkOrder
    request: Open311Request
    notice: str


def _one(form: Mapping[str, str], name: str, limit: int) -> str:
    value = form.get(name, "").strip()
    if len(value) > limit:
        raise InvalidInput(
            _("%(field)s is longer than %(max)s characters.") % {"field": name, "max": limit},
            field=name,
        )
    return value


def _float(form: Mapping[str, str], name: str) -> float | None:
    value = form.get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(_("%(field)s is not a number.") % {"field": name}, field=name) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(_("%(field)s is not a number.") % {"field": name}, field=name)
    return number


def _attributes(form: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """``attribute[code]`` values; unknown arguments and attributes are refused by name."""
    found: dict[str, str] = {}
    for key in keys:
        if key in POST_FIELDS:
            continue
        match = ATTRIBUTE.match(key)
        if match is None:
            raise InvalidInput(
                _("%(field)s is not an argument of POST requests.") % {"field": key[:40]},
                field=key[:40],
                slug="open311-unknown-argument",
            )
        if match.group(1) != "kind":
            raise InvalidInput(
                _("The service has no attribute %(code)s.") % {"code": match.group(1)},
                field=key,
                slug="open311-unknown-attribute",
            )
        found[match.group(1)] = form.get(key, "").strip()
    return found


def check_media(media: Media) -> str:
    """The photo's type by its first bytes, or 400 empty, 413 too large, 415 not an image."""
    if not media.content:
        raise InvalidInput(_("The media file is empty."), field="media")
    limit = media_limit()
    if len(media.content) > limit:
        raise PayloadTooLarge(
            _("The media file is larger than %(kb)s KB.") % {"kb": limit // 1024},
            field="media",
            max_bytes=limit,
        )
    for magic, content_type in IMAGE_MAGIC:
        if media.content.startswith(magic):
            return content_type
    if media.content[:4] == b"RIFF" and media.content[8:12] == b"WEBP":
        return "image/webp"
    raise UnsupportedMedia(
        _("The media file must be a JPEG, PNG, GIF or WebP image."), field="media"
    )


def contact_name(first: str, last: str) -> str:
    """The caller's name as people write it: 张伟 (family name first) or "Wei Zhang"."""
    if CJK.search(first + last):
        return f"{last}{first}"
    return " ".join(p for p in (first, last) if p)


def _report(
    form: Mapping[str, str], attributes: dict[str, str], name: str, phone: str
) -> ReportCreate:
    code = _one(form, "service_code", 16)
    if not code:
        raise InvalidInput(_("Name the service_code."), field="service_code")
    check_service(code, posted=True)
    lat, lon = _float(form, "lat"), _float(form, "long")
    address = _one(form, "address_string", 200)
    address_id = _one(form, "address_id", 100)
    if (lat is None) != (lon is None):
        raise InvalidInput(
            _("A point needs both lat and long."),
            field="lat" if lat is None else "long",
            slug="open311-location-required",
        )
    if lat is None and not address:
        raise InvalidInput(
            _("Give the location: lat and long, or address_string.")
            if not address_id
            else _("address_id is not known here; give lat and long or address_string."),
            field="lat",
            slug="open311-location-required",
        )
    kind = attributes.get("kind") or DEFAULT_KIND
    if kind not in KINDS:
        raise InvalidInput(
            _("attribute[kind] must be one of %(kinds)s.") % {"kinds": ", ".join(KINDS)},
            field="attribute[kind]",
        )
    description = _one(form, "description", DESCRIPTION_MAX)
    if not description:
        raise InvalidInput(_("Describe the problem in description."), field="description")
    values: dict[str, Any] = {
        "kind": kind,
        "category": code,
        "text": description,
        "place": {"address": address, "lon": lon, "lat": lat},
        "contact_name": name,
    }
    if phone:
        values["contact_phone"] = phone
    try:
        return ReportCreate.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = [str(p) for p in error["loc"]]
        field = {"lon": "long", "text": "description", "contact_phone": "phone"}.get(
            where[-1], where[-1]
        )
        if where[-1] in ("lon", "lat"):
            message = _("The location is outside Shenzhen.")
        else:
            message = _("%(field)s is not valid: %(why)s") % {"field": field, "why": error["msg"]}
        raise InvalidInput(message, field=field) from None


async def post_request(
    session: AsyncSession,
    *,
    api_key: str,
    form: Mapping[str, str],
    keys: Iterable[str],
    media: Media | None,
    citizen: Principal | None,
) -> Posted:
    """A client application's report: checked whole first (key, service, location,
    arguments, media), then the work order, its Open311 row, photo and first update."""
    client = await client_of(session, api_key)
    check_jurisdiction(form.get("jurisdiction_id"))
    attributes = _attributes(form, keys)
    first = _one(form, "first_name", NAME_PART_MAX)
    last = _one(form, "last_name", NAME_PART_MAX)
    email = _one(form, "email", EMAIL_MAX)
    phone = _one(form, "phone", 20)
    if email and not EMAIL.match(email):
        raise InvalidInput(_("email is not an e-mail address."), field="email")
    if phone and not re.match(PHONE_PATTERN, phone):
        raise InvalidInput(_("phone is not a phone number."), field="phone")
    device_id = _one(form, "device_id", REF_MAX)
    account_ref = _one(form, "account_id", REF_MAX)
    media_url = _one(form, "media_url", MEDIA_URL_MAX)
    if media_url and not MEDIA_URL.match(media_url):
        raise InvalidInput(_("media_url is not an http(s) address."), field="media_url")
    name = contact_name(first, last)
    data = _report(form, attributes, name, phone)
    content_type = check_media(media) if media is not None else ""

    order = await hotline.create_order(session, citizen, data, channel=CHANNEL)
    if citizen is None and (name or phone):
        # Contact details given with an anonymous report: the centre calls back on them
        # (回访); the order's pages mask them for the handling department.
        order.caller_name = name[:50]
        order.caller_phone = phone
        order.anonymous = False
    now = clock.now()
    row = Open311Request(
        order_id=order.id,
        token=secrets.token_hex(16),
        client=client.name[:100],
        email=email,
        device_id=device_id,
        account_ref=account_ref,
        media_url=media_url,
        received_at=now,
    )
    session.add(row)
    if media is not None:
        digest = hashlib.sha256(media.content).hexdigest()
        session.add(
            Open311Media(
                id=uuid.uuid4(),
                order_id=order.id,
                content_type=content_type,
                size=len(media.content),
                sha256=digest,
                content=media.content,
                uploaded_at=now,
            )
        )
        case_ = await hotline.order_case(session, order)
        await cases.record_attachment(
            session,
            client,
            case_,
            name="Open311 photo",
            filename=(media.filename or "photo")[-100:],
            sha256=digest,
            size=len(media.content),
        )
    session.add(Open311Update(order_id=order.id, at=now, step="open", state=order.state))
    await session.flush()
    notice = _("Received by the 12345 hotline as %(number)s; handled within %(days)s working days.")
    return Posted(order, row, notice % {"number": order.number, "days": order.limit_days})


# --- the updates (FixMyStreet's servicerequestupdates) -------------------------------------


async def record_update(
    session: AsyncSession, principal: Principal, case_: cases.CaseRecord, step: cases.StepTaken
) -> None:
    """Transition hook: each step of an Open311 request's order becomes a numbered update."""
    order_id = (
        await session.execute(select(WorkOrder.id).where(WorkOrder.case_id == case_.id))
    ).scalar_one_or_none()
    if order_id is None or await session.get(Open311Request, order_id) is None:
        return
    fields = step.fields
    note = " · ".join(
        str(fields[k]) for k in ("reply", "answer", "reason", "comment", "opinion") if fields.get(k)
    )
    session.add(
        Open311Update(
            order_id=order_id,
            at=clock.now(),
            step=step.name[:32],
            state=step.to_state[:32],
            note=note,
            rating=str(fields.get("rating") or "")[:24],
            department_code=str(fields.get("department") or "")[:32],
        )
    )
    await session.flush()


def open_or_closed(state: str) -> str:
    return "closed" if state == "closed" else "open"


def update_description(update: Open311Update, departments: Mapping[str, str]) -> str:
    parts = [_(STEP_TITLES.get(update.step, update.step))]
    if update.department_code:
        parts.append(departments.get(update.department_code, update.department_code))
    if update.rating:
        parts.append(_(RATING_TITLES.get(update.rating, update.rating)))
    if update.note:
        parts.append(update.note)
    return " · ".join(parts)


# --- reading -------------------------------------------------------------------------------


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (``Z`` or an offset; without one, Shenzhen's time), else 400."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            _("%(field)s is not an ISO 8601 time, e.g. 2026-12-01T00:00:00+08:00.")
            % {"field": field},
            field=field,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=clock.CITY_TZ)
    return parsed


def window(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The query's time window: at most 90 days, the last 90 by default."""
    start_at, end_at = parse_time(start, "start_date"), parse_time(end, "end_date")
    if end_at is None:
        end_at = clock.now() if start_at is None else start_at + WINDOW
    if start_at is None:
        start_at = end_at - WINDOW
    if end_at < start_at:
        raise InvalidInput(_("end_date is before start_date."), field="end_date")
    if end_at - start_at > WINDOW:
        raise InvalidInput(_("start_date and end_date may span 90 days at most."), field="end_date")
    return start_at, end_at


def comma_list(value: str | None, field: str, most: int) -> list[str]:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    if len(items) > most:
        raise InvalidInput(
            _("%(field)s lists %(max)s values at most.") % {"field": field, "max": most},
            field=field,
        )
    return items


def _open311_orders() -> Any:
    return select(WorkOrder, Open311Request).join(
        Open311Request, Open311Request.order_id == WorkOrder.id
    )


async def find_requests(
    session: AsyncSession,
    *,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    page_size: int = PAGE_MAX,
    page: int = 1,
) -> list[tuple[WorkOrder, Open311Request]]:
    """The standard's query: ids (overriding the rest), else services, window and status."""
    query = _open311_orders()
    ids = comma_list(service_request_id, "service_request_id", IDS_MAX)
    if ids:
        for one in ids:
            if not REQUEST_ID.match(one):
                raise InvalidInput(
                    _("%(id)s is not a service_request_id.") % {"id": one[:40]},
                    field="service_request_id",
                )
        query = query.where(WorkOrder.number.in_(ids))
    else:
        codes = comma_list(service_code, "service_code", CODES_MAX)
        for code in codes:
            check_service(code, posted=True)
        if codes:
            query = query.where(WorkOrder.category_code.in_(codes))
        start_at, end_at = window(start_date, end_date)
        query = query.where(WorkOrder.received_at.between(start_at, end_at))
        statuses = set(comma_list(status, "status", 2))
        if statuses - {"open", "closed"}:
            raise InvalidInput(_("status is open, closed or both."), field="status")
        if statuses == {"open"}:
            query = query.where(WorkOrder.state != "closed")
        elif statuses == {"closed"}:
            query = query.where(WorkOrder.state == "closed")
    query = (
        query.order_by(WorkOrder.received_at.desc(), WorkOrder.number.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    return [(o, r) for o, r in (await session.execute(query)).all()]


async def one_request(session: AsyncSession, number: str) -> tuple[WorkOrder, Open311Request]:
    found = None
    if REQUEST_ID.match(number):
        found = (await session.execute(_open311_orders().where(WorkOrder.number == number))).first()
    if found is None:
        raise NotFound(
            _("There is no service request %(id)s.") % {"id": number[:40]},
            slug="open311-unknown-request",
        )
    return found[0], found[1]


async def by_token(session: AsyncSession, token: str) -> tuple[WorkOrder, Open311Request]:
    found = None
    if re.fullmatch(r"[0-9a-f]{32}", token):
        found = (
            await session.execute(_open311_orders().where(Open311Request.token == token))
        ).first()
    if found is None:
        raise NotFound(_("There is no such token."), slug="open311-unknown-token")
    return found[0], found[1]


async def departments(session: AsyncSession) -> dict[str, str]:
    names = await hotline.department_names(session)
    return {code: (en or zh) if _english() else zh for code, (zh, en) in names.items()}


def city_time(instant: datetime | None) -> str | None:
    """ISO 8601 in Shenzhen's time (+08:00), to the second."""
    if instant is None:
        return None
    return clock.to_city(instant).replace(microsecond=0).isoformat()


def status_notes(order: WorkOrder) -> str:
    notes = _(STATE_TITLES.get(order.state, order.state))
    if order.state == "reworking":
        notes += " (" + _("re-handling %(n)s") % {"n": order.reworks} + ")"
    if order.reply and order.state in ("replied", "closed"):
        notes += ": " + order.reply
    return notes


async def describe(
    session: AsyncSession, found: list[tuple[WorkOrder, Open311Request]], base_url: str
) -> list[dict[str, Any]]:
    """The standard's request records of these orders, in three queries whatever their count."""
    ids = [o.id for o, _r in found]
    if not ids:
        return []
    updated = dict(
        (
            await session.execute(
                select(Open311Update.order_id, func.max(Open311Update.at))
                .where(Open311Update.order_id.in_(ids))
                .group_by(Open311Update.order_id)
            )
        ).all()
    )
    photos = dict(
        (
            await session.execute(
                select(Open311Media.order_id, Open311Media.id).where(Open311Media.order_id.in_(ids))
            )
        ).all()
    )
    case_rows = await cases.cases_by_id(session, [o.case_id for o, _r in found])
    names = await departments(session)
    records = []
    for order, row in found:
        case_ = case_rows.get(order.case_id)
        agency = order.handling_department_code or order.department_code
        photo = photos.get(order.id)
        records.append(
            {
                "service_request_id": order.number,
                "status": open_or_closed(order.state),
                "status_notes": status_notes(order),
                "service_name": _node_name(order.category_code)
                if order.category_code in NODES
                else order.category_code,
                "service_code": order.category_code,
                "description": order.text,
                "agency_responsible": names.get(agency, agency),
                "service_notice": "",
                "requested_datetime": city_time(order.received_at),
                "updated_datetime": city_time(updated.get(order.id) or order.received_at),
                "expected_datetime": city_time(case_.statutory_due_at if case_ else None),
                "address": order.address,
                "address_id": "",
                "zipcode": "",
                "lat": order.lat,
                "long": order.lon,
                "media_url": f"{base_url}open311/v2/media/{photo}" if photo else row.media_url,
            }
        )
    return records


async def updates(
    session: AsyncSession,
    *,
    start_date: str | None,
    end_date: str | None,
    page_size: int = PAGE_MAX,
) -> list[dict[str, Any]]:
    """Updates of Open311 requests in the window, oldest first (FixMyStreet's extension)."""
    start_at, end_at = window(start_date, end_date)
    rows = (
        await session.execute(
            select(Open311Update, WorkOrder.number)
            .join(WorkOrder, WorkOrder.id == Open311Update.order_id)
            .where(Open311Update.at.between(start_at, end_at))
            .order_by(Open311Update.id)
            .limit(page_size)
        )
    ).all()
    names = await departments(session)
    return [
        {
            "update_id": str(update.id),
            "service_request_id": number,
            "status": open_or_closed(update.state),
            "updated_datetime": city_time(update.at),
            "description": update_description(update, names),
            "media_url": "",
        }
        for update, number in rows
    ]


async def photo(session: AsyncSession, media_id: uuid.UUID) -> Open311Media:
    found = await session.get(Open311Media, media_id)
    if found is None:
        raise NotFound(_("There is no such photo."), slug="open311-unknown-media")
    return found
