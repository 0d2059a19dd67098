"""REST API of the foundation: tokens, the caller, departments, accounts, API keys, audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile, status
from fastapi.responses import JSONResponse, Response
from fastapi.security import OAuth2PasswordBearer
from pydantic import AwareDatetime

from smartcity.core import accounts, audit, signatures, workdays
from smartcity.core.accounts import SignIn
from smartcity.core.authz import Principal, authorize
from smartcity.core.errors import InvalidInput, Problem, Unauthenticated, problem_response
from smartcity.core.ratelimit import client_ip, limit_public
from smartcity.core.schemas import (
    AccountCreate,
    AccountCreated,
    AccountPage,
    AccountRead,
    AccountUpdate,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuditEntryRead,
    AuditVerdictRead,
    CalendarDayRead,
    CalendarYearEnter,
    CalendarYearRead,
    DeadlineRead,
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    Me,
    MonthWorkdaysRead,
    PasswordChange,
    SignatureRead,
    SigningKeyRead,
    TokenRead,
    VerificationRead,
)
from smartcity.core.security import (
    AdminPrincipal,
    AnyPrincipal,
    AuditorPrincipal,
    issue_access_token,
    public,
    require_principal,
)
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.settings import get_settings

# The bearer scheme is declared so /docs offers "Authorize"; require_principal does the work.
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)
router = APIRouter(prefix="/api/v1", route_class=UnitOfWorkRoute, dependencies=[Depends(oauth2)])

AccountManager = Annotated[Principal, Depends(require_principal("admin", "security"))]
DepartmentAdmin = Annotated[Principal, Depends(require_principal("admin"))]
Person = Annotated[
    Principal, Depends(require_principal("citizen", "enterprise", "staff", "supervisor", "admin"))
]


@router.post(
    "/auth/token",
    response_model=TokenRead,
    tags=["auth"],
    dependencies=[Depends(public), Depends(limit_public)],
    responses={401: {"description": "Wrong credentials, or a TOTP code is needed"}},
)
async def token(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    grant_type: Annotated[str, Form(pattern="^password$")] = "password",
    totp: Annotated[
        str | None, Form(description="Six-digit code; required for staff, supervisors and admins")
    ] = None,
) -> Response:
    """OAuth2 password flow for people. Staff, supervisors and admins add ``totp``."""
    ip = client_ip(request)
    result = await accounts.sign_in(session, username, password, totp=totp, ip=ip)
    # Answered, not raised: the failure count and the audit entry must be committed.
    if result.outcome == SignIn.locked:
        assert result.locked_until is not None
        return problem_response(
            Problem(
                f"The account is locked after repeated failures until "
                f"{result.locked_until.isoformat()}.",
                status=401,
                slug="account-locked",
                title="Account locked",
                locked_until=result.locked_until.isoformat(),
            )
        )
    if result.outcome == SignIn.failed:
        return problem_response(
            Unauthenticated("Wrong user name or password.", slug="wrong-credentials")
        )
    if result.outcome == SignIn.need_totp:
        return problem_response(
            Unauthenticated(
                "This account signs in with a second factor: add the six-digit code as 'totp'.",
                slug="totp-required",
            )
        )
    if result.outcome == SignIn.need_enrolment:
        return problem_response(
            Unauthenticated(
                "This account must set up two-factor sign-in on the web page /login first.",
                slug="totp-enrolment-required",
            )
        )
    assert result.account is not None
    amr = ["pwd", "otp"] if result.account.totp_enabled else ["pwd"]
    settings = get_settings()
    body = TokenRead(
        access_token=issue_access_token(settings, result.account, amr=amr),
        expires_in=settings.access_token_minutes * 60,
    )
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store"})


@router.get("/me", response_model=Me, tags=["auth"])
async def me(principal: AnyPrincipal) -> Me:
    """Who the platform thinks you are."""
    return Me(
        id=principal.id,
        username=principal.name,
        kind=principal.kind,
        department_id=principal.department_id,
        roles=sorted(principal.roles),
        via=principal.via,
    )


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
async def change_my_password(
    request: Request, session: DbSession, principal: Person, data: PasswordChange
) -> None:
    await accounts.change_password(
        session,
        principal,
        current=data.current_password,
        new=data.new_password,
        ip=client_ip(request),
    )


@router.get("/departments", response_model=list[DepartmentRead], tags=["departments"])
async def list_departments(session: DbSession, principal: AnyPrincipal) -> list[DepartmentRead]:
    rows = (await session.execute(accounts.readable_departments())).scalars().all()
    return [DepartmentRead.model_validate(row) for row in rows]


@router.post("/departments", response_model=DepartmentRead, status_code=201, tags=["departments"])
async def create_department(
    session: DbSession, principal: DepartmentAdmin, data: DepartmentCreate
) -> DepartmentRead:
    return DepartmentRead.model_validate(await accounts.create_department(session, principal, data))


@router.patch("/departments/{code}", response_model=DepartmentRead, tags=["departments"])
async def update_department(
    session: DbSession, principal: DepartmentAdmin, code: str, data: DepartmentUpdate
) -> DepartmentRead:
    return DepartmentRead.model_validate(
        await accounts.update_department(session, principal, code, data)
    )


@router.get("/accounts", response_model=AccountPage, tags=["accounts"])
async def list_accounts(
    session: DbSession,
    principal: AccountManager,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AccountPage:
    rows, total = await accounts.list_accounts(
        session, principal, kind=kind, limit=limit, offset=offset
    )
    return AccountPage(items=[AccountRead.model_validate(r) for r in rows], total=total)


@router.post("/accounts", response_model=AccountCreated, status_code=201, tags=["accounts"])
async def create_account(
    session: DbSession, principal: AccountManager, data: AccountCreate
) -> AccountCreated:
    account, generated = await accounts.create_account(session, principal, data)
    return AccountCreated.model_validate(
        {**AccountRead.model_validate(account).model_dump(), "initial_password": generated}
    )


@router.get("/accounts/{username}", response_model=AccountRead, tags=["accounts"])
async def get_account(session: DbSession, principal: AccountManager, username: str) -> AccountRead:
    return AccountRead.model_validate(await accounts.get_account(session, principal, username))


@router.patch("/accounts/{username}", response_model=AccountRead, tags=["accounts"])
async def update_account(
    session: DbSession, principal: AccountManager, username: str, data: AccountUpdate
) -> AccountRead:
    return AccountRead.model_validate(
        await accounts.update_account(session, principal, username, data)
    )


@router.post("/accounts/{username}/reset-password", tags=["accounts"])
async def reset_password(
    session: DbSession, principal: AccountManager, username: str
) -> dict[str, str]:
    """A new password, shown once; the account must change it at its next sign-in."""
    return {"password": await accounts.reset_password(session, principal, username)}


@router.get("/api-keys", response_model=list[ApiKeyRead], tags=["api keys"])
async def list_api_keys(session: DbSession, principal: AccountManager) -> list[ApiKeyRead]:
    rows = (await session.execute(accounts.readable_api_keys(principal))).scalars().all()
    return [ApiKeyRead.model_validate(r) for r in rows]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["api keys"])
async def issue_api_key(
    session: DbSession, principal: AccountManager, data: ApiKeyCreate
) -> ApiKeyCreated:
    row, key = await accounts.issue_api_key(
        session, principal, username=data.account, name=data.name, expires_at=data.expires_at
    )
    return ApiKeyCreated.model_validate({**ApiKeyRead.model_validate(row).model_dump(), "key": key})


@router.delete("/api-keys/{prefix}", response_model=ApiKeyRead, tags=["api keys"])
async def revoke_api_key(session: DbSession, principal: AccountManager, prefix: str) -> ApiKeyRead:
    return ApiKeyRead.model_validate(await accounts.revoke_api_key(session, principal, prefix))


@router.get("/audit/verify", response_model=AuditVerdictRead, tags=["audit"])
async def verify_audit(session: DbSession, principal: AuditorPrincipal) -> AuditVerdictRead:
    """Recompute the hash chain and name the first broken entry, if any."""
    authorize(principal, "core.audit.read")
    verdict = await audit.verify(session, get_settings().resolved_secret())
    return AuditVerdictRead(**verdict.__dict__)


@router.get("/audit/entries", response_model=list[AuditEntryRead], tags=["audit"])
async def audit_entries(
    session: DbSession,
    principal: AuditorPrincipal,
    action: str | None = None,
    actor: str | None = None,
    before: Annotated[int | None, Query(ge=1, description="Entries with seq below this")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[AuditEntryRead]:
    authorize(principal, "core.audit.read")
    rows = await audit.entries(session, action=action, actor=actor, before=before, limit=limit)
    return [AuditEntryRead.model_validate(r) for r in rows]


# --- working-day calendar (工作日历) ---------------------------------------------------------

CalendarYearPath = Annotated[int, Path(ge=workdays.MIN_YEAR, le=workdays.MAX_YEAR)]


def _calendar_year_read(overview: workdays.YearOverview) -> CalendarYearRead:
    return CalendarYearRead(
        year=overview.year,
        source=overview.source,
        provisional=overview.provisional,
        notice=overview.notice,
        entered_by=overview.entered_by,
        entered_at=overview.entered_at,
        special_days=[
            CalendarDayRead(date=d.date, is_workday=d.is_workday, name=d.name)
            for d in overview.special_days
        ],
        months=[
            MonthWorkdaysRead(month=m, workdays=n)
            for m, n in enumerate(overview.month_workdays, start=1)
        ],
        workdays=overview.total_workdays,
    )


# Declared before /calendar/{year}, which would otherwise take "deadline" for a year.
@router.get("/calendar/deadline", response_model=DeadlineRead, tags=["calendar"])
async def calendar_deadline(
    session: DbSession,
    principal: AnyPrincipal,
    start: Annotated[
        AwareDatetime,
        Query(
            description="When the time limit starts, with its offset, e.g. 2026-09-30T10:00+08:00"
        ),
    ],
    days: Annotated[
        int,
        Query(
            ge=0, le=workdays.MAX_WORKDAYS, description="The time limit in working days (工作日)"
        ),
    ],
) -> DeadlineRead:
    """The end of a time limit of ``days`` working days; the start's own day is not counted."""
    if not workdays.MIN_YEAR <= start.year <= workdays.MAX_YEAR:
        raise InvalidInput(
            f"The start must be in the years {workdays.MIN_YEAR} to {workdays.MAX_YEAR}.",
            field="start",
        )
    deadline = (await workdays.load_calendar(session)).add_workdays(start, days)
    return DeadlineRead(
        start=start,
        days=days,
        at=deadline.at,
        due_date=deadline.due_date,
        provisional=deadline.provisional,
    )


@router.get("/calendar/{year}", response_model=CalendarYearRead, tags=["calendar"])
async def calendar_year(
    session: DbSession, principal: AnyPrincipal, year: CalendarYearPath
) -> CalendarYearRead:
    """A year's holidays (法定节假日) and make-up working days (调休), and workdays per month."""
    return _calendar_year_read(await workdays.year_overview(session, year))


@router.put("/calendar/{year}", response_model=CalendarYearRead, tags=["calendar"])
async def enter_calendar_year(
    session: DbSession, principal: AdminPrincipal, year: CalendarYearPath, data: CalendarYearEnter
) -> CalendarYearRead:
    """Enter or replace a year from the State Council's notice; the whole year is replaced."""
    entries = [
        workdays.Entry(e.start, e.end or e.start, e.kind, e.name, line=i)
        for i, e in enumerate(data.entries, start=1)
    ]
    await workdays.enter_year(session, principal, year=year, entries=entries, notice=data.notice)
    return _calendar_year_read(await workdays.year_overview(session, year))


# --- signatures (数字签名) -----------------------------------------------------------------

Signer = Annotated[Principal, Depends(require_principal("staff", "supervisor", "admin", "system"))]
Algorithm = Annotated[str, Query(pattern="^(SM2|P-256)$", description="SM2 (GM/T 0003) or P-256")]


async def _read_upload(upload: UploadFile, field: str) -> bytes:
    data = await upload.read()
    if not data:
        raise InvalidInput(f"The {field} is empty.", field=field)
    return data


@router.get(
    "/signing-keys",
    response_model=list[SigningKeyRead],
    tags=["signatures"],
    dependencies=[Depends(public)],
)
async def list_signing_keys(session: DbSession) -> list[SigningKeyRead]:
    """The platform's public keys, current and retired, for anyone who verifies offline."""
    rows = (await session.execute(signatures.readable_keys())).scalars().all()
    return [SigningKeyRead.model_validate(r) for r in rows]


@router.post("/signing-keys/{algorithm}/rotate", response_model=SigningKeyRead, tags=["signatures"])
async def rotate_signing_key(
    session: DbSession,
    principal: Annotated[Principal, Depends(require_principal("admin", "security"))],
    algorithm: Annotated[str, Path(pattern="^(SM2|P-256)$")],
) -> SigningKeyRead:
    return SigningKeyRead.model_validate(await signatures.rotate_key(session, principal, algorithm))


@router.post("/signatures", response_model=SignatureRead, status_code=201, tags=["signatures"])
async def sign_document(
    session: DbSession, principal: Signer, document: UploadFile, algorithm: Algorithm = "SM2"
) -> SignatureRead:
    """Sign a document with the platform's key; the answer is the detached signature."""
    data = await _read_upload(document, "document")
    signature = await signatures.sign_document(
        session, principal, algorithm=algorithm, document=data, name=document.filename or ""
    )
    return SignatureRead(**signature.__dict__)


@router.post(
    "/signatures/verify",
    response_model=VerificationRead,
    tags=["signatures"],
    dependencies=[Depends(public), Depends(limit_public)],
)
async def verify_document(
    session: DbSession,
    document: UploadFile,
    signature: Annotated[UploadFile, File(description="The .sig file (JSON)")],
) -> VerificationRead:
    """Anyone may check a document against its detached signature."""
    result, key = await signatures.verify_document(
        session,
        document=await _read_upload(document, "document"),
        signature_json=await _read_upload(signature, "signature"),
    )
    return VerificationRead(
        valid=result.valid,
        reason=result.reason,
        key=SigningKeyRead.model_validate(key) if key else None,
    )
