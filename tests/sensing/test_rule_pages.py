"""The rules pages (监测规则): the list in words, the form (errors next to their fields and
nothing typed lost), editing, switching off and on, deleting, and who may do it."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.authz import Principal
from smartcity.core.models import Department
from smartcity.sensing.rules import service as rules
from smartcity.sensing.rules.models import SensingRule
from tests.core import factories
from tests.core.test_pages import HTML, csrf_of
from tests.sensing.rule_helpers import observed_property, station
from tests.sensing.test_pages import EN, signed_in

ADMIN = Principal(id=None, kind="admin", name="t")


@pytest.fixture
async def department(session: AsyncSession) -> Department:
    return await factories.create_department(session, name="生态环境局")


@pytest.fixture
async def stream(session: AsyncSession) -> int:
    stream_id, _feature = await station(session, "规则站")
    await session.commit()
    return stream_id


async def form_token(client: httpx.AsyncClient, path: str = "/sensing/rules/new") -> str:
    r = await client.get(path, headers=EN)
    assert r.status_code == 200, r.text
    return csrf_of(r.text)


async def count_rules(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(SensingRule)) or 0)


class TestCreate:
    async def test_a_rule_made_through_the_form_appears(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        department: Department,
        stream: int,
    ) -> None:
        await signed_in(client, session, "staff", department)
        r = await client.get(f"/sensing/rules/new?datastream_id={stream}", headers=EN)
        assert f'name="datastream_id" value="{stream}"' in r.text
        assert "规则站 · 规则站 PM2.5" in r.text  # the stream named next to its number
        assert f'<option value="{department.id}" selected>' in r.text
        r = await client.post(
            "/sensing/rules/new",
            headers=EN,
            data={
                "csrf_token": csrf_of(r.text),
                "name": "PM2.5 连续超标",
                "kind": "n_of_m",
                "n_of_m-op": "above",
                "n_of_m-value": "75",
                "n_of_m-n": "3",
                "n_of_m-m": "5",
                "threshold-value": "999",  # another kind's field: ignored
                "scope": "datastream",
                "datastream_id": str(stream),
                "severity": "critical",
                "department_id": str(department.id),
            },
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/sensing/rules?done=created#rule-")
        [rule] = (await session.scalars(select(SensingRule))).all()
        assert (rule.kind, rule.params) == (
            "n_of_m",
            {"op": "above", "value": 75.0, "n": 3, "m": 5},
        )
        assert (rule.datastream_id, rule.department_id, rule.severity) == (
            stream,
            department.id,
            "critical",
        )
        r = await client.get(r.headers["location"], headers=EN)
        assert f'id="rule-{rule.id}"' in r.text and "PM2.5 连续超标" in r.text
        assert (
            "Alert when at least 3 of the last 5 readings of PM2.5 are above 75 µg/m³; "
            "clear when fewer are"
        ) in r.text
        assert "The rule is defined." in r.text

    async def test_a_rule_for_an_observed_property(
        self, client: httpx.AsyncClient, session: AsyncSession, department: Department
    ) -> None:
        prop = await observed_property(session, "噪声")
        await signed_in(client, session, "admin")
        token = await form_token(client)
        r = await client.post(
            "/sensing/rules/new",
            headers=EN,
            data={
                "csrf_token": token,
                "name": "设备沉默",
                "kind": "silence",
                "silence-minutes": "30",
                "scope": "property",
                "observed_property_id": str(prop),
                "datastream_id": "",
                "severity": "warning",
                "department_id": "",
            },
        )
        assert r.status_code == 303, r.text
        [rule] = (await session.scalars(select(SensingRule))).all()
        assert (rule.observed_property_id, rule.datastream_id, rule.params) == (
            prop,
            None,
            {"minutes": 30},
        )
        r = await client.get("/sensing/rules", headers=EN)
        assert "every datastream of" in r.text and "噪声" in r.text
        assert "no reading for 30 minutes" in r.text

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"name": ""}, "name"),
            ({"threshold-value": "很高"}, "threshold-value"),
            ({"threshold-value": ""}, "threshold-value"),
            ({"threshold-hysteresis": "-1"}, "threshold-hysteresis"),
            ({"kind": "rate", "rate-limit": "0", "rate-window_minutes": "5"}, "rate-limit"),
            (
                {"kind": "rate", "rate-limit": "2", "rate-window_minutes": "1.5"},
                "rate-window_minutes",
            ),
            ({"kind": "silence", "silence-minutes": "99999"}, "silence-minutes"),
            (
                {"kind": "n_of_m", "n_of_m-value": "1", "n_of_m-n": "6", "n_of_m-m": "5"},
                "n_of_m-n",
            ),
            ({"kind": "sometimes"}, "kind"),
            ({"datastream_id": "abc"}, "datastream_id"),
            ({"datastream_id": "999999"}, "datastream_id"),
            ({"scope": "property", "observed_property_id": ""}, "observed_property_id"),
            ({"severity": "apocalyptic"}, "severity"),
        ],
    )
    async def test_errors_are_marked_and_nothing_typed_is_lost(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        department: Department,
        stream: int,
        changes: dict[str, str],
        field: str,
    ) -> None:
        await signed_in(client, session, "staff", department)
        data = {
            "csrf_token": await form_token(client),
            "name": "PM2.5 超标（测试）",
            "kind": "threshold",
            "threshold-op": "below",
            "threshold-value": "75",
            "threshold-hysteresis": "5",
            "scope": "datastream",
            "datastream_id": str(stream),
            "severity": "info",
            "department_id": str(department.id),
            **changes,
        }
        r = await client.post("/sensing/rules/new", headers=EN, data=data)
        assert r.status_code == 422, r.text
        assert f'id="f-{field}-error"' in r.text and f'href="#f-{field}"' in r.text
        for name in ("name", "threshold-value", "threshold-hysteresis", "datastream_id"):
            if data[name]:
                assert f'name="{name}" value="{data[name]}"' in r.text or (
                    name == "name" and f'value="{data[name]}"' in r.text
                ), name
        assert '<option value="below" selected>' in r.text
        assert await count_rules(session) == 0

    async def test_staff_cannot_hand_a_rule_to_another_department(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        department: Department,
        stream: int,
    ) -> None:
        other = await factories.create_department(session, name="交通运输局")
        await session.commit()
        await signed_in(client, session, "staff", department)
        r = await client.get("/sensing/rules/new", headers=EN)
        assert str(other.id) not in r.text  # not offered
        r = await client.post(
            "/sensing/rules/new",
            headers=EN,
            data={
                "csrf_token": csrf_of(r.text),
                "name": "越权",
                "kind": "silence",
                "silence-minutes": "10",
                "scope": "datastream",
                "datastream_id": str(stream),
                "severity": "info",
                "department_id": str(other.id),
            },
        )
        assert r.status_code == 403 and 'id="f-department_id-error"' in r.text
        assert 'value="越权"' in r.text
        assert await count_rules(session) == 0

    async def test_without_csrf_nothing_is_made(
        self, client: httpx.AsyncClient, session: AsyncSession, stream: int
    ) -> None:
        await signed_in(client, session, "admin")
        r = await client.post(
            "/sensing/rules/new",
            headers=HTML,
            data={"name": "x", "kind": "silence", "silence-minutes": "5", "datastream_id": stream},
        )
        assert r.status_code in (400, 403)
        assert await count_rules(session) == 0


class TestChange:
    async def rule(self, session: AsyncSession, stream: int, department: Department) -> int:
        rule = await rules.create_rule(
            session,
            ADMIN,
            name="PM2.5 超标",
            kind="threshold",
            params={"op": "above", "value": 75, "hysteresis": 5},
            datastream_id=stream,
            department_id=department.id,
        )
        await session.commit()
        return rule.id

    async def test_edit_switch_off_on_and_delete(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        department: Department,
        stream: int,
    ) -> None:
        rule_id = await self.rule(session, stream, department)
        await signed_in(client, session, "staff", department)
        r = await client.get("/sensing/rules", headers=EN)
        assert "Alert when PM2.5 is above 75 µg/m³; clear at 70 µg/m³ or below" in r.text
        token = csrf_of(r.text)
        r = await client.get(f"/sensing/rules/{rule_id}/edit", headers=EN)
        assert 'name="threshold-value" value="75"' in r.text
        assert 'name="rate-limit"' not in r.text  # the kind is fixed: only its fields
        r = await client.post(
            f"/sensing/rules/{rule_id}/edit",
            headers=EN,
            data={
                "csrf_token": token,
                "name": "PM2.5 超标（改）",
                "kind": "rate",  # ignored: the kind cannot change
                "threshold-op": "above",
                "threshold-value": "abc",
                "scope": "datastream",
                "datastream_id": str(stream),
                "severity": "warning",
                "department_id": str(department.id),
            },
        )
        assert r.status_code == 422 and 'id="f-threshold-value-error"' in r.text
        assert 'value="PM2.5 超标（改）"' in r.text and 'value="abc"' in r.text
        stored = await session.get(SensingRule, rule_id)
        assert stored is not None
        await session.refresh(stored)
        assert stored.name == "PM2.5 超标" and stored.params["value"] == 75
        r = await client.post(
            f"/sensing/rules/{rule_id}/edit",
            headers=EN,
            data={
                "csrf_token": token,
                "name": "PM2.5 超标（改）",
                "threshold-op": "above",
                "threshold-value": "115",
                "scope": "datastream",
                "datastream_id": str(stream),
                "severity": "critical",
                "department_id": str(department.id),
            },
        )
        assert r.status_code == 303, r.text
        await session.refresh(stored)
        assert (stored.name, stored.kind, stored.params["value"], stored.severity) == (
            "PM2.5 超标（改）",
            "threshold",
            115,
            "critical",
        )
        r = await client.post(
            f"/sensing/rules/{rule_id}/active",
            headers=HTML,
            data={"csrf_token": token, "active": "0"},
        )
        assert r.status_code == 303 and "done=deactivated" in r.headers["location"]
        await session.refresh(stored)
        assert stored.active is False
        r = await client.get("/sensing/rules", headers=EN)
        assert re.search(rf'id="rule-{rule_id}" class="is-off"', r.text)
        assert "Switch on" in r.text
        r = await client.post(
            f"/sensing/rules/{rule_id}/active",
            headers=HTML,
            data={"csrf_token": token, "active": "1"},
        )
        await session.refresh(stored)
        assert stored.active is True
        r = await client.post(
            f"/sensing/rules/{rule_id}/delete", headers=HTML, data={"csrf_token": token}
        )
        assert r.status_code == 303 and r.headers["location"] == "/sensing/rules?done=deleted"
        assert await count_rules(session) == 0

    async def test_supervisors_read_only_and_other_departments_see_no_buttons(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        department: Department,
        stream: int,
    ) -> None:
        rule_id = await self.rule(session, stream, department)
        await signed_in(client, session, "staff")  # another department
        r = await client.get("/sensing/rules", headers=EN)
        assert r.status_code == 200 and "PM2.5 超标" in r.text
        assert f"/sensing/rules/{rule_id}/edit" not in r.text
        token = csrf_of(r.text)
        r = await client.post(
            f"/sensing/rules/{rule_id}/delete", headers=HTML, data={"csrf_token": token}
        )
        assert r.status_code == 403
        assert await count_rules(session) == 1

    async def test_supervisor_cannot_open_the_form(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await signed_in(client, session, "supervisor")
        assert (await client.get("/sensing/rules", headers=HTML)).status_code == 200
        assert (await client.get("/sensing/rules/new", headers=HTML)).status_code == 403

    async def test_anonymous_goes_to_sign_in(self, client: httpx.AsyncClient) -> None:
        for path in ("/sensing/rules", "/sensing/rules/new"):
            r = await client.get(path, headers=HTML)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")


class TestLanguage:
    """The rules list on an English page: the observed property by its English label where
    labels.py knows it, names that are data marked lang="zh-CN" where they stay Chinese, the
    department by its English name; on a Chinese page all of it in Chinese, unmarked."""

    async def rules_on(
        self, session: AsyncSession, department: Department, prop_name: str, stream_name: str
    ) -> None:
        prop = await observed_property(session, prop_name)
        stream_id, _feature = await station(session, stream_name, property_id=prop)
        for on_stream, on_property in ((stream_id, None), (None, prop)):
            await rules.create_rule(
                session,
                ADMIN,
                name="空气质量指数超过200（重度污染及以上）",
                kind="threshold",
                params={"op": "above", "value": 200, "hysteresis": 10},
                datastream_id=on_stream,
                observed_property_id=on_property,
                department_id=department.id,
            )
        await session.commit()

    async def test_a_known_property_is_said_in_english_and_names_are_marked(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        department = await factories.create_department(
            session, name="生态环境局", name_en="Ecology and Environment Bureau"
        )
        await self.rules_on(session, department, "空气质量指数（小时）", "光明站")
        await signed_in(client, session, "staff", department)
        r = await client.get("/sensing/rules", headers=EN)
        assert r.status_code == 200
        assert "Alert when Air quality index (hourly) is above 200 µg/m³; clear" in r.text
        assert "<strong>Air quality index (hourly)</strong>" in r.text
        assert re.search(
            r'<span lang="zh-CN"[^>]*>空气质量指数超过200（重度污染及以上）</span>', r.text
        )
        assert re.search(r'<span lang="zh-CN"[^>]*>光明站 · 光明站 PM2.5</span>', r.text)
        assert "Ecology and Environment Bureau" in r.text and "生态环境局" not in r.text
        assert "空气质量指数（小时）" not in r.text

        r = await client.get("/sensing/rules", headers=HTML)
        assert "空气质量指数（小时）" in r.text and "生态环境局" in r.text
        assert 'lang="zh-CN" class="zh-name"' not in r.text

    async def test_an_unknown_chinese_property_is_marked_inside_the_sentence(
        self, client: httpx.AsyncClient, session: AsyncSession, department: Department
    ) -> None:
        await self.rules_on(session, department, "臭氧<b>", "西乡站")
        await signed_in(client, session, "staff", department)
        r = await client.get("/sensing/rules", headers=EN)
        # The name is marked and escaped; the sentence around it stays English.
        assert re.search(
            r'Alert when <span lang="zh-CN"[^>]*>臭氧&lt;b&gt;</span> is above 200 µg/m³; '
            r"clear at 190 µg/m³ or below",
            r.text,
        )
        assert "臭氧<b>" not in r.text
