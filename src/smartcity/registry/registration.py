"""What self-registration (core.registration) may ask of the population registry: whether a
name and an ID number belong to one living person without an account (yes/no, nothing of
the record), whether the ID number already has an account, and to link the new account."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import audit, clock
from smartcity.registry.models import Person


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
