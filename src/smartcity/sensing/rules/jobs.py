"""Jobs of the sensing rules: ``sensing.rules.silence`` every minute, the one kind of rule
that needs a clock."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import SYSTEM
from smartcity.core.i18n import gettext as _
from smartcity.sensing.models import StaDatastream
from smartcity.sensing.rules import alerts
from smartcity.sensing.rules.models import SensingRule
from smartcity.sensing.rules.service import SILENCE
from smartcity.sensing.rules.words import clearing_words


async def check_silence(session: AsyncSession) -> None:
    """The every-minute job: open an alert for each datastream silent past its rule's limit,
    and resolve those that reported since (also done as data arrives, in ``evaluate``)."""
    now = clock.now()
    rules = (
        await session.scalars(
            select(SensingRule).where(SensingRule.kind == SILENCE, SensingRule.active.is_(True))
        )
    ).all()
    for rule in rules:
        query = select(StaDatastream.id, StaDatastream.phenomenon_time_end)
        if rule.datastream_id is not None:
            query = query.where(StaDatastream.id == rule.datastream_id)
        else:
            query = query.where(StaDatastream.observed_property_id == rule.observed_property_id)
        streams = (await session.execute(query)).all()
        for stream_id, last in streams:
            open_alerts = await alerts.active_alerts(session, stream_id, [rule.id])
            alert = open_alerts.get(rule.id)
            # A stream that never reported has been silent since the rule began watching it.
            since = max(last, rule.created_at) if last is not None else rule.created_at
            silent = (now - since).total_seconds() / 60
            if silent >= rule.params["minutes"]:
                await alerts.raise_alert(
                    session, SYSTEM, rule, stream_id, alert, value=round(silent, 1), at=now,
                    message=_("No data for %(minutes)s minutes.") % {"minutes": int(silent)},
                    count=False,
                )  # fmt: skip
            elif alert is not None:
                await alerts.auto_resolve(
                    session, SYSTEM, alert, value=round(silent, 1), at=now,
                    reason=clearing_words(rule),
                )  # fmt: skip
    await session.flush()
