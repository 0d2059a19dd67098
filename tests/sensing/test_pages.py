"""The sensing staff pages (物联感知): devices map and list by status and kind, one Thing, a
datastream's chart of aggregates with its GET form, and the dead letters; who may see them,
and bad input marked on its field with the values kept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.models import Account, Department
from smartcity.sensing import models as m
from smartcity.sensing import pages
from smartcity.sensing.rules import service as rules
from tests.core import factories
from tests.core.test_pages import HTML, get_form, sign_in
from tests.sensing.rule_helpers import feed
from tests.sensing.test_status import device

EN = {**HTML, "Accept-Language": "en"}


async def signed_in(
    client: httpx.AsyncClient,
    session: AsyncSession,
    kind: str = "staff",
    department: Department | None = None,
) -> Account:
    """Sign in through the pages (second factor included for staff kinds)."""
    secret = pyotp.random_base32() if kind in ("staff", "supervisor", "admin") else None
    account = await factories.create_account(
        session, kind=kind, department=department, totp_secret=secret
    )
    await session.commit()
    r = await sign_in(client, account.username)
    assert r.status_code == 303, r.text
    if secret:
        token = await get_form(client, "/login/totp")
        r = await client.post(
            "/login/totp",
            headers=HTML,
            data={"csrf_token": token, "code": pyotp.TOTP(secret).now(), "next": "/"},
        )
        assert r.status_code == 303, r.text
    return account


@dataclass(frozen=True)
class City:
    now: datetime
    fresh: int
    fresh_stream: int
    silent: int
    quiet: int


@pytest.fixture
async def city(session: AsyncSession) -> City:
    """Three devices, one per status, two kinds; readings relative to the real clock (the
    pages' sign-in runs on it)."""
    now = datetime.now(UTC).replace(microsecond=0)
    fresh, fresh_stream = await device(
        session,
        "福田空气站",
        properties={"kind": "air-station", "districtCode": "440304"},
        readings=[now - timedelta(hours=2, minutes=m_) for m_ in (0, 20, 40)]
        + [now - timedelta(minutes=3)],
    )
    silent, _ = await device(
        session,
        "南山车检器",
        properties={"kind": "traffic-detector", "reportingIntervalSeconds": 60},
        readings=[now - timedelta(minutes=10)],
        at=(113.93, 22.52),
    )
    quiet, _ = await device(
        session, "罗湖水表", properties={"kind": "water-meter"}, at=(114.12, 22.55)
    )
    await session.commit()
    return City(
        now=now,
        fresh=fresh,
        fresh_stream=fresh_stream,
        silent=silent,
        quiet=quiet,
    )


def dots(html: str) -> dict[str, str]:
    """Thing id → status of each dot on the map."""
    return dict(
        re.findall(r'<a href="/sensing/things/(\d+)" class="dot" data-status="(\w+)"', html)
    )


class TestWhoMaySee:
    @pytest.mark.parametrize(
        "path", ["/sensing", "/sensing/things/1", "/sensing/datastreams/1", "/sensing/dead-letters"]
    )
    async def test_anonymous_visitors_go_to_sign_in(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        r = await client.get(path, headers=HTML)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")

    async def test_citizens_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session, "citizen")
        for path in ("/sensing", f"/sensing/things/{city.fresh}", "/sensing/dead-letters"):
            r = await client.get(path, headers=HTML)
            assert r.status_code == 403, path
            assert "福田空气站" not in r.text

    async def test_supervisors_read_but_not_dead_letters(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session, "supervisor")
        assert (await client.get("/sensing", headers=HTML)).status_code == 200
        r = await client.get(f"/sensing/datastreams/{city.fresh_stream}", headers=HTML)
        assert r.status_code == 200
        assert "/sensing/dead-letters" not in r.text  # no tab for what they may not open
        assert (await client.get("/sensing/dead-letters", headers=HTML)).status_code == 403

    async def test_the_header_links_to_sensing_for_staff(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session)
        r = await client.get("/", headers=HTML)
        assert '<a href="/sensing"' in r.text


class TestDevices:
    async def test_map_table_and_counts(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session)
        r = await client.get("/sensing", headers=EN)
        assert r.status_code == 200
        found = dots(r.text)
        assert found[str(city.fresh)] == "reporting"
        assert found[str(city.silent)] == "silent"
        assert found[str(city.quiet)] == "no_data"
        # A name with no English is shown in Chinese, marked (render.data_name).
        marked = '<span lang="zh-CN" class="zh-name" title="No English name yet">福田空气站</span>'
        assert f'href="/sensing/things/{city.fresh}" class="dev-name">{marked}' in r.text
        assert ">Futian<" in r.text  # districtCode shown by its English name
        for status in ("reporting", "silent", "no_data"):
            assert f'class="is-{status}' in r.text

    async def test_filters_by_status_and_kind(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session)
        r = await client.get("/sensing", params={"status": "silent"}, headers=EN)
        assert set(dots(r.text).values()) == {"silent"} and str(city.silent) in dots(r.text)
        assert "福田空气站" not in r.text
        r = await client.get("/sensing", params={"kind": "water-meter"}, headers=EN)
        assert set(dots(r.text)) >= {str(city.quiet)} and str(city.fresh) not in dots(r.text)
        assert "罗湖水表" in r.text and "南山车检器" not in r.text

    async def test_bad_status_is_marked(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session)
        r = await client.get(
            "/sensing", params={"status": "broken", "kind": "air-station"}, headers=EN
        )
        assert r.status_code == 422
        assert 'id="f-status-error"' in r.text
        assert '<option value="air-station" selected>' in r.text  # the other filter is kept

    async def test_paging(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        city: City,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(pages, "PAGE_SIZE", 2)
        await signed_in(client, session)
        r = await client.get("/sensing", headers=EN)
        names = re.findall(r'class="dev-name">(?:<span[^>]*>)?([^<]+)<', r.text)
        assert len(names) == 2 and 'rel="next"' in r.text
        pages_total = int(re.search(r"Page 1 of (\d+)", r.text).group(1))  # type: ignore[union-attr]
        r = await client.get("/sensing", params={"page": pages_total}, headers=EN)
        assert 'rel="prev"' in r.text and 'rel="next"' not in r.text
        assert not set(re.findall(r'class="dev-name">([^<]+)<', r.text)) & set(names)


class TestThing:
    async def test_thing_with_latest_values_and_open_alerts(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session, "admin")
        from smartcity.core.authz import Principal

        await rules.create_rule(
            session,
            Principal(id=None, kind="admin", name="t"),
            name="PM2.5 超标",
            kind="threshold",
            params={"op": "above", "value": 30},
            datastream_id=city.fresh_stream,
        )
        await feed(session, (city.fresh_stream, await _feature(session, city)), [(city.now, 88.5)])
        await session.commit()
        r = await client.get(f"/sensing/things/{city.fresh}", headers=EN)
        assert r.status_code == 200
        assert "福田空气站" in r.text and "air station" in r.text
        assert "<strong>88.5</strong> µg/m³" in r.text
        assert f'href="/sensing/datastreams/{city.fresh_stream}"' in r.text
        open_alerts = r.text[r.text.index('id="alerts"') :]
        assert "PM2.5 超标" in open_alerts and "88.5" in open_alerts, open_alerts[:3000]
        # properties listed, known keys in words: districtCode as the district's name
        assert '<th scope="row">District</th><td>Futian</td>' in r.text
        assert (await client.get("/sensing/things/999999", headers=HTML)).status_code == 404


async def _feature(session: AsyncSession, city: City) -> int:
    stream = await session.get(m.StaDatastream, city.fresh_stream)
    assert stream is not None
    from sqlalchemy import select

    found = await session.scalar(
        select(m.StaObservation.feature_of_interest_id).where(
            m.StaObservation.datastream_id == stream.id
        )
    )
    assert found is not None
    return int(found)


class TestDatastream:
    async def test_chart_and_table_of_aggregates(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session)
        url = f"/sensing/datastreams/{city.fresh_stream}"
        r = await client.get(url, headers=EN)
        assert r.status_code == 200
        assert "/static/vendor/plotly.min.js" in r.text and 'id="ds-chart"' in r.text
        # Four readings of 42 in the last 24 hours, each in its own 5-minute bucket.
        table = r.text[r.text.index('class="dev-table ds-table"') :]
        assert table.count('<td class="num">42</td>') == 4 * 3  # avg, min, max
        r = await client.get(
            url, params={"range": "24h", "bucket": "1d", "fn": "count"}, headers=EN
        )
        assert r.status_code == 200
        counts = re.findall(r'<td class="num">(\d+)</td><td class="num">\d+</td></tr>', r.text)
        assert sum(int(c) for c in counts) == 4
        assert "Rules on this datastream" in r.text
        assert f"/sensing/rules/new?datastream_id={city.fresh_stream}" in r.text

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"range": "7d", "bucket": "1min"}, "bucket"),
            ({"range": "forever"}, "range"),
            ({"fn": "median"}, "fn"),
            ({"bucket": "2min"}, "bucket"),
            ({"range": "custom", "from": "yesterday"}, "from"),
            ({"range": "custom", "from": "2026-05-02T08:00", "to": "2026-05-01T08:00"}, "to"),
            ({"range": "custom", "from": "1980-01-01T00:00", "to": "1980-01-02T00:00"}, "from"),
            ({"range": "custom", "from": "2026-05-01T08:00", "to": "not a time"}, "to"),
        ],
    )
    async def test_bad_form_values_are_marked_and_kept(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        city: City,
        params: dict[str, str],
        field: str,
    ) -> None:
        await signed_in(client, session)
        r = await client.get(f"/sensing/datastreams/{city.fresh_stream}", params=params, headers=EN)
        assert r.status_code == 422, r.text
        assert f'id="f-{field}-error"' in r.text and f'href="#f-{field}"' in r.text
        for name in ("from", "to"):
            if name in params:
                assert f'value="{params[name]}"' in r.text

    async def test_custom_range(
        self, client: httpx.AsyncClient, session: AsyncSession, city: City
    ) -> None:
        await signed_in(client, session)
        from smartcity.core import clock

        start = clock.to_city(city.now - timedelta(hours=3))
        end = clock.to_city(city.now - timedelta(hours=1))
        params = {
            "range": "custom",
            "from": f"{start:%Y-%m-%dT%H:%M}",
            "to": f"{end:%Y-%m-%dT%H:%M}",
            "bucket": "1h",
            "fn": "count",
        }
        r = await client.get(f"/sensing/datastreams/{city.fresh_stream}", params=params, headers=EN)
        assert r.status_code == 200
        counts = re.findall(r'<td class="num">(\d+)</td><td class="num">\d+</td></tr>', r.text)
        assert sum(int(c) for c in counts) == 3  # the three readings two hours ago


class TestDeadLetters:
    async def test_list_shows_reason_and_escapes_the_payload(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        now = datetime.now(UTC)
        session.add_all(
            [
                m.StaMqttDeadLetter(
                    received_at=now - timedelta(minutes=1),
                    topic="v1.1/Datastreams(77)/Observations",
                    payload="<script>alert(1)</script>" + "x" * 400,
                    payload_bytes=2048,
                    reason="the payload is not JSON",
                ),
                m.StaMqttDeadLetter(
                    received_at=now - timedelta(days=3),
                    topic="v1.1/Things",
                    payload="{}",
                    payload_bytes=2,
                    reason="not a topic to create Observations on",
                ),
            ]
        )
        await session.commit()
        await signed_in(client, session)
        r = await client.get("/sensing/dead-letters", headers=EN)
        assert r.status_code == 200
        assert "the payload is not JSON" in r.text and "v1.1/Datastreams(77)/Observations" in r.text
        assert "<script>alert(1)" not in r.text and "&lt;script&gt;alert(1)" in r.text
        assert "x" * 400 not in r.text and "2.0 KiB" in r.text
        assert r.text.index("Datastreams(77)") < r.text.index("not a topic to create")
        r = await client.get(
            "/sensing/dead-letters", params={"topic": "Datastreams(77"}, headers=EN
        )
        assert "Datastreams(77)" in r.text and "not a topic to create" not in r.text
        from smartcity.core import clock

        day = f"{clock.to_city(now - timedelta(days=3)):%Y-%m-%d}"
        r = await client.get("/sensing/dead-letters", params={"date": day}, headers=EN)
        assert "not a topic to create" in r.text and "Datastreams(77)" not in r.text

    async def test_bad_date_is_marked(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session)
        r = await client.get(
            "/sensing/dead-letters", params={"date": "31/12/2026", "topic": "abc"}, headers=EN
        )
        assert r.status_code == 422 and 'id="f-date-error"' in r.text
        assert 'value="abc"' in r.text and 'value="31/12/2026"' in r.text
