"""Jobs of MQTT: ``sensing.mqtt.key_expiry``, the broker passwords of keys that expired."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.models import ApiKey
from smartcity.sensing.mqtt.dynsec import Control, enabled, sync_account

EXPIRY_EVERY = 15 * 60  # seconds between runs of sensing.mqtt.key_expiry


async def expire_keys(session: AsyncSession) -> None:
    """Job ``sensing.mqtt.key_expiry``: an expiry is no event, so every quarter hour the
    accounts whose key expired since about the last run get their broker password again
    (the next key in force) or are disabled. The window overlaps the previous one by a
    minute, so a late run misses none (at worst a device is disconnected twice)."""
    settings = enabled()
    if settings is None:
        return
    now = clock.now()
    since = now - timedelta(seconds=EXPIRY_EVERY + 60)
    expired = await session.scalars(
        select(ApiKey.account_id)
        .where(ApiKey.revoked_at.is_(None), ApiKey.expires_at > since, ApiKey.expires_at <= now)
        .distinct()
    )
    account_ids = list(expired)
    if not account_ids:
        return
    async with Control(settings) as control:
        for account_id in account_ids:
            await sync_account(session, control, settings, account_id, password=True)
