"""Open311 GeoReport v2 (with FixMyStreet's updates) for the 12345 hotline: the router in
``api``, the work in ``service``, the formats in ``render``; ``OPEN311_UPDATES`` numbers each
step of an Open311 request's order for ``servicerequestupdates``."""

from __future__ import annotations

from smartcity.cases.contract import OnTransition
from smartcity.hotline.open311 import service
from smartcity.hotline.types import BASE_NAME

OPEN311_UPDATES = OnTransition(
    "hotline.open311.record_update",
    BASE_NAME,
    service.record_update,
    after=("hotline.order.only_through_the_hotline",),
)
