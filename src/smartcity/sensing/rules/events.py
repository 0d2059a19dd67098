"""Topics of the sensing rules' alerts (告警事件): an alert opened, acknowledged or resolved.
The wire format is what webhook subscribers and NATS consumers read; keep its keys."""

from __future__ import annotations

from smartcity.core.bus import Payload, Topic


class AlertChanged(Payload):
    """An alert as it is after the transition (alerts.event_payload): ids, status, severity,
    the rule's department (a UUID string or None), the latest value and its time (ISO 8601)
    and how many breaches it has seen."""

    id: int
    rule_id: int
    datastream_id: int
    status: str
    severity: str
    department_id: str | None
    value: int | float | None  # as stored: an int stays an int on the wire
    time: str
    breach_count: int
    # How often the rule raised it (1, more once a flapping reading reopened it).
    raise_count: int = 1


class AlertResolved(AlertChanged):
    """Resolved: ``auto`` when the rule's own condition cleared it, ``manual`` when staff
    closed it."""

    resolution: str


ALERT_OPENED = Topic("sensing.alert.opened", AlertChanged)
ALERT_ACKNOWLEDGED = Topic("sensing.alert.acknowledged", AlertChanged)
ALERT_RESOLVED = Topic("sensing.alert.resolved", AlertResolved)
