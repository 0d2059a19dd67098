"""Periodic jobs of the exchange."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.module import Job
from smartcity.exchange import webhooks


async def deliver_webhooks(session: AsyncSession) -> None:
    """Send the webhook deliveries that are due (订阅推送)."""
    await webhooks.deliver_due(session, release_lock=session.get_bind().dialect.name == "sqlite")


JOBS = [Job("exchange.webhooks.deliver", 10, deliver_webhooks)]
