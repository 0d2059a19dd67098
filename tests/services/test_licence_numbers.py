"""Licence numbers carry a check part derived with the instance secret: the public check by
number needs the whole number, so walking the sequence finds nothing, and the answer shows
the holder masked. Numbers issued before check parts are checked with theirs appended."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.errors import NotFound
from smartcity.services import licences
from smartcity.services.models import ServiceItem
from tests.cases.factories import world
from tests.problems import assert_problem
from tests.services.test_licences import (
    DAY,
    HTML,
    _issued,
    approved,
    food_item,
    full,
    licence_of,
    linked_person,
)


def _neighbours(number: str) -> list[str]:
    """What someone walking the sequence would try next to a number they saw."""
    base, _dash, check = number.rpartition("-")
    stem, seq = base[:-6], int(base[-6:])
    guesses = [f"{stem}{seq + 1:06d}-{check}", f"{stem}{seq - 1:06d}-{check}", base]
    guesses += [f"{base}-{c * 5}" for c in "0AZ" if c * 5 != check]
    return guesses


class TestCheckPart:
    def test_check_part_is_five_unambiguous_characters(self) -> None:
        check = licences.check_part("SCJGJ-003-2026-000001")
        assert len(check) == licences.CHECK_LENGTH == 5
        assert set(check) <= set(licences.CHECK_ALPHABET)
        assert not set("ILOU") & set(licences.CHECK_ALPHABET)

    def test_neighbours_have_unrelated_check_parts(self) -> None:
        parts = {licences.check_part(f"SCJGJ-003-2026-{n:06d}") for n in range(1, 51)}
        assert len(parts) >= 49  # 25 bits each: a collision in 50 is a one-in-a-million

    def test_check_part_depends_on_the_instance_secret(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from smartcity.settings import get_settings

        before = licences.check_part("SCJGJ-003-2026-000001")
        settings = get_settings()
        monkeypatch.setattr(type(settings), "resolved_secret", lambda self: b"another secret")
        assert licences.check_part("SCJGJ-003-2026-000001") != before

    @pytest.mark.parametrize(
        ("name", "kind", "shown"),
        [
            ("张三", "resident_id", "张*"),
            ("张小三", "resident_id", "张*三"),
            ("欧阳小明", "resident_id", "欧**明"),
            ("深圳市南山区某某科技有限公司", "uscc", "深圳市****有限公司"),
            ("某某商行", "uscc", "某**行"),
            ("", "resident_id", ""),
        ],
    )
    def test_holder_masking(self, name: str, kind: str, shown: str) -> None:
        assert licences.mask_holder_name(name, kind) == shown


class TestGuessing:
    async def test_a_guessed_neighbour_number_is_unknown(self, session: AsyncSession) -> None:
        _w, lic = await _issued(session)
        with clock.frozen(DAY):
            assert (await licences.check_licence(session, lic.number)).status == "valid"
            for guess in _neighbours(lic.number):
                with pytest.raises(NotFound):
                    await licences.check_licence(session, guess)

    async def test_api_and_page_answer_a_guess_as_unknown(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _w, lic = await _issued(session)
        await session.commit()
        for guess in _neighbours(lic.number)[:3]:
            r = await client.get(f"/api/v1/licences/{guess}")
            assert_problem(r, 404, "not-found")
            page = await client.get(f"/licences/{guess}", headers=HTML)
            assert page.status_code == 404 and 'class="verdict invalid"' in page.text


class TestNumbersFromBeforeCheckParts:
    async def test_old_number_is_checked_with_its_check_part_appended(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        w = await world(session)
        item = await food_item(session)
        await linked_person(session, w.applicant)
        old = "SCJGJ-003-2026-000001"

        async def as_before(_session: AsyncSession, _item: ServiceItem, _on: date) -> str:
            return old  # how numbers were made before check parts

        with monkeypatch.context() as patch, clock.frozen(DAY):
            patch.setattr(licences, "_next_number", as_before)
            first = await licence_of(session, await approved(session, w, item))
        assert first.number == old
        assert licences.verification_number(old) == full(old)
        with clock.frozen(DAY):
            with pytest.raises(NotFound):
                await licences.check_licence(session, old)  # the bare old number: unknown
            check = await licences.check_licence(session, full(old))
            assert check.status == "valid" and check.licence is not None
            assert check.licence.id == first.id
            # The sequence goes on after the old number, now with a check part.
            second = await licence_of(session, await approved(session, w, item))
        assert second.number == full("SCJGJ-003-2026-000002")
        assert licences.verification_number(second.number) == second.number
