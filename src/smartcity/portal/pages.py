"""The portal's own pages: sign in (with TOTP), one's account, the inbox (我的消息) and the
admin pages (accounts, departments, the working-day calendar)."""

from __future__ import annotations

import io
import uuid
from datetime import date, datetime, time
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import RedirectResponse, Response

from smartcity.core import accounts, clock, notifications, people, registration, workdays
from smartcity.core.accounts import SignIn
from smartcity.core.authz import Principal
from smartcity.core.errors import Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.models import (
    TWO_FACTOR_KINDS,
    Account,
    Department,
    PrincipalKind,
    WebSession,
)
from smartcity.core.ratelimit import client_ip, limit_public
from smartcity.core.schemas import AccountCreate, AccountUpdate, DepartmentCreate
from smartcity.core.security import (
    SESSION_COOKIE,
    open_totp_secret,
    public,
    session_of_cookie,
    totp_uri,
)
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.settings import get_settings
from smartcity.web.pages import require_page, safe_next
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

SignedIn = Annotated[Principal, Depends(require_page())]
Admin = Annotated[Principal, Depends(require_page("admin", "security"))]
DepartmentAdmin = Annotated[Principal, Depends(require_page("admin"))]


def _set_session_cookie(response: Response, token: str) -> None:
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, form)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _field_error(exc: Problem) -> dict[str, str]:
    field = exc.extensions.get("field") or "_form"
    return {str(field): exc.detail}


async def _half_session(request: Request, session: DbSession) -> tuple[WebSession, Account]:
    web = await session_of_cookie(session, request)
    if web is None or web.second_factor_done:
        raise _RestartSignIn()
    account = await session.get(Account, web.account_id)
    if account is None or not account.active:
        raise _RestartSignIn()
    return web, account


class _RestartSignIn(Problem):
    status, slug, title = 400, "sign-in-expired", "Sign in again"

    def __init__(self) -> None:
        super().__init__("Your sign-in has expired; start again.")


# --- sign in -----------------------------------------------------------------------------


@router.get("/login", dependencies=[Depends(public)])
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "portal/login.html", {"next": safe_next(next)})


@router.post("/login", dependencies=[Depends(public), Depends(limit_public)])
async def login(request: Request, session: DbSession) -> Response:
    form = await _form(request)
    username, password = form.get("username", "").strip(), form.get("password", "")
    next_path = safe_next(form.get("next"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = _("Enter your user name.")
    if not password:
        errors["password"] = _("Enter your password.")
    if errors:
        return render(
            request,
            "portal/login.html",
            {"errors": errors, "next": next_path, "values": {"username": username}},
            status_code=422,
        )
    result = await accounts.sign_in(session, username, password, ip=client_ip(request))
    if result.outcome in (SignIn.failed, SignIn.locked):
        if result.outcome == SignIn.locked and result.locked_until is not None:
            message = _("Too many failed attempts. The account is locked until {at}.").format(
                at=clock.to_city(result.locked_until).strftime("%H:%M")
            )
        else:
            message = _("The user name or password is wrong.")
        return render(
            request,
            "portal/login.html",
            {"errors": {"password": message}, "next": next_path, "values": {"username": username}},
            status_code=401,
        )
    assert result.account is not None
    done = result.outcome == SignIn.ok
    token = await accounts.open_web_session(
        session, result.account, second_factor_done=done, ip=client_ip(request)
    )
    if result.outcome == SignIn.need_totp:
        target = f"/login/totp?next={next_path}"
    elif result.outcome == SignIn.need_enrolment:
        target = f"/login/enrol?next={next_path}"
    elif result.account.must_change_password:
        target = "/account/password?first=1"
    else:
        target = next_path
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(response, token)
    return response


@router.get("/login/totp", dependencies=[Depends(public)])
async def totp_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    await _half_session(request, session)
    return render(request, "portal/totp.html", {"next": safe_next(next)})


@router.post("/login/totp", dependencies=[Depends(public), Depends(limit_public)])
async def totp_submit(request: Request, session: DbSession) -> Response:
    form = await _form(request)
    web, account = await _half_session(request, session)
    next_path = safe_next(form.get("next"))
    result = await accounts.finish_totp(
        session, account, form.get("code", ""), ip=client_ip(request)
    )
    if result.outcome != SignIn.ok:
        message = _("That code is not right. Enter the current code from your app.")
        if result.outcome == SignIn.locked:
            message = _("Too many failed attempts. The account is locked; try again later.")
        return render(
            request,
            "portal/totp.html",
            {"errors": {"code": message}, "next": next_path},
            status_code=401,
        )
    token = await accounts.complete_web_session(session, web)
    response = RedirectResponse(
        "/account/password?first=1" if account.must_change_password else next_path, status_code=303
    )
    _set_session_cookie(response, token)
    return response


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=5, xmldecl=False, svgns=True, dark="#0b0c0c", light="#ffffff"
    )
    return buffer.getvalue().decode()


@router.get("/login/enrol", dependencies=[Depends(public)])
async def enrol_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    _web, account = await _half_session(request, session)
    if account.totp_enabled:
        return RedirectResponse(f"/login/totp?next={safe_next(next)}", status_code=303)
    secret = (
        await accounts.begin_totp_enrolment(session, account)
        if not account.totp_secret_enc
        else open_totp_secret(get_settings(), account.totp_secret_enc)
    )
    uri = totp_uri(secret, account.username)
    return render(
        request,
        "portal/enrol.html",
        {"secret": secret, "qr": _qr_svg(uri), "next": safe_next(next)},
    )


@router.post("/login/enrol", dependencies=[Depends(public), Depends(limit_public)])
async def enrol_submit(request: Request, session: DbSession) -> Response:
    form = await _form(request)
    web, account = await _half_session(request, session)
    next_path = safe_next(form.get("next"))
    if not await accounts.confirm_totp_enrolment(
        session, account, form.get("code", ""), ip=client_ip(request)
    ):
        assert account.totp_secret_enc is not None
        secret = open_totp_secret(get_settings(), account.totp_secret_enc)
        return render(
            request,
            "portal/enrol.html",
            {
                "secret": secret,
                "qr": _qr_svg(totp_uri(secret, account.username)),
                "next": next_path,
                "errors": {
                    "code": _("That code is not right. Enter the current code from your app.")
                },
            },
            status_code=422,
        )
    token = await accounts.complete_web_session(session, web)
    response = RedirectResponse(
        "/account/password?first=1" if account.must_change_password else next_path, status_code=303
    )
    _set_session_cookie(response, token)
    return response


@router.post("/logout", dependencies=[Depends(public)])
async def logout(request: Request, session: DbSession) -> Response:
    await _form(request)
    await accounts.close_web_session(
        session, request.cookies.get(SESSION_COOKIE), ip=client_ip(request)
    )
    response = RedirectResponse("/?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- own account -------------------------------------------------------------------------


@router.get("/account")
async def account_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    account = await session.get(Account, principal.id)
    department = (
        await session.get(Department, account.department_id)
        if account and account.department_id
        else None
    )
    return render(
        request,
        "portal/account.html",
        {
            "account": account,
            "department": department,
            "two_factor_required": principal.kind in TWO_FACTOR_KINDS,
        },
    )


@router.get("/account/password")
async def password_form(request: Request, principal: SignedIn, first: int = 0) -> Response:
    return render(request, "portal/password.html", {"first": bool(first)})


@router.post("/account/password")
async def password_submit(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await _form(request)
    try:
        async with session.begin_nested():
            await accounts.change_password(
                session,
                principal,
                current=form.get("current_password", ""),
                new=form.get("new_password", ""),
                ip=client_ip(request),
            )
    except Problem as exc:
        return render(
            request, "portal/password.html", {"errors": _field_error(exc)}, status_code=422
        )
    return RedirectResponse("/account?changed=1", status_code=303)


# --- admin -------------------------------------------------------------------------------


async def _departments(session: DbSession) -> list[Department]:
    return list((await session.execute(accounts.readable_departments())).scalars().all())


async def _accounts_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    kind = request.query_params.get("kind") or None
    rows, total = await accounts.list_accounts(session, principal, kind=kind, limit=200)
    departments = await _departments(session)
    return render(
        request,
        "portal/admin_accounts.html",
        {
            "accounts": rows,
            "total": total,
            "departments": departments,
            "department_names": {d.id: d.name for d in departments},
            "kind": kind,
            "kinds": [k.value for k in PrincipalKind],
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/admin/accounts")
async def admin_accounts(request: Request, session: DbSession, principal: Admin) -> Response:
    return await _accounts_page(request, session, principal)


@router.post("/admin/accounts")
async def admin_create_account(request: Request, session: DbSession, principal: Admin) -> Response:
    form = await _form(request)
    values = {k: form.get(k, "") for k in ("username", "display_name", "kind", "department_code")}
    try:
        data = AccountCreate(
            username=values["username"].strip(),
            display_name=values["display_name"].strip(),
            kind=values["kind"],
            department_code=values["department_code"] or None,
            roles=[r for r in ("auditor", "security") if form.get(f"role_{r}")],
        )
    except ValueError as exc:
        errors = {
            str(e["loc"][0]): _("Check this field: {msg}").format(msg=e["msg"])
            for e in getattr(exc, "errors", lambda: [])()
        }
        return await _accounts_page(
            request, session, principal, {"errors": errors, "values": values}, 422
        )
    try:
        async with session.begin_nested():
            account, generated = await accounts.create_account(session, principal, data)
    except Problem as exc:
        return await _accounts_page(
            request, session, principal, {"errors": _field_error(exc), "values": values}, 422
        )
    return await _accounts_page(
        request, session, principal, {"created": account, "generated": generated}
    )


async def _account_view(
    request: Request,
    session: DbSession,
    principal: Principal,
    username: str,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    account = await accounts.get_account(session, principal, username)
    return render(
        request,
        "portal/admin_account.html",
        {
            "account": account,
            "departments": await _departments(session),
            "keys": await accounts.api_keys_of(session, principal, account),
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/admin/accounts/{username}")
async def admin_account(
    request: Request, session: DbSession, principal: Admin, username: str
) -> Response:
    return await _account_view(request, session, principal, username)


def _end_of_day(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.combine(date.fromisoformat(value), time(23, 59), tzinfo=clock.CITY_TZ)


@router.post("/admin/accounts/{username}")
async def admin_account_action(
    request: Request, session: DbSession, principal: Admin, username: str
) -> Response:
    form = await _form(request)
    action = form.get("action")
    shown: dict[str, Any] = {}
    try:
        # A savepoint: a refused change leaves nothing half-done behind in the commit.
        async with session.begin_nested():
            message = await _take_account_action(session, principal, username, action, form, shown)
    except (Problem, ValueError) as exc:
        detail = exc.detail if isinstance(exc, Problem) else _("Check the date.")
        return await _account_view(request, session, principal, username, {"error": detail}, 422)
    return await _account_view(
        request, session, principal, username, {"message": message, "shown": shown}
    )


async def _take_account_action(
    session: DbSession,
    principal: Principal,
    username: str,
    action: str | None,
    form: dict[str, str],
    shown: dict[str, Any],
) -> str:
    if action == "update":
        await accounts.update_account(
            session,
            principal,
            username,
            AccountUpdate(
                display_name=form.get("display_name") or None,
                department_code=form.get("department_code") or None,
                roles=[r for r in ("auditor", "security") if form.get(f"role_{r}")],
                active=form.get("active") == "on",
            ),
        )
        return _("Saved.")
    if action == "reset_password":
        shown["password"] = await accounts.reset_password(session, principal, username)
        return _("A new password was generated. Give it to the person; it is shown once.")
    if action == "reset_totp":
        await accounts.reset_totp(session, principal, username)
        return _("Two-factor sign-in was reset; the account sets it up again at sign-in.")
    if action == "issue_key":
        _row, shown["key"] = await accounts.issue_api_key(
            session,
            principal,
            username=username,
            name=form.get("key_name", "").strip() or "key",
            expires_at=_end_of_day(form.get("expires_on")),
        )
        return _("The API key was issued. Copy it now; it is shown once.")
    if action == "revoke_key":
        await accounts.revoke_api_key(session, principal, form.get("prefix", ""))
        return _("The API key was revoked.")
    raise Problem(_("Unknown action."), field="action")


@router.get("/admin/departments")
async def admin_departments(
    request: Request, session: DbSession, principal: DepartmentAdmin
) -> Response:
    return render(
        request, "portal/admin_departments.html", {"departments": await _departments(session)}
    )


@router.post("/admin/departments")
async def admin_create_department(
    request: Request, session: DbSession, principal: DepartmentAdmin
) -> Response:
    form = await _form(request)
    values = {k: form.get(k, "").strip() for k in ("code", "name", "name_en")}
    errors: dict[str, str] = {}
    try:
        data = DepartmentCreate(**values)
        async with session.begin_nested():
            await accounts.create_department(session, principal, data)
    except Problem as exc:
        errors = _field_error(exc)
    except ValueError as exc:
        errors = {
            str(e["loc"][0]): _("Check this field: {msg}").format(msg=e["msg"])
            for e in getattr(exc, "errors", lambda: [])()
        }
    if errors:
        return render(
            request,
            "portal/admin_departments.html",
            {"departments": await _departments(session), "errors": errors, "values": values},
            status_code=422,
        )
    return RedirectResponse("/admin/departments?created=1", status_code=303)


# --- working-day calendar (工作日历) ---------------------------------------------------------

CalendarAdmin = Annotated[Principal, Depends(require_page("admin"))]


async def _calendar_page(
    request: Request,
    session: DbSession,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    this_year = clock.to_city(clock.now()).year
    return render(
        request,
        "portal/admin_calendar.html",
        {
            "years": (years := await workdays.entered_years(session)),
            "actor_names": await people.display_names(session, [y.entered_by for y in years]),
            "this_year": this_year,
            **(extra or {}),
        },
        status_code=status_code,
    )


@router.get("/admin/calendar")
async def admin_calendar(
    request: Request, session: DbSession, principal: CalendarAdmin
) -> Response:
    return await _calendar_page(request, session)


@router.post("/admin/calendar")
async def admin_enter_calendar(
    request: Request, session: DbSession, principal: CalendarAdmin
) -> Response:
    form = await _form(request)
    values = {k: form.get(k, "") for k in ("year", "notice", "entries")}
    errors: dict[str, str] = {}
    line_errors: list[dict[str, Any]] = []
    year: int | None = None
    if not values["year"].strip().isdigit():
        errors["year"] = _("Enter the year as four digits, e.g. 2027.")
    else:
        year = int(values["year"].strip())
    if not values["notice"].strip():
        errors["notice"] = _("Name the notice the dates come from.")
    entries: list[workdays.Entry] = []
    if year is not None:
        try:
            entries = workdays.parse_year_entries(values["entries"], year)
        except Problem as exc:
            errors.update(_field_error(exc))
            line_errors = list(exc.extensions.get("errors") or [])
    if not errors and year is not None:
        try:
            async with session.begin_nested():
                await workdays.enter_year(
                    session, principal, year=year, entries=entries, notice=values["notice"]
                )
        except Problem as exc:
            errors = _field_error(exc)
    if errors:
        return await _calendar_page(
            request, session, {"errors": errors, "values": values, "line_errors": line_errors}, 422
        )
    return RedirectResponse(f"/admin/calendar/{year}?entered=1", status_code=303)


@router.get("/admin/calendar/{year}")
async def admin_calendar_year(
    request: Request,
    session: DbSession,
    principal: CalendarAdmin,
    year: Annotated[int, Path(ge=workdays.MIN_YEAR, le=workdays.MAX_YEAR)],
) -> Response:
    return render(
        request,
        "portal/admin_calendar_year.html",
        {
            "overview": (overview := await workdays.year_overview(session, year)),
            "actor_names": await people.display_names(
                session, [getattr(overview, "entered_by", None)]
            ),
        },
    )


# --- the inbox (我的消息): one's messages newest first, unread marked, read on opening ---

PAGE_SIZE = 30


@router.get("/messages")
async def messages_page(
    request: Request,
    session: DbSession,
    principal: SignedIn,
    unread: bool = False,
    page: int = 1,
) -> Response:
    page = min(max(page, 1), 10_000)
    rows = await notifications.inbox(
        session,
        principal,
        unread_only=unread,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "portal/messages.html",
        {
            "messages": rows[:PAGE_SIZE],
            "more": len(rows) > PAGE_SIZE,
            "page": page,
            "unread_only": unread,
            "unread_count": await notifications.unread_count(session, principal),
        },
        principal=principal,
    )


@router.post("/messages/read")
async def mark_all_read(request: Request, session: DbSession, principal: SignedIn) -> Response:
    check_csrf(request, await request.form())
    await notifications.mark_all_read(session, principal)
    return RedirectResponse("/messages", status_code=303)


@router.post("/messages/{message_id}/read")
async def open_message(
    request: Request, session: DbSession, principal: SignedIn, message_id: uuid.UUID
) -> Response:
    """Mark the message read and go where it points (or back to the inbox)."""
    form = await request.form()
    check_csrf(request, form)
    note = await notifications.mark_read(session, principal, message_id)
    target = form.get("next")
    if target == "link" and note.link:
        return RedirectResponse(safe_next(note.link), status_code=303)
    return RedirectResponse("/messages", status_code=303)


# --- self-registration (实名注册) and recovery (找回密码) ------------------------------------

_TEXT_MAX = 300  # any one field of these forms; longer is refused as a bad field


def _bounded(form: dict[str, str], *names: str) -> dict[str, str]:
    return {name: form.get(name, "")[:_TEXT_MAX] for name in names}


def _verify_page(
    request: Request,
    *,
    purpose: str,
    code_id: str,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    register = purpose == "register"
    context = {
        "title": _("Create an account") if register else _("Reset your password"),
        "intro": _("We sent a code. Enter it and choose your password."),
        "action": "/register/verify" if register else "/recover/reset",
        "again": "/register" if register else "/recover",
        "button": _("Create the account") if register else _("Set the new password"),
        "code_id": code_id,
        "minutes": get_settings().code_minutes,
        "errors": errors or {},
        "values": {"code": (values or {}).get("code", "")},
    }
    return render(request, "portal/register_verify.html", context, status_code=status_code)


@router.get("/register", dependencies=[Depends(public)])
async def register_form(request: Request) -> Response:
    return render(request, "portal/register.html", {"errors": {}, "values": {}})


@router.post("/register", dependencies=[Depends(public), Depends(limit_public)])
async def register_start(request: Request, session: DbSession) -> Response:
    values = _bounded(await _form(request), "name", "id_number", "channel", "address")
    try:
        code_id = await registration.start_registration(session, **values, ip=client_ip(request))
    except Problem as exc:
        return render(
            request,
            "portal/register.html",
            {"errors": _field_error(exc), "values": values},
            status_code=exc.status,
        )
    return _verify_page(request, purpose="register", code_id=str(code_id))


@router.post("/register/verify", dependencies=[Depends(public), Depends(limit_public)])
async def register_verify(request: Request, session: DbSession) -> Response:
    values = _bounded(await _form(request), "code_id", "code", "password")
    try:
        account = await registration.complete_registration(session, **values, ip=client_ip(request))
    except Problem as exc:
        return _verify_page(
            request,
            purpose="register",
            code_id=values["code_id"],
            errors=_field_error(exc),
            values=values,
            status_code=exc.status,
        )
    token = await accounts.open_web_session(
        session, account, second_factor_done=True, ip=client_ip(request)
    )
    response = RedirectResponse("/account", status_code=303)
    _set_session_cookie(response, token)
    return response


@router.get("/recover", dependencies=[Depends(public)])
async def recover_form(request: Request) -> Response:
    return render(request, "portal/recover.html", {"errors": {}, "values": {}})


@router.post("/recover", dependencies=[Depends(public), Depends(limit_public)])
async def recover_start(request: Request, session: DbSession) -> Response:
    values = _bounded(await _form(request), "channel", "address")
    try:
        code_id = await registration.start_recovery(session, **values, ip=client_ip(request))
    except Problem as exc:
        return render(
            request,
            "portal/recover.html",
            {"errors": _field_error(exc), "values": values},
            status_code=exc.status,
        )
    return _verify_page(request, purpose="recover", code_id=str(code_id))


@router.post("/recover/reset", dependencies=[Depends(public), Depends(limit_public)])
async def recover_reset(request: Request, session: DbSession) -> Response:
    values = _bounded(await _form(request), "code_id", "code", "password")
    try:
        await registration.complete_recovery(session, **values, ip=client_ip(request))
    except Problem as exc:
        return _verify_page(
            request,
            purpose="recover",
            code_id=values["code_id"],
            errors=_field_error(exc),
            values=values,
            status_code=exc.status,
        )
    return RedirectResponse("/login?reset=1", status_code=303)
