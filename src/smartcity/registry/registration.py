"""What self-registration (core.registration) may ask of the population registry: whether a
name and an ID number belong to one living person without an account (yes/no, nothing of
the record), whether the ID number already has an account, and to link the new account.
And what enterprise registration may ask of the legal-entity registry: whether the signed-in
person is the registered legal representative of the organization with this code and name
(an outcome, nothing of the record but its registered name), and to link its new account."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.core.registration import EnterpriseMatch
from smartcity.registry.models import Organization, Person


async def match_unlinked_person(
    session: AsyncSession, name: str, id_number: str
) -> uuid.UUID | None:
    found = await session.execute(
        select(Person.id).where(
            Person.id_number == id_number,
            Person.name == name,
            Person.status == "living",
            Person.account_id.is_(None),
        )
    )
    return found.scalar_one_or_none()


async def id_number_has_account(session: AsyncSession, id_number: str) -> bool:
    found = await session.execute(
        select(Person.id).where(Person.id_number == id_number, Person.account_id.is_not(None))
    )
    return found.first() is not None


async def link_registered_account(
    session: AsyncSession, person_id: uuid.UUID, account_id: uuid.UUID
) -> None:
    """The person proved who they are (name + ID number + a verified address): the account
    is theirs, so 我的数据 and the service hall know them."""
    person = await session.get(Person, person_id)
    if person is None or person.account_id is not None:
        raise LookupError("person gone or linked meanwhile")
    person.account_id = account_id
    person.updated_at = clock.now()
    await session.flush()
    await audit.log(
        session,
        "registration",
        "registry.person.link_account",
        str(person.id),
        account=str(account_id),
        via="self-registration",
    )


def _same_name(registered: str, given: str) -> bool:
    # Business licences print full-width brackets; people type either kind, and spaces.
    def plain(text: str) -> str:
        return "".join(text.replace("（", "(").replace("）", ")").split())

    return plain(registered) == plain(given)


async def check_enterprise_representative(
    session: AsyncSession, uscc: str, name: str, account_id: uuid.UUID
) -> EnterpriseMatch:
    org = (
        await session.execute(select(Organization).where(Organization.uscc == uscc))
    ).scalar_one_or_none()
    if org is None:
        return EnterpriseMatch("unknown")
    if not _same_name(org.name, name):
        return EnterpriseMatch("name")
    if org.status != "active":
        return EnterpriseMatch("inactive")
    person_id = (
        await session.execute(
            select(Person.id).where(Person.account_id == account_id, Person.status == "living")
        )
    ).scalar_one_or_none()
    if person_id is None:
        return EnterpriseMatch("no_person")
    if org.legal_representative_id != person_id:
        return EnterpriseMatch("not_representative")
    if org.account_id is not None:
        return EnterpriseMatch("registered")
    return EnterpriseMatch("ok", org.id, org.name)


async def link_enterprise_account(
    session: AsyncSession,
    organization_id: uuid.UUID,
    account_id: uuid.UUID,
    representative_account_id: uuid.UUID,
) -> None:
    """The legal representative proved who they are: the new account is the organization's
    法人账户, so applying online prefills from its record (免提交)."""
    org = await session.get(Organization, organization_id)
    if org is None or org.account_id is not None:
        raise LookupError("organization gone or linked meanwhile")
    org.account_id = account_id
    org.updated_at = clock.now()
    await session.flush()
    await audit.log(
        session,
        "registration",
        "registry.organization.link_account",
        str(org.id),
        account=str(account_id),
        representative=str(representative_account_id),
        via="enterprise registration",
    )
