"""Pages of unified identity sign-in (统一身份认证, core/oidc.py) and of enterprise
registration (法人注册, core/registration.py): start the sign-in at the provider, take the
provider's answer, link a signed-in account to the provider, and let a legal representative
register their organization's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from smartcity.core import accounts, oidc, registration
from smartcity.core.authz import Principal
from smartcity.core.errors import Problem
from smartcity.core.i18n import gettext as _
from smartcity.core.ratelimit import client_ip, limit_public
from smartcity.core.security import SESSION_COOKIE, public
from smartcity.core.uow import DbSession, UnitOfWorkRoute
from smartcity.settings import get_settings
from smartcity.web.pages import require_page, safe_next
from smartcity.web.render import check_csrf, render

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)

SignedIn = Annotated[Principal, Depends(require_page())]
Citizen = Annotated[Principal, Depends(require_page("citizen"))]

CALLBACK = "/login/oidc/callback"
_FIELD_MAX = 300


def _redirect_uri(request: Request) -> str:
    configured = get_settings().oidc_redirect_uri
    return configured or str(request.base_url).rstrip("/") + CALLBACK


def _problem_page(request: Request, exc: Problem) -> Response:
    return render(
        request,
        "portal/oidc_problem.html",
        {"problem": exc, "provider": get_settings().oidc_display_name or _("unified identity")},
        status_code=exc.status,
    )


def _set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back, not on sub-requests
        secure=get_settings().secure_cookies,
        max_age=max_age,
    )


async def _start(
    request: Request, session: DbSession, next_path: str, link: Principal | None
) -> Response:
    try:
        url, browser = await oidc.begin(
            session,
            redirect_uri=_redirect_uri(request),
            next_path=next_path,
            link_account_id=link.id if link is not None else None,
        )
    except Problem as exc:
        return _problem_page(request, exc)
    response = RedirectResponse(url, status_code=303)
    _set_cookie(response, oidc.BROWSER_COOKIE, browser, get_settings().oidc_login_minutes * 60)
    return response


@router.get("/login/oidc", dependencies=[Depends(public), Depends(limit_public)])
async def oidc_start(request: Request, session: DbSession, next: str | None = None) -> Response:
    return await _start(request, session, safe_next(next), None)


@router.post("/account/identity", dependencies=[Depends(limit_public)])
async def oidc_link_start(request: Request, session: DbSession, principal: SignedIn) -> Response:
    """A signed-in account links itself to the provider: the one way an existing account
    gets a link (it proved itself here, then at the provider)."""
    check_csrf(request, await request.form())
    return await _start(request, session, "/account?linked=1", principal)


@router.get(CALLBACK, dependencies=[Depends(public), Depends(limit_public)])
async def oidc_callback(request: Request, session: DbSession) -> Response:
    query = request.query_params
    ip = client_ip(request)
    try:
        identity, started = await oidc.finish(
            session,
            state=query.get("state", ""),
            code=query.get("code", ""),
            error=query.get("error", ""),
            browser_token=request.cookies.get(oidc.BROWSER_COOKIE),
            redirect_uri=_redirect_uri(request),
        )
        # Refusals come before any write but their audit entry, which is kept (committed
        # with the spent state) like a failed password sign-in.
        result = await oidc.sign_in(
            session, identity, link_account_id=started.link_account_id, ip=ip
        )
    except Problem as exc:
        response = _problem_page(request, exc)
        response.delete_cookie(oidc.BROWSER_COOKIE)
        return response
    if result.outcome == "linked":
        response = RedirectResponse(safe_next(started.next_path), status_code=303)
    else:
        done = result.outcome == "done"
        token = await accounts.open_web_session(
            session, result.account, second_factor_done=done, ip=ip
        )
        next_path = safe_next(started.next_path)
        target = {
            "done": next_path,
            "totp": f"/login/totp?next={next_path}",
            "enrol": f"/login/enrol?next={next_path}",
        }[result.outcome]
        if result.created and done:
            target = "/account?welcome=1"
        response = RedirectResponse(target, status_code=303)
        settings = get_settings()
        _set_cookie(response, SESSION_COOKIE, token, settings.session_hours * 3600)
    response.delete_cookie(oidc.BROWSER_COOKIE)
    return response


# --- enterprise registration (法人注册) ---------------------------------------------------


@router.get("/register/enterprise")
async def enterprise_form(request: Request, principal: Citizen) -> Response:
    return render(request, "portal/register_enterprise.html", {"errors": {}, "values": {}})


@router.post("/register/enterprise", dependencies=[Depends(limit_public)])
async def enterprise_submit(request: Request, session: DbSession, principal: Citizen) -> Response:
    form = await request.form()
    check_csrf(request, form)
    values = {name: str(form.get(name, ""))[:_FIELD_MAX] for name in ("uscc", "name", "password")}
    try:
        # Refusals come before any write but their audit entry, which is kept.
        account = await registration.register_enterprise(
            session, principal, **values, ip=client_ip(request)
        )
    except Problem as exc:
        field = str(exc.extensions.get("field") or "_form")
        return render(
            request,
            "portal/register_enterprise.html",
            {"errors": {field: exc.detail}, "values": {**values, "password": ""}},
            status_code=exc.status,
        )
    return render(
        request,
        "portal/register_enterprise.html",
        {
            "created": account,
            "message": _(
                "The enterprise account was created. Sign out, then sign in with the unified "
                "social credit code {code} as the user name and the password you chose."
            ).format(code=account.username),
        },
    )
