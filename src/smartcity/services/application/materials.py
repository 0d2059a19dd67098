"""The application's materials (申请材料): files checked by their first bytes and size, stored
with their SHA-256, handed in to a draft or during 补正, removed from a draft, and read back
by those who may."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import PurePosixPath
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from smartcity.cases import contract as cases
from smartcity.cases.contract import CaseRecord
from smartcity.core import audit, clock
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.text import CONTROLS_IN_NAME
from smartcity.services.application.access import (
    APPLICANTS,
    case_awaiting_supplement,
    get_application,
    item_of,
    own_application,
    own_draft,
    readable_materials,
)
from smartcity.services.application.prefill import registry_record
from smartcity.services.models import Material

# One uploaded file at most (a module constant, so tests lower it); the request size limit
# of the app (settings.max_request_bytes) must leave room for it and the form around it.
MAX_MATERIAL_BYTES = 10 * 1024 * 1024
MAX_FILES = 50
FILENAME_MAX = 255
# What a file handed in during 补正 is called when it is none of the item's materials.
SUPPLEMENT_MATERIAL = "补正材料"

# Accepted materials by their first bytes (magic numbers), never by the declared type or the
# file name: PDF, JPEG, PNG.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


class UnsupportedMaterial(Problem):
    """An upload that is not a PDF, JPEG or PNG file (415)."""

    status, slug, title = 415, "unsupported-media-type", "Unsupported file type"


class Upload(Protocol):
    """What the API and the pages hand over: Starlette's UploadFile."""

    filename: str | None

    async def read(self, size: int = -1) -> bytes: ...


async def read_upload(upload: Upload) -> bytes:
    """The upload's bytes, read only one byte past the limit so a huge file costs nothing."""
    return await upload.read(MAX_MATERIAL_BYTES + 1)


def detect_type(content: bytes) -> str | None:
    """The content type the file's first bytes prove, or None."""
    for magic, content_type in _MAGIC:
        if content.startswith(magic):
            return content_type
    return None


def _safe_filename(filename: str | None, content_type: str) -> str:
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = CONTROLS_IN_NAME.sub("", name).strip().strip(".") or "material"
    if len(name) > FILENAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: FILENAME_MAX - len(ext) - 1] + dot + ext) if dot else name[:FILENAME_MAX]
    if "." not in name:
        name += EXTENSIONS[content_type]
    return name


def check_file(content: bytes) -> str:
    """The file's content type, or the problem with it: empty 422, over the limit 413, not a
    PDF, JPEG or PNG 415 (each naming the field ``file``)."""
    if not content:
        raise InvalidInput(_("The file is empty."), field="file")
    if len(content) > MAX_MATERIAL_BYTES:
        raise PayloadTooLarge(
            _("The file is larger than %(size)s; scan it at a lower resolution or split it.")
            % {"size": size_in_words(MAX_MATERIAL_BYTES)},
            field="file",
            max_bytes=MAX_MATERIAL_BYTES,
        )
    content_type = detect_type(content)
    if content_type is None:
        raise UnsupportedMaterial(
            _("Only PDF, JPEG and PNG files are accepted, and this file is none of them."),
            field="file",
            accepted=sorted(EXTENSIONS),
        )
    return content_type


def size_in_words(size: int) -> str:
    """A size as people read it: 10 MB, 512 KB, 64 bytes."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    if size >= 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size} bytes"


async def upload_material(
    session: AsyncSession,
    principal: Principal,
    application_id: uuid.UUID,
    *,
    name: str,
    filename: str | None,
    content: bytes,
) -> Material:
    """Hand in one file for one of the item's materials: to a draft, or during 补正 to the
    submitted application (then marked as a supplement and put on the case's timeline)."""
    application = await get_application(session, principal, application_id)
    name = (name or "").strip()
    case_: CaseRecord | None = None
    if application.status == "draft":
        application, item = await own_draft(session, principal, application_id)
        state = next((m for m in item.materials if m["name"] == name), None)
        if state is None:
            raise InvalidInput(
                _("%(item)s asks for no material called %(name)s.")
                % {"item": item.name, "name": name},
                field="name",
            )
        record = await registry_record(session, principal, item)
        if record.provides(state.get("from_registry")) is not None:
            raise InvalidInput(
                _("%(name)s comes from the city's records; there is nothing to upload.")
                % {"name": name},
                field="name",
            )
    else:
        application = await own_application(
            session, principal, application_id, "services.application.supplement"
        )
        item = await item_of(session, application)
        case_ = await case_awaiting_supplement(session, principal, application)
        if name not in {m["name"] for m in item.materials} | {SUPPLEMENT_MATERIAL}:
            raise InvalidInput(
                _("Choose one of the materials of %(item)s, or %(other)s.")
                % {"item": item.name, "other": SUPPLEMENT_MATERIAL},
                field="name",
            )
    content_type = check_file(content)
    count = (
        await session.execute(
            select(func.count())
            .select_from(Material)
            .where(Material.application_id == application.id, Material.withdrawn_at.is_(None))
        )
    ).scalar_one()
    if count >= MAX_FILES:
        raise Conflict(
            _("An application holds at most %(n)s files.") % {"n": MAX_FILES}, field="file"
        )
    material = Material(
        id=uuid.uuid4(),
        application_id=application.id,
        name=name,
        filename=_safe_filename(filename, content_type),
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_at=clock.now(),
        uploaded_by=principal.name[:100],
        supplement=case_ is not None,
    )
    session.add(material)
    await session.flush()
    if case_ is not None:
        await cases.record_attachment(
            session,
            principal,
            case_,
            name=name,
            filename=material.filename,
            sha256=material.sha256,
            size=material.size,
        )
    await audit.log(
        session,
        principal,
        "services.material.uploaded",
        str(material.id),
        application=str(application.id),
        name=name,
        sha256=material.sha256,
        size=material.size,
        supplement=material.supplement,
    )
    return material


async def remove_material(
    session: AsyncSession,
    principal: Principal,
    material_id: uuid.UUID,
    *,
    application_id: uuid.UUID | None = None,
) -> None:
    """Remove an uploaded file from a draft; what was handed in with a submission stays."""
    material = (
        await session.execute(
            readable_materials(principal)
            .where(Material.id == material_id)
            .options(defer(Material.content))
        )
    ).scalar_one_or_none()
    if material is None or application_id not in (None, material.application_id):
        raise NotFound(_("There is no such material."))
    await own_draft(session, principal, material.application_id)
    await session.delete(material)
    await session.flush()
    await audit.log(
        session,
        principal,
        "services.material.removed",
        str(material_id),
        application=str(material.application_id),
        name=material.name,
    )


async def get_material(
    session: AsyncSession, principal: Principal, material_id: uuid.UUID
) -> Material:
    """A file with its content, for the applicant, staff of the case's department and
    supervisors; anyone else 404. Each download by someone else than the uploader is audited."""
    material = (
        await session.execute(readable_materials(principal).where(Material.id == material_id))
    ).scalar_one_or_none()
    if material is None:
        raise NotFound(_("There is no such material."))
    if principal.kind not in APPLICANTS:
        await audit.log(
            session,
            principal,
            "services.material.downloaded",
            str(material.id),
            application=str(material.application_id),
            sha256=material.sha256,
        )
    return material
