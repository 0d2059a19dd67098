"""Who may do what on the MQTT broker (消息代理访问控制): one policy, read by both the
Mosquitto dynamic-security sync (dynsec.py) and the HTTP hook of clustered brokers
(mqtt_hook.py).

- A device account connects with its account name and an API key. It may publish only to
  ``devices/<its name>/v1.1/{Datastreams,MultiDatastreams}(id)/Observations`` of the Things it
  owns; only the bridge reads ``devices/#``.
- Only the bridge publishes to ``v1.1/#``, so subscribers receive only the server's entity JSON.
- Readers (machine accounts, and anonymous clients when ``mqtt_anonymous_read``) may subscribe
  to ``v1.1/...`` except the topics of a Thing that is not public and of its Datastreams and
  MultiDatastreams. The bridge never publishes what a private Thing holds (mqtt.py), so a
  wildcard subscription shows public data only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.models import MACHINE_KINDS, Account, ApiKey
from smartcity.core.secrets import same, token_hash
from smartcity.core.security import derived_api_key
from smartcity.sensing import models as m
from smartcity.sensing.mqtt.topics import DEVICE_ROOT, VERSION, device_topic
from smartcity.settings import Settings

# The entity sets whose topics belong to one Thing, and so are closed when it is private.
THING_SETS = ("Things", "Datastreams", "MultiDatastreams")


@dataclass(frozen=True)
class Machine:
    """A machine account as the broker sees it (设备/系统账号)."""

    id: uuid.UUID
    username: str
    kind: str
    active: bool


async def machine(session: AsyncSession, account_id: uuid.UUID) -> Machine | None:
    account = await session.get(Account, account_id)
    if account is None or account.kind not in MACHINE_KINDS:
        return None
    return Machine(account.id, account.username, account.kind, account.active)


async def machines(session: AsyncSession) -> list[Machine]:
    rows = await session.execute(
        select(Account).where(Account.kind.in_(MACHINE_KINDS)).order_by(Account.username)
    )
    return [Machine(a.id, a.username, a.kind, a.active) for a in rows.scalars()]


async def broker_password(
    session: AsyncSession, settings: Settings, account_id: uuid.UUID
) -> str | None:
    """The account's newest usable API key, which is its broker password; None when it has
    none. Only keys derived from the instance secret can be given to the broker again (keys
    issued before that, or under another secret, are left out: issue a new key)."""
    now = clock.now()
    rows = await session.execute(
        select(ApiKey)
        .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc())
    )
    secret = settings.resolved_secret()
    for row in rows.scalars():
        if row.expires_at is not None and row.expires_at <= now:
            continue
        key = derived_api_key(secret, row.prefix)
        if same(token_hash(key), row.key_hash):
            return key
    return None


async def _streams_of(session: AsyncSession, things: Select[Any]) -> tuple[list[int], list[int]]:
    """The Datastreams and MultiDatastreams of the Things ``things`` selects, by id."""
    found = []
    for model in (m.StaDatastream, m.StaMultiDatastream):
        ids = await session.scalars(
            select(model.id).where(model.thing_id.in_(things)).order_by(model.id)
        )
        found.append(list(ids))
    return found[0], found[1]


async def owned_streams(
    session: AsyncSession, account_id: uuid.UUID
) -> tuple[list[int], list[int]]:
    """The Datastreams and MultiDatastreams of the Things the device owns."""
    owned = select(m.StaThing.id).where(m.StaThing.owner_account_id == account_id)
    return await _streams_of(session, owned)


def publish_topics(username: str, streams: list[int], multis: list[int]) -> list[str]:
    """The exact topics a device may publish to."""
    return [device_topic(username, f"{VERSION}/Datastreams({i})/Observations") for i in streams] + [
        device_topic(username, f"{VERSION}/MultiDatastreams({i})/Observations") for i in multis
    ]


async def private_bases(session: AsyncSession) -> list[str]:
    """``v1.1/Things(7)``, ``v1.1/Datastreams(14)``...: the entity topics of private Things and
    their streams; each one and everything below it is closed to subscribers."""
    private = select(m.StaThing.id).where(m.StaThing.public.is_(False))
    things = await session.scalars(private.order_by(m.StaThing.id))
    streams, multis = await _streams_of(session, private)
    return (
        [f"{VERSION}/Things({i})" for i in things]
        + [f"{VERSION}/Datastreams({i})" for i in streams]
        + [f"{VERSION}/MultiDatastreams({i})" for i in multis]
    )


# --- decisions of the HTTP hook --------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """Who a broker connection is: the bridge, a machine account, or anonymous."""

    kind: str  # "bridge", "machine", "anonymous"
    username: str = ""
    account_id: uuid.UUID | None = None
    account_kind: str = ""


async def authenticate(
    session: AsyncSession, settings: Settings, username: str, password: str
) -> Client | None:
    """The connecting client, or None when it must be refused."""
    bridge_password = settings.mqtt_password.get_secret_value()
    if settings.mqtt_username and username == settings.mqtt_username:
        if bridge_password and same(password, bridge_password):
            return Client("bridge", username)
        return None
    if not username:
        return Client("anonymous") if settings.mqtt_anonymous_read and not password else None
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    if account is None or not account.active or account.kind not in MACHINE_KINDS:
        return None
    if not await key_valid(session, account.id, password):
        return None
    return Client("machine", username, account.id, account.kind)


async def client_named(session: AsyncSession, username: str) -> Client | None:
    """The machine account behind an authenticated connection's user name."""
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    if account is None or not account.active or account.kind not in MACHINE_KINDS:
        return None
    return Client("machine", username, account.id, account.kind)


async def key_valid(session: AsyncSession, account_id: uuid.UUID, key: str) -> bool:
    """Is ``key`` one of the account's API keys in force (not revoked, not expired)?"""
    parts = key.split("_", 2)
    if len(parts) != 3 or len(parts[1]) != 12 or len(key) > 200:
        return False
    row = (
        await session.execute(
            select(ApiKey).where(ApiKey.prefix == parts[1], ApiKey.account_id == account_id)
        )
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None or not same(row.key_hash, token_hash(key)):
        return False
    return row.expires_at is None or row.expires_at > clock.now()


async def still_valid(session: AsyncSession, client: Client) -> bool:
    """For each publish and subscribe: the account is active and holds a key in force, so a
    deactivated account or one whose keys are all revoked is refused at once, even on a
    connection made before."""
    if client.account_id is None:
        return True
    account = await session.get(Account, client.account_id)
    if account is None or not account.active:
        return False
    now = clock.now()
    keys = await session.scalars(
        select(ApiKey.expires_at).where(
            ApiKey.account_id == client.account_id, ApiKey.revoked_at.is_(None)
        )
    )
    return any(expires is None or expires > now for expires in keys)


async def may_publish(session: AsyncSession, client: Client, topic: str) -> bool:
    if client.kind == "bridge":
        return topic.startswith(VERSION + "/")
    if client.kind != "machine" or client.account_kind != "device" or client.account_id is None:
        return False
    if not await still_valid(session, client):
        return False
    streams, multis = await owned_streams(session, client.account_id)
    return topic in publish_topics(client.username, streams, multis)


async def may_subscribe(session: AsyncSession, client: Client, topic_filter: str) -> bool:
    if client.kind == "bridge":
        return True
    if not topic_filter.startswith(VERSION + "/") or "\x00" in topic_filter:
        return False
    if client.kind == "machine" and not await still_valid(session, client):
        return False
    return not await _touches_private(session, topic_filter)


async def _touches_private(session: AsyncSession, topic_filter: str) -> bool:
    """Does the filter name a private Thing or one of its streams (``v1.1/Things(7)/#``)?"""
    parts = topic_filter.split("/")
    if len(parts) < 2:
        return False
    segment = parts[1].split("?", 1)[0]  # v1.1/Things(7)?$select=name names Things(7) too
    name, _, rest = segment.partition("(")
    if name not in THING_SETS or not rest.endswith(")") or not rest[:-1].isdigit():
        return False
    entity_id = int(rest[:-1])
    if entity_id > 2**63 - 1:
        return False
    thing: Any
    if name == "Things":
        thing = select(m.StaThing.public).where(m.StaThing.id == entity_id)
    else:
        model = m.StaDatastream if name == "Datastreams" else m.StaMultiDatastream
        thing = (
            select(m.StaThing.public)
            .join(model, model.thing_id == m.StaThing.id)
            .where(model.id == entity_id)
        )
    public = await session.scalar(thing)
    return public is False


def is_device_topic(topic: str) -> bool:
    return topic.startswith(DEVICE_ROOT + "/")
