"""Answers of the insight API: hot spots, rising topics and KPIs, as JSON."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from smartcity.hotline.insight import service as insight


class WindowRead(BaseModel):
    period: str  # day, week, month or range
    first: date
    last: date


class PlaceCountRead(BaseModel):
    code: str  # "" for orders without a place
    district_code: str
    count: int


class CategoryCountRead(BaseModel):
    code: str
    name: str
    name_en: str
    count: int


class SeriesPointRead(BaseModel):
    bucket: str  # YYYY-MM-DD, or YYYY-MM-DD HH for a single day (city time)
    count: int


class HotspotsRead(BaseModel):
    window: WindowRead
    level: str
    category: str | None
    department: str | None
    total: int
    places: list[PlaceCountRead]
    categories: list[CategoryCountRead]
    series: list[SeriesPointRead]


class TopicRead(BaseModel):
    term: str
    count: int
    share: float
    previous_count: int
    previous_share: float
    growth: float


class TopicsRead(BaseModel):
    week_first: date
    week_last: date
    orders: int
    previous_orders: int
    min_count: int
    category: str | None
    topics: list[TopicRead]


class KpiRead(BaseModel):
    key: str  # the department's code, or the street's
    district_code: str
    received: int
    closed: int
    on_time: int
    dispatched: int
    returned: int
    rated: int
    satisfied: int
    reworked: int
    closed_rate: float | None
    on_time_rate: float | None
    satisfaction_rate: float | None
    return_rate: float | None
    rework_rate: float | None
    average_days: float | None
    p90_days: int | None


class KpisRead(BaseModel):
    window: WindowRead
    by: str
    category: str | None
    rows: list[KpiRead]
    total: KpiRead


def window_read(win: insight.Window) -> WindowRead:
    return WindowRead(period=win.period, first=win.first, last=win.last)


def kpi_read(row: insight.Kpi) -> KpiRead:
    return KpiRead(
        key=row.key,
        district_code=row.district_code,
        received=row.received,
        closed=row.closed,
        on_time=row.on_time,
        dispatched=row.dispatched,
        returned=row.returned,
        rated=row.rated,
        satisfied=row.satisfied,
        reworked=row.reworked,
        closed_rate=row.closed_rate,
        on_time_rate=row.on_time_rate,
        satisfaction_rate=row.satisfaction_rate,
        return_rate=row.return_rate,
        rework_rate=row.rework_rate,
        average_days=row.average_days,
        p90_days=row.p90_days,
    )
