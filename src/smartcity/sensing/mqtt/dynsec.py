"""Mosquitto's dynamic-security plugin kept in step with the platform (动态安全同步): clients,
roles and ACLs through ``$CONTROL/dynamic-security/v1``, after the transaction that changed a
device account, an API key, a Thing's owner or its public flag has committed (bus handlers),
and all of it again by ``smartcity sensing mqtt-sync``. The policy is broker_acl.py.

On the broker:
- one client per machine account (its account name), password = its newest API key in force,
  roles ``smartcity-device-<name>`` (the exact topics it may publish to) and
  ``smartcity-reader``; disabled (which also disconnects it) when the account is inactive or
  holds no usable key;
- ``smartcity-reader``: subscribe to ``v1.1/#`` except the private Things' topics;
- ``smartcity-bridge``, given to the bridge's client (``SMARTCITY_MQTT_USERNAME``): publish to
  ``v1.1/#``, subscribe to ``devices/#`` and the broker's subscribe log;
- the anonymous group ``smartcity-anonymous``: the reader role when
  ``SMARTCITY_MQTT_ANONYMOUS_READ``, no role otherwise.

Commands that would change nothing are not sent: Mosquitto disconnects the clients of a role
whose ACLs change and a client whose password is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import aiomqtt
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.sensing.mqtt import acl as broker_acl
from smartcity.sensing.mqtt.topics import DEVICE_ROOT, SYS_SUBSCRIBE, VERSION
from smartcity.settings import Settings, get_settings

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
READER_ROLE = "smartcity-reader"
BRIDGE_ROLE = "smartcity-bridge"
DEVICE_ROLE = "smartcity-device-"
ANONYMOUS_GROUP = "smartcity-anonymous"
MANAGED = "smartcity"  # textname of the clients this module manages
REPLY_WAIT = 10.0
DENY_PRIORITY = 10  # a private Thing's deny is read before the reader's allow of v1.1/#


class DynsecError(Exception):
    """The broker refused a command, or did not answer."""


@dataclass(frozen=True, order=True)
class Acl:
    acltype: str
    topic: str
    allow: bool = True
    priority: int = 0

    def fields(self) -> dict[str, Any]:
        return {
            "acltype": self.acltype,
            "topic": self.topic,
            "allow": self.allow,
            "priority": self.priority,
        }


def reader_acls(private_bases: list[str]) -> list[Acl]:
    return [Acl("subscribePattern", f"{VERSION}/#")] + [
        Acl("subscribePattern", f"{base}/#", False, DENY_PRIORITY) for base in private_bases
    ]


def bridge_acls() -> list[Acl]:
    return [
        Acl("publishClientSend", f"{VERSION}/#"),
        Acl("subscribePattern", f"{DEVICE_ROOT}/#"),
        # The standard create topics, when mqtt_standard_create_topics is on.
        Acl("subscribePattern", f"{VERSION}/#"),
        Acl("subscribePattern", SYS_SUBSCRIBE.rsplit("/", 1)[0] + "/#"),
    ]


def device_acls(topics: list[str]) -> list[Acl]:
    return [Acl("publishClientSend", topic) for topic in topics]


class Control:
    """One connection to the broker's control topic; commands are answered in the response
    topic and matched by ``correlationData``."""

    def __init__(self, settings: Settings, *, client_id: str | None = None) -> None:
        from smartcity.sensing.mqtt.bridge import broker_address

        self.host, self.port = broker_address(settings.mqtt_url)
        self.username = settings.mqtt_username or None
        self.password = settings.mqtt_password.get_secret_value() or None
        self.client_id = client_id or f"smartcity-dynsec-{uuid.uuid4().hex[:12]}"
        self._client: aiomqtt.Client | None = None
        self.sent = 0  # commands sent: for operators and tests

    async def __aenter__(self) -> Control:
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=self.client_id,
            username=self.username,
            password=self.password,
            timeout=REPLY_WAIT,
        )
        await client.__aenter__()
        self._client = client
        await client.subscribe(RESPONSE_TOPIC, qos=1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send commands in one message; their responses in the same order."""
        if not commands:
            return []
        assert self._client is not None, "use Control as an async context manager"
        tagged = [{**c, "correlationData": uuid.uuid4().hex} for c in commands]
        await self._client.publish(CONTROL_TOPIC, orjson.dumps({"commands": tagged}), qos=1)
        self.sent += len(tagged)
        wanted = {c["correlationData"] for c in tagged}
        got: dict[str, dict[str, Any]] = {}
        try:
            async with asyncio.timeout(REPLY_WAIT):
                async for message in self._client.messages:
                    body = orjson.loads(bytes(message.payload))
                    for response in body.get("responses", []):
                        tag = response.get("correlationData")
                        if tag in wanted:
                            got[tag] = response
                    if len(got) == len(wanted):
                        break
        except TimeoutError as exc:
            raise DynsecError(
                "the broker did not answer on $CONTROL/dynamic-security/v1: is the "
                "dynamic-security plugin loaded and may SMARTCITY_MQTT_USERNAME use it?"
            ) from exc
        return [got[c["correlationData"]] for c in tagged]

    async def check(self, commands: list[dict[str, Any]], *, ignore: tuple[str, ...] = ()) -> None:
        """Run commands; a refusal other than the ``ignore``d errors is a DynsecError."""
        for command, response in zip(commands, await self.run(commands), strict=True):
            error = response.get("error")
            if error and not any(part in error for part in ignore):
                raise DynsecError(f"{command['command']}: {error}")

    async def give_self(self, rolename: str) -> None:
        """Give our own client a role. Mosquitto disconnects a client whose roles change, this
        one too, before it answers: send, then connect again and look."""
        assert self._client is not None and self.username is not None
        mine = await self.client(self.username)
        if mine is None:
            raise DynsecError(f"{self.username} is no dynamic-security client of this broker.")
        if rolename in {r.get("rolename") for r in mine.get("roles", [])}:
            return
        command = {"command": "addClientRole", "username": self.username, "rolename": rolename}
        # QoS 0: the disconnect comes before any PUBACK would; the broker reads the command
        # before our DISCONNECT, which follows it on the same connection.
        with contextlib.suppress(aiomqtt.MqttError):
            await self._client.publish(CONTROL_TOPIC, orjson.dumps({"commands": [command]}))
        self.sent += 1
        await self.__aexit__()
        async with asyncio.timeout(REPLY_WAIT):
            while True:
                with contextlib.suppress(aiomqtt.MqttError):
                    await self.__aenter__()
                    break
                await asyncio.sleep(0.1)  # the broker is still dropping the old connection
        mine = await self.client(self.username)
        if mine is None or rolename not in {r.get("rolename") for r in mine.get("roles", [])}:
            raise DynsecError(f"addClientRole {rolename} to {self.username} did not take.")

    async def role_acls(self, rolename: str) -> set[Acl] | None:
        """The role's ACLs; None when the broker has no such role."""
        (response,) = await self.run([{"command": "getRole", "rolename": rolename}])
        if response.get("error"):
            return None
        acls = response.get("data", {}).get("role", {}).get("acls", [])
        return {
            Acl(a["acltype"], a["topic"], bool(a.get("allow")), int(a.get("priority", 0)))
            for a in acls
        }

    async def client(self, username: str) -> dict[str, Any] | None:
        (response,) = await self.run([{"command": "getClient", "username": username}])
        if response.get("error"):
            return None
        found: dict[str, Any] = response.get("data", {}).get("client", {})
        return found

    async def ensure_role(self, rolename: str, acls: list[Acl]) -> None:
        """Make the role hold exactly ``acls``, changing only what differs."""
        current = await self.role_acls(rolename)
        if current is None:
            await self.check(
                [
                    {
                        "command": "createRole",
                        "rolename": rolename,
                        "acls": [a.fields() for a in acls],
                    }
                ]
            )
            return
        wanted = set(acls)
        changes = [
            {
                "command": "removeRoleACL",
                "rolename": rolename,
                "acltype": a.acltype,
                "topic": a.topic,
            }
            for a in sorted(current - wanted)
        ] + [
            {"command": "addRoleACL", "rolename": rolename, **a.fields()}
            for a in sorted(wanted - current)
        ]
        await self.check(changes)


# --- what the sync does -------------------------------------------------------------------------


async def sync_shared(session: AsyncSession, control: Control, settings: Settings) -> None:
    """Default access, the reader and bridge roles, and the anonymous group."""
    await control.check(
        [
            {
                "command": "setDefaultACLAccess",
                "acls": [
                    {"acltype": "publishClientSend", "allow": False},
                    {"acltype": "publishClientReceive", "allow": True},
                    {"acltype": "subscribe", "allow": False},
                    {"acltype": "unsubscribe", "allow": True},
                ],
            }
        ]
    )
    await sync_reader(session, control)
    await control.ensure_role(BRIDGE_ROLE, bridge_acls())
    if settings.mqtt_username:
        await control.give_self(BRIDGE_ROLE)
    await control.check(
        [{"command": "createGroup", "groupname": ANONYMOUS_GROUP}], ignore=("already exists",)
    )
    role = {"groupname": ANONYMOUS_GROUP, "rolename": READER_ROLE}
    if settings.mqtt_anonymous_read:
        await control.check([{"command": "addGroupRole", **role}], ignore=("already",))
    else:
        await control.check([{"command": "removeGroupRole", **role}], ignore=("not",))
    await control.check([{"command": "setAnonymousGroup", "groupname": ANONYMOUS_GROUP}])


async def sync_reader(session: AsyncSession, control: Control) -> None:
    await control.ensure_role(READER_ROLE, reader_acls(await broker_acl.private_bases(session)))


async def sync_account(
    session: AsyncSession,
    control: Control,
    settings: Settings,
    account_id: uuid.UUID,
    *,
    password: bool,
) -> str:
    """One machine account's client and role; ``password`` also sets the broker password
    (after a key was issued or revoked: setting it disconnects the client). Returns what was
    done, for the CLI."""
    account = await broker_acl.machine(session, account_id)
    if account is None:
        return "no machine account"
    return await _sync_machine(session, control, settings, account, password=password)


async def _sync_machine(
    session: AsyncSession,
    control: Control,
    settings: Settings,
    account: broker_acl.Machine,
    *,
    password: bool,
) -> str:
    name = account.username
    key = (
        await broker_acl.broker_password(session, settings, account.id) if account.active else None
    )
    existing = await control.client(name)
    if key is None:
        if existing is not None and not existing.get("disabled"):
            await control.check([{"command": "disableClient", "username": name}])
        return "disabled" if existing is not None else "no usable key"
    role = DEVICE_ROLE + name
    topics: list[str] = []
    if account.kind == "device":
        streams, multis = await broker_acl.owned_streams(session, account.id)
        topics = broker_acl.publish_topics(name, streams, multis)
    await control.ensure_role(role, device_acls(topics))
    if await control.role_acls(READER_ROLE) is None:
        # A key issued before the first mqtt-sync: a client cannot get a role that is missing.
        await sync_reader(session, control)
    if existing is None:
        await control.check(
            [
                {
                    "command": "createClient",
                    "username": name,
                    "password": key,
                    "textname": MANAGED,
                    "roles": [{"rolename": role}, {"rolename": READER_ROLE}],
                }
            ]
        )
        return "created"
    have = {r.get("rolename") for r in existing.get("roles", [])}
    commands: list[dict[str, Any]] = [
        {"command": "addClientRole", "username": name, "rolename": r}
        for r in (role, READER_ROLE)
        if r not in have
    ]
    if password:
        commands.append({"command": "setClientPassword", "username": name, "password": key})
    if existing.get("disabled"):
        commands.append({"command": "enableClient", "username": name})
    await control.check(commands)
    return "updated"


@dataclass
class SyncReport:
    accounts: dict[str, str]
    commands: int


async def sync_all(session: AsyncSession, control: Control, settings: Settings) -> SyncReport:
    """Rebuild everything from the database (``smartcity sensing mqtt-sync``). Passwords are
    set again from the keys (derived from the instance secret); a client this module made
    whose account is gone is disabled."""
    await sync_shared(session, control, settings)
    done: dict[str, str] = {}
    for account in await broker_acl.machines(session):
        done[account.username] = await _sync_machine(
            session, control, settings, account, password=True
        )
    (listing,) = await control.run([{"command": "listClients", "verbose": True}])
    for client in listing.get("data", {}).get("clients", []):
        name = client.get("username", "")
        if client.get("textname") == MANAGED and name not in done and not client.get("disabled"):
            await control.check([{"command": "disableClient", "username": name}])
            done[name] = "disabled (account gone)"
    return SyncReport(done, control.sent)


def enabled() -> Settings | None:
    """The settings when the dynamic-security sync is on (SMARTCITY_MQTT_DYNSEC and a broker)."""
    settings = get_settings()
    return settings if settings.mqtt_dynsec and settings.mqtt_url else None
