"""Enterprise registration (法人注册): the legal representative, signed in with their own
real-name citizen account, registers the organization's account; the code's check
character, the registered name, the representative and an existing account are checked
against the legal-entity registry, with a clear refusal for each."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.cli import cli_principal
from smartcity.core import accounts, registration
from smartcity.core.accounts import SignIn
from smartcity.core.authz import Principal
from smartcity.core.errors import Conflict, Forbidden, InvalidInput
from smartcity.core.i18n import current_locale
from smartcity.core.models import Account, AuditEntry
from smartcity.core.schemas import AccountCreate
from tests.core.factories import principal as principal_of
from tests.core.test_pages import HTML, csrf_of
from tests.registry import factories

PASSWORD = "Correct-Horse-42"
ENTERPRISE_PASSWORD = "Enterprise-Pass-7"


@pytest.fixture(autouse=True)
def english() -> Any:
    registration.reset_limits()
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


async def _citizen(session: AsyncSession, username: str) -> tuple[Principal, Any]:
    """A citizen account linked to its person record (as 实名注册 leaves it)."""
    await factories.source_departments(session)
    person = await factories.create_person(session)
    account, _ = await accounts.create_account(
        session,
        cli_principal(),
        AccountCreate(
            username=username, display_name=person.name, kind="citizen", password=PASSWORD
        ),
    )
    person.account_id = account.id
    await session.flush()
    return principal_of(account), person


async def _register(session: AsyncSession, who: Principal, org: Any, **overrides: str) -> Account:
    args = {"uscc": org.uscc, "name": org.name, "password": ENTERPRISE_PASSWORD, "ip": "1.2.3.4"}
    return await registration.register_enterprise(session, who, **(args | overrides))


async def test_the_legal_representative_registers_the_enterprise(session: AsyncSession) -> None:
    who, person = await _citizen(session, "rep")
    org = await factories.create_organization(session, legal_representative=person)
    account = await _register(session, who, org)
    assert (account.username, account.kind, account.display_name) == (
        org.uscc,
        "enterprise",
        org.name,
    )
    await session.refresh(org)
    assert org.account_id == account.id
    assert (await accounts.sign_in(session, org.uscc, ENTERPRISE_PASSWORD)).outcome == SignIn.ok
    logged = (
        await session.execute(
            select(AuditEntry).where(AuditEntry.action == "core.register.enterprise")
        )
    ).scalar_one()
    assert logged.actor == "rep" and logged.outcome == "success"
    # The same organization again: it has its account.
    with pytest.raises(Conflict):
        await _register(session, who, org)


async def test_someone_who_is_not_the_representative_is_refused(session: AsyncSession) -> None:
    who, _person = await _citizen(session, "not-rep")
    org = await factories.create_organization(session)  # another person represents it
    with pytest.raises(Forbidden) as caught:
        await _register(session, who, org)
    assert caught.value.slug == "forbidden" and "legal representative" in caught.value.detail
    await session.refresh(org)
    assert org.account_id is None


async def test_an_account_without_a_person_record_is_sent_to_register_first(
    session: AsyncSession,
) -> None:
    await factories.source_departments(session)
    account, _ = await accounts.create_account(
        session,
        cli_principal(),
        AccountCreate(username="nobody", display_name="N", kind="citizen", password=PASSWORD),
    )
    org = await factories.create_organization(session)
    with pytest.raises(Forbidden, match="not linked to your person record"):
        await _register(session, principal_of(account), org)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("uscc", {"uscc": "91440300MA5FXXXXX0"}),  # a wrong check character
        ("uscc", {"uscc": "12345"}),
        ("name", {"name": ""}),
        ("name", {"name": "深圳市别的公司"}),
        ("password", {"password": "weak"}),
    ],
)
async def test_bad_fields_are_named(
    session: AsyncSession, field: str, overrides: dict[str, str]
) -> None:
    who, person = await _citizen(session, "rep2")
    org = await factories.create_organization(session, legal_representative=person)
    with pytest.raises(InvalidInput) as caught:
        await _register(session, who, org, **overrides)
    assert caught.value.extensions["field"] == field


async def test_a_code_the_registry_does_not_have_and_a_cancelled_entity(
    session: AsyncSession,
) -> None:
    who, person = await _citizen(session, "rep3")
    with pytest.raises(InvalidInput, match="no organization with this code"):
        await _register(
            session, who, type("Org", (), {"uscc": factories.uscc(), "name": "某公司"})()
        )
    org = await factories.create_organization(
        session, legal_representative=person, status="cancelled"
    )
    with pytest.raises(InvalidInput, match="revoked or cancelled"):
        await _register(session, who, org)


async def test_full_width_brackets_in_the_name_match(session: AsyncSession) -> None:
    who, person = await _citizen(session, "rep4")
    org = await factories.create_organization(
        session, legal_representative=person, name="深圳市前海测试（集团）有限公司"
    )
    account = await _register(session, who, org, name="深圳市前海测试(集团)有限公司")
    assert account.display_name == "深圳市前海测试（集团）有限公司"


async def test_only_citizens_may_register_an_enterprise(session: AsyncSession) -> None:
    _who, person = await _citizen(session, "rep5")
    org = await factories.create_organization(session, legal_representative=person)
    staff = await factories.department_principal(session, "SZGA")
    with pytest.raises(Forbidden):
        await _register(session, staff, org)


async def test_the_page_marks_refusals_and_confirms(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _who, person = await _citizen(session, "rep-page")
    org = await factories.create_organization(session, legal_representative=person)
    await session.commit()
    r = await client.get("/register/enterprise", headers=HTML)
    assert r.status_code in (302, 303)  # anonymous: to the sign-in page
    r = await client.get("/login", headers=HTML)
    await client.post(
        "/login",
        headers=HTML,
        data={"csrf_token": csrf_of(r.text), "username": "rep-page", "password": PASSWORD},
    )
    r = await client.get("/register/enterprise", headers=HTML)
    assert r.status_code == 200
    data = {"csrf_token": csrf_of(r.text), "uscc": org.uscc, "password": ENTERPRISE_PASSWORD}
    r = await client.post("/register/enterprise", headers=HTML, data={**data, "name": "别的公司"})
    assert r.status_code == 422 and 'id="name-error"' in r.text
    refused = (
        await session.execute(
            select(AuditEntry.outcome, AuditEntry.detail).where(
                AuditEntry.action == "core.register.enterprise"
            )
        )
    ).one()
    assert refused.outcome == "failure" and refused.detail["reason"] == "name"
    r = await client.post(
        "/register/enterprise", headers=HTML, data={**data, "uscc": "x" * 5000, "name": org.name}
    )
    assert r.status_code == 422 and 'id="uscc-error"' in r.text
    r = await client.post("/register/enterprise", headers=HTML, data={**data, "name": org.name})
    assert r.status_code == 200 and org.uscc in r.text and 'role="status"' in r.text
