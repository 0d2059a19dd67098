"""Sensor alerts an officer can act on: a flapping reading folds into one alert (its raises
counted, each step kept in the history), the alert's page and API with acknowledge and
resolve (bad input, wrong state, wrong department, unknown id), the list one row per alert,
and the rules in words in both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock, i18n
from smartcity.core.authz import SYSTEM, Principal
from smartcity.core.models import Department
from smartcity.sensing.rules import alerts, words
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingAlert, SensingAlertEvent, SensingRule
from tests.core import factories
from tests.core.test_pages import HTML, csrf_of
from tests.problems import assert_problem
from tests.sensing.rule_helpers import feed, station
from tests.sensing.test_alerts import bearer
from tests.sensing.test_pages import signed_in

T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
ADMIN = Principal(id=None, kind="admin", name="管理员")
ALERTS = "/api/v1/sensing/alerts"
EN = {**HTML, "Accept-Language": "en"}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def threshold_rule(
    session: AsyncSession, stream: int, department: Department | None = None
) -> SensingRule:
    return await rules.create_rule(
        session,
        ADMIN,
        name="PM2.5 超标",
        kind="threshold",
        params={"op": "above", "value": 100, "hysteresis": 10},
        datastream_id=stream,
        department_id=department.id if department else None,
        severity="critical",
    )


async def alerts_of(session: AsyncSession, rule_id: int) -> list[SensingAlert]:
    found = await session.scalars(
        select(SensingAlert).where(SensingAlert.rule_id == rule_id).order_by(SensingAlert.id)
    )
    return list(found.all())


async def kinds_of(session: AsyncSession, alert_id: int) -> list[str]:
    found = await session.scalars(
        select(SensingAlertEvent.kind)
        .where(SensingAlertEvent.alert_id == alert_id)
        .order_by(SensingAlertEvent.id)
    )
    return list(found.all())


def flapping(times: int, *, every: float = 4) -> list[tuple[datetime, float]]:
    """A reading crossing the line ``times`` times, each time clearing a minute later."""
    out: list[tuple[datetime, float]] = []
    for i in range(times):
        out += [(at(i * every), 120.0), (at(i * every + 1), 80.0)]
    return out


class TestFolding:
    async def test_five_flaps_inside_the_window_are_one_alert_raised_five_times(
        self, session: AsyncSession
    ) -> None:
        stream = await station(session)
        rule = await threshold_rule(session, stream[0])
        await feed(session, stream, flapping(5))
        [alert] = await alerts_of(session, rule.id)
        assert (alert.raise_count, alert.status, alert.resolution) == (5, "resolved", "auto")
        assert await kinds_of(session, alert.id) == [
            "raised",
            *(["auto_resolved", "reopened"] * 4),
            "auto_resolved",
        ]
        events = (
            await session.scalars(
                select(SensingAlertEvent)
                .where(SensingAlertEvent.alert_id == alert.id)
                .order_by(SensingAlertEvent.id)
            )
        ).all()
        assert [(e.reading_time, e.value) for e in events[:3]] == [
            (at(0), 120.0),
            (at(1), 80.0),
            (at(4), 120.0),
        ]
        assert {e.actor for e in events} == {"platform"}

    async def test_in_one_delivery_and_one_by_one_alike(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await threshold_rule(session, stream[0])
        for reading in flapping(3):
            await feed(session, stream, [reading])
        [alert] = await alerts_of(session, rule.id)
        assert alert.raise_count == 3

    async def test_a_raise_after_the_window_is_a_new_alert(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await threshold_rule(session, stream[0])
        window = alerts.FOLD_WINDOW / timedelta(minutes=1)
        await feed(session, stream, [(at(0), 120), (at(1), 80)])
        await feed(session, stream, [(at(1 + window), 120)])  # exactly at the window: folds
        await feed(session, stream, [(at(2 + window), 80), (at(3 + 2 * window), 130)])
        first, second = await alerts_of(session, rule.id)
        assert (first.raise_count, first.status) == (2, "resolved")
        assert (second.raise_count, second.status, second.first_value) == (1, "open", 130)
        assert await kinds_of(session, second.id) == ["raised"]

    async def test_an_alert_resolved_by_hand_is_not_reopened(self, session: AsyncSession) -> None:
        stream = await station(session)
        rule = await threshold_rule(session, stream[0])
        officer = await factories.create_account(session, kind="staff")
        await feed(session, stream, [(at(0), 120)])
        [alert] = await alerts_of(session, rule.id)
        staff = Principal(id=officer.id, kind="staff", name="李工")
        await alerts.resolve(session, staff, alert.id, "已更换滤膜")
        await feed(session, stream, [(at(2), 125)])
        first, second = await alerts_of(session, rule.id)
        assert (first.status, first.raise_count, second.status) == ("resolved", 1, "open")
        assert await kinds_of(session, first.id) == ["raised", "resolved"]

    async def test_acknowledged_before_clearing_comes_back_acknowledged(
        self, session: AsyncSession
    ) -> None:
        stream = await station(session)
        rule = await threshold_rule(session, stream[0])
        await feed(session, stream, [(at(0), 120)])
        [alert] = await alerts_of(session, rule.id)
        await alerts.acknowledge(session, ADMIN, alert.id, "在查")
        await feed(session, stream, [(at(1), 80), (at(3), 120)])
        assert (alert.status, alert.raise_count, alert.resolved_at) == ("acknowledged", 2, None)

    async def test_a_concurrent_reopening_makes_no_second_alert(
        self, session: AsyncSession
    ) -> None:
        """Another delivery reopened the alert after this one read it as resolved: the
        conditional update finds nothing to reopen, and the raise counts as a repeat breach
        on the alert the other opened (no second alert, no double count)."""
        stream = await station(session)
        rule = await threshold_rule(session, stream[0])
        await feed(session, stream, [(at(0), 120), (at(1), 80)])
        [alert] = await alerts_of(session, rule.id)
        assert alert.status == "resolved"
        # The other delivery's reopening, straight in the table: this session's copy still
        # says resolved.
        await session.execute(
            update(SensingAlert)
            .where(SensingAlert.id == alert.id)
            .values(status="open", raise_count=2, resolved_at=None, resolution=None)
            .execution_options(synchronize_session=False)
        )
        assert alert.status == "resolved"
        found = await alerts.raise_alert(
            session, SYSTEM, rule, stream[0], None, value=121.0, at=at(2), message="again"
        )
        assert (found.id, found.status, found.raise_count) == (alert.id, "open", 2)
        assert len(await alerts_of(session, rule.id)) == 1
        assert await kinds_of(session, alert.id) == ["raised", "auto_resolved"]


# --- the API ---------------------------------------------------------------------------------


@pytest.fixture
async def setting(session: AsyncSession) -> dict[str, Any]:
    department = await factories.create_department(session, name="生态环境局")
    officer = await factories.create_account(session, kind="staff", department=department)
    outsider = await factories.create_account(session, kind="staff")
    stream = await station(session)
    rule = await threshold_rule(session, stream[0], department)
    with clock.frozen(at(10)):
        await feed(session, stream, flapping(2))
        await feed(session, stream, [(at(9), 130)])
    [alert] = await alerts_of(session, rule.id)
    await session.commit()
    return {
        "department": department,
        "officer": officer,
        "outsider": outsider,
        "stream": stream,
        "rule": rule,
        "alert_id": alert.id,
    }


class TestApi:
    async def test_one_alert_with_its_words_and_history(
        self, client: httpx.AsyncClient, setting: dict[str, Any]
    ) -> None:
        r = await client.get(
            f"{ALERTS}/{setting['alert_id']}",
            headers={**bearer(setting["officer"]), "Accept-Language": "en"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["raise_count"]) == ("open", 3)
        assert body["rule_in_words"] == (
            "Alert when PM2.5 is above 100 µg/m³; clear at 90 µg/m³ or below"
        )
        assert [e["kind"] for e in body["history"]] == [
            "raised",
            "auto_resolved",
            "reopened",
            "auto_resolved",
            "reopened",
        ]
        assert body["history"][0]["value"] == 120.0

    async def test_acknowledge_then_resolve_with_a_note(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any]
    ) -> None:
        alert_id, headers = setting["alert_id"], bearer(setting["officer"])
        r = await client.post(f"{ALERTS}/{alert_id}/acknowledge", json={}, headers=headers)
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"
        r = await client.post(f"{ALERTS}/{alert_id}/acknowledge", json={}, headers=headers)
        assert_problem(r, 409, "conflict")
        r = await client.post(
            f"{ALERTS}/{alert_id}/resolve", json={"note": "已清洗采样头"}, headers=headers
        )
        assert r.status_code == 200 and r.json()["status"] == "resolved"
        r = await client.get(f"{ALERTS}/{alert_id}", headers=headers)
        history = r.json()["history"]
        assert [e["kind"] for e in history][-2:] == ["acknowledged", "resolved"]
        assert history[-1]["note"] == "已清洗采样头"
        assert history[-1]["actor"] not in ("", "platform")
        # Resolved: neither acknowledged nor resolved again.
        r = await client.post(f"{ALERTS}/{alert_id}/acknowledge", json={}, headers=headers)
        assert_problem(r, 409, "conflict")
        r = await client.post(
            f"{ALERTS}/{alert_id}/resolve", json={"note": "再次"}, headers=headers
        )
        assert_problem(r, 409, "conflict")

    @pytest.mark.parametrize(
        "body",
        [{}, {"note": ""}, {"note": "   "}, {"note": "长" * 501}, {"note": 5}, {"other": "x"}],
    )
    async def test_resolve_needs_a_note_of_1_to_500_characters(
        self, client: httpx.AsyncClient, setting: dict[str, Any], body: dict[str, Any]
    ) -> None:
        r = await client.post(
            f"{ALERTS}/{setting['alert_id']}/resolve", json=body, headers=bearer(setting["officer"])
        )
        problem = assert_problem(r, 422, "invalid-input")
        assert problem["field"] == ("other" if "other" in body else "note")

    async def test_an_acknowledgement_note_is_optional_but_bounded(
        self, client: httpx.AsyncClient, setting: dict[str, Any]
    ) -> None:
        url, headers = f"{ALERTS}/{setting['alert_id']}/acknowledge", bearer(setting["officer"])
        r = await client.post(url, json={"note": "长" * 501}, headers=headers)
        assert assert_problem(r, 422, "invalid-input")["field"] == "note"
        r = await client.post(url, headers=headers)  # no body at all
        assert r.status_code == 200 and r.json()["status"] == "acknowledged"

    async def test_a_note_of_500_characters_is_kept(
        self, client: httpx.AsyncClient, setting: dict[str, Any]
    ) -> None:
        r = await client.post(
            f"{ALERTS}/{setting['alert_id']}/resolve",
            json={"note": "长" * 500},
            headers=bearer(setting["officer"]),
        )
        assert r.status_code == 200 and r.json()["note"] == "长" * 500

    async def test_another_departments_officer_may_not_act(
        self, client: httpx.AsyncClient, setting: dict[str, Any]
    ) -> None:
        headers = bearer(setting["outsider"])
        url = f"{ALERTS}/{setting['alert_id']}"
        assert_problem(await client.post(f"{url}/acknowledge", json={}, headers=headers), 403,
                       "forbidden")  # fmt: skip
        assert_problem(
            await client.post(f"{url}/resolve", json={"note": "越权"}, headers=headers),
            403,
            "forbidden",
        )
        r = await client.get(url, headers=headers)  # reading is for every officer
        assert r.status_code == 200

    @pytest.mark.parametrize("alert_id", ["999999", "0", "-1", "abc", "9" * 30])
    async def test_unknown_alerts(
        self, client: httpx.AsyncClient, setting: dict[str, Any], alert_id: str
    ) -> None:
        headers = bearer(setting["officer"])
        r = await client.get(f"{ALERTS}/{alert_id}", headers=headers)
        if alert_id == "999999":
            assert_problem(r, 404, "not-found")
            r = await client.post(
                f"{ALERTS}/{alert_id}/resolve", json={"note": "x"}, headers=headers
            )
            assert_problem(r, 404, "not-found")
        else:
            assert_problem(r, 422, "invalid-input")


# --- the pages -------------------------------------------------------------------------------


class TestPages:
    async def test_the_list_has_one_row_per_alert_with_its_count_and_link(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any]
    ) -> None:
        await signed_in(client, session, "staff", setting["department"])
        r = await client.get("/sensing/alerts", headers=EN)
        assert r.status_code == 200
        alert_id = setting["alert_id"]
        assert r.text.count(f'id="alert-{alert_id}"') == 1
        assert f'href="/sensing/alerts/{alert_id}"' in r.text
        assert "raised 3 times" in r.text
        assert "Alert when PM2.5 is above 100 µg/m³; clear at 90 µg/m³ or below" in r.text
        r = await client.get("/sensing/alerts?state=resolved", headers=EN)
        assert f'id="alert-{alert_id}"' not in r.text
        r = await client.get("/sensing/alerts?state=active", headers=EN)
        assert f'id="alert-{alert_id}"' in r.text

    @pytest.mark.parametrize("query", ["state=closed", "page=0", "page=x", "page=99999999"])
    async def test_bad_filters_are_marked(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any], query: str
    ) -> None:
        await signed_in(client, session, "staff", setting["department"])
        r = await client.get(f"/sensing/alerts?{query}", headers=EN)
        assert r.status_code == 422
        assert 'class="error-summary"' in r.text

    async def test_pages_of_25_newest_raise_first(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any]
    ) -> None:
        stream = await station(session, "龙岗站")
        rule = await threshold_rule(session, stream[0], setting["department"])
        # 30 separate episodes, each past the fold window, raised one hour apart.
        for i in range(30):
            with clock.frozen(at(60 * i + 100)):
                await feed(session, stream, [(at(60 * i + 100), 150), (at(60 * i + 101), 50)])
        assert len(await alerts_of(session, rule.id)) == 30
        await session.commit()
        await signed_in(client, session, "staff", setting["department"])
        r = await client.get("/sensing/alerts", headers=EN)
        ids = [int(i) for i in re.findall(r'id="alert-(\d+)"', r.text)]
        assert len(ids) == 25 and ids == sorted(ids, reverse=True)
        assert 'rel="next"' in r.text
        r = await client.get("/sensing/alerts?page=2", headers=EN)
        later = [int(i) for i in re.findall(r'id="alert-(\d+)"', r.text)]
        assert len(later) == 31 - 25 and not set(ids) & set(later)

    async def test_the_alert_page_and_resolving_with_a_note(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any]
    ) -> None:
        await signed_in(client, session, "staff", setting["department"])
        alert_id = setting["alert_id"]
        r = await client.get(f"/sensing/alerts/{alert_id}", headers=EN)
        assert r.status_code == 200
        assert "Alert when PM2.5 is above 100 µg/m³" in r.text
        assert '<div id="alert-chart"' in r.text and '"y": 100.0' in r.text  # the threshold
        assert "Raised again" in r.text and "Cleared by itself" in r.text
        assert f'action="/sensing/alerts/{alert_id}/acknowledge"' in r.text
        token = csrf_of(r.text)
        url = f"/sensing/alerts/{alert_id}/resolve"
        r = await client.post(url, headers=EN, data={"csrf_token": token, "note": ""})
        assert r.status_code == 422 and 'id="f-resolve-note-error"' in r.text
        r = await client.post(url, headers=EN, data={"csrf_token": token, "note": "x" * 501})
        assert r.status_code == 422 and 'id="f-resolve-note-error"' in r.text
        assert "x" * 501 in r.text  # what was typed is kept
        r = await client.post(url, headers=EN, data={"note": "no token"})
        assert r.status_code in (400, 403)
        r = await client.post(url, headers=EN, data={"csrf_token": token, "note": "滤膜已更换"})
        assert r.status_code == 303 and r.headers["location"] == (
            f"/sensing/alerts/{alert_id}?done=resolve"
        )
        r = await client.get(r.headers["location"], headers=EN)
        assert "滤膜已更换" in r.text
        assert f'action="/sensing/alerts/{alert_id}/acknowledge"' not in r.text
        r = await client.post(
            f"/sensing/alerts/{alert_id}/acknowledge", headers=EN, data={"csrf_token": token}
        )
        assert r.status_code == 409 and "A resolved alert cannot be acknowledged." in r.text

    async def test_another_department_sees_the_alert_without_forms(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any]
    ) -> None:
        await signed_in(client, session, "staff", await factories.create_department(session))
        r = await client.get(f"/sensing/alerts/{setting['alert_id']}", headers=EN)
        assert r.status_code == 200
        # The department by its English name on an English page.
        english = setting["department"].name_en
        assert "/resolve" not in r.text and f"Only staff of {english} may act" in r.text
        token = csrf_of(r.text)
        r = await client.post(
            f"/sensing/alerts/{setting['alert_id']}/resolve",
            headers=EN,
            data={"csrf_token": token, "note": "越权"},
        )
        assert r.status_code == 403

    async def test_an_unknown_alert_page_is_404(
        self, client: httpx.AsyncClient, session: AsyncSession, setting: dict[str, Any]
    ) -> None:
        await signed_in(client, session, "staff", setting["department"])
        assert (await client.get("/sensing/alerts/999999", headers=EN)).status_code == 404
        for bad in ("0", "abc", "9" * 30):
            r = await client.get(f"/sensing/alerts/{bad}", headers=EN)
            assert r.status_code in (404, 422), (bad, r.status_code)


# --- rules in words ------------------------------------------------------------------------


WORDS = [
    (
        "threshold",
        {"op": "above", "value": 100, "hysteresis": 10},
        "Alert when PM2.5 is above 100 µg/m³; clear at 90 µg/m³ or below",
        "PM2.5 高于 100 µg/m³ 时告警，降至 90 µg/m³ 及以下时恢复",
    ),
    (
        "threshold",
        {"op": "below", "value": 5, "hysteresis": 0.5},
        "Alert when PM2.5 is below 5 µg/m³; clear at 5.5 µg/m³ or above",
        "PM2.5 低于 5 µg/m³ 时告警，回升至 5.5 µg/m³ 及以上时恢复",
    ),
    (
        "rate",
        {"limit": 3, "window_minutes": 10},
        "Alert when PM2.5 changes by more than 3 µg/m³ per minute within 10 minutes; clear "
        "when it changes more slowly",
        "PM2.5 在 10 分钟内每分钟变化超过 3 µg/m³ 时告警，变化放缓后恢复",
    ),
    (
        "silence",
        {"minutes": 30},
        "Alert when PM2.5 sends no reading for 30 minutes; clear when data arrives again",
        "PM2.5 连续 30 分钟无数据时告警，数据恢复后解除",
    ),
    (
        "n_of_m",
        {"op": "above", "value": 75, "n": 3, "m": 5},
        "Alert when at least 3 of the last 5 readings of PM2.5 are above 75 µg/m³; clear when "
        "fewer are",
        "PM2.5 最近 5 次读数中至少 3 次高于 75 µg/m³ 时告警，少于 3 次时恢复",
    ),
    (
        "n_of_m",
        {"op": "below", "value": 2, "n": 2, "m": 4},
        "Alert when at least 2 of the last 4 readings of PM2.5 are below 2 µg/m³; clear when "
        "fewer are",
        "PM2.5 最近 4 次读数中至少 2 次低于 2 µg/m³ 时告警，少于 2 次时恢复",
    ),
]


@pytest.mark.parametrize(("kind", "params", "english", "chinese"), WORDS)
async def test_rules_in_words(
    session: AsyncSession, kind: str, params: dict[str, Any], english: str, chinese: str
) -> None:
    stream = await station(session)
    rule = await rules.create_rule(
        session, ADMIN, name="规则", kind=kind, params=params, datastream_id=stream[0]
    )
    for locale, expected in (("en", english), ("zh_CN", chinese)):
        token = i18n.current_locale.set(locale)
        try:
            said = await words.rules_in_words(session, [rule])
        finally:
            i18n.current_locale.reset(token)
        assert said == {rule.id: expected}


@pytest.mark.parametrize(
    ("unit", "symbol"),
    [
        ({"name": "microgram per cubic metre", "symbol": "ug/m3", "definition": "ucum:ug/m3"},
         "µg/m³"),
        ({"symbol": "x", "definition": "http://unitsofmeasure.org/ucum.html#Cel"}, "°C"),
        ({"name": "decibel", "symbol": "dB[A]", "definition": ""}, "dB(A)"),
        ({"name": "index", "symbol": "1", "definition": "ucum:1"}, ""),
        ({"name": "vehicle", "symbol": "辆", "definition": "ucum:{vehicle}"}, "辆"),
        ({}, ""),
        ("not a unit", ""),
    ],
)  # fmt: skip
def test_units_are_shown_as_people_read_them(unit: Any, symbol: str) -> None:
    assert words.unit_symbol(unit) == symbol
