"""Read access per Thing (读取权限, not part of the SensorThings standard).

A Thing with ``public = false`` and everything under it (its Datastreams, MultiDatastreams,
their Observations, its Locations and HistoricalLocations, and the FeaturesOfInterest only
its Observations reach) is visible to staff, admins, the platform and the Thing's owner
device only. For everyone else such rows do not exist: 404 on direct paths, absent from
collections, ``$expand`` and ``@iot.count``.

The read path (paths.resolve, query.run and, through it, every ``$expand``) asks
``conditions(etype)`` for the caller of the current SensorThings request. The caller is kept
in a context variable that handlers.handle sets, because the read path is a deep recursion
(serialize → query → serialize) that otherwise carries only the session. Unset means
anonymous, so a new caller of the read path that forgets to set it sees less, never more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, not_, or_, select

from smartcity.core.authz import Principal
from smartcity.sensing import models as m

# The caller of the SensorThings request being handled; None is anonymous.
VIEWER: ContextVar[Principal | None] = ContextVar("sensing_viewer", default=None)

SEES_ALL = ("staff", "admin", "system")


@contextmanager
def reading_as(principal: Principal | None) -> Iterator[None]:
    """Run the read path on behalf of ``principal`` (restored afterwards)."""
    token = VIEWER.set(principal)
    try:
        yield
    finally:
        VIEWER.reset(token)


def sees_all(principal: Principal | None) -> bool:
    return principal is not None and principal.is_(*SEES_ALL)


def thing_condition(principal: Principal | None) -> ColumnElement[bool] | None:
    """Which Things the caller may read; None when all of them."""
    if sees_all(principal):
        return None
    condition: ColumnElement[bool] = m.StaThing.public.is_(True)
    if principal is not None and principal.kind == "device" and principal.id is not None:
        condition = or_(condition, m.StaThing.owner_account_id == principal.id)
    return condition


def readable_things(principal: Principal | None) -> Select[Any]:
    """The ids of the Things the caller may read (可读的物)."""
    condition = thing_condition(principal)
    stmt = select(m.StaThing.id)
    return stmt if condition is None else stmt.where(condition)


def readable_datastreams(principal: Principal | None) -> Select[Any]:
    """The ids of the Datastreams the caller may read (可读的数据流)."""
    stmt = select(m.StaDatastream.id)
    if sees_all(principal):
        return stmt
    return stmt.where(m.StaDatastream.thing_id.in_(readable_things(principal)))


def readable_multi_datastreams(principal: Principal | None) -> Select[Any]:
    stmt = select(m.StaMultiDatastream.id)
    if sees_all(principal):
        return stmt
    return stmt.where(m.StaMultiDatastream.thing_id.in_(readable_things(principal)))


def observation_condition(principal: Principal | None, obs: Any) -> ColumnElement[bool]:
    # An Observation has exactly one of the two stream ids; NULL IN (...) is not true, so
    # the OR holds exactly when its own stream is readable.
    return or_(
        obs.datastream_id.in_(readable_datastreams(principal)),
        obs.multi_datastream_id.in_(readable_multi_datastreams(principal)),
    )


def entity_conditions(etype_name: str, principal: Principal | None) -> list[ColumnElement[bool]]:
    """Conditions on the entity type's model that leave out what the caller may not read."""
    things = thing_condition(principal)
    if things is None:
        return []
    if etype_name == "Thing":
        return [things]
    if etype_name == "Datastream":
        return [m.StaDatastream.thing_id.in_(readable_things(principal))]
    if etype_name == "MultiDatastream":
        return [m.StaMultiDatastream.thing_id.in_(readable_things(principal))]
    if etype_name == "HistoricalLocation":
        return [m.StaHistoricalLocation.thing_id.in_(readable_things(principal))]
    if etype_name == "Observation":
        return [observation_condition(principal, m.StaObservation)]
    if etype_name == "Location":
        link = m.thing_location
        # A Location of no Thing is nobody's secret; one shared with a readable Thing is
        # already shown through it.
        return [
            or_(
                not_(exists().where(link.c.location_id == m.StaLocation.id)),
                exists().where(
                    link.c.location_id == m.StaLocation.id,
                    link.c.thing_id.in_(readable_things(principal)),
                ),
            )
        ]
    if etype_name == "FeatureOfInterest":
        obs = m.StaObservation
        foi = m.StaFeatureOfInterest
        return [
            or_(
                not_(exists().where(obs.feature_of_interest_id == foi.id)),
                exists().where(
                    and_(obs.feature_of_interest_id == foi.id),
                    observation_condition(principal, obs),
                ),
            )
        ]
    return []  # Sensors and ObservedProperties are a shared catalogue


def conditions(etype_name: str) -> list[ColumnElement[bool]]:
    """``entity_conditions`` for the caller of the current request (see VIEWER)."""
    return entity_conditions(etype_name, VIEWER.get())
