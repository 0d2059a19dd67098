"""Routing of new orders: the classifier against the majority baseline on a held-out split,
automatic dispatch above the threshold with the model's version and confidence, the queue's
top three below it, duplicate proposals within N days and M metres, merging, bad input."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.core.models import Notification
from smartcity.hotline import service
from smartcity.hotline.models import WorkOrder
from smartcity.hotline.routing import classify, corpus, duplicates
from smartcity.hotline.routing import service as routing
from smartcity.hotline.routing.models import DuplicateProposal, OrderRouting
from smartcity.settings import get_settings
from tests.cases.factories import department, person
from tests.hotline.factories import CENTRE, HANDLER, OTHER, call, people, report

Advance = Callable[[timedelta], datetime]
LIGHT = "罗湖区东门街道东门中路12号路灯不亮，晚上很黑，请尽快处理。"
WAGES = "罗湖区东门街道某公司拖欠工资三个月不发，请帮忙。"


@pytest.fixture(scope="module")
def trained() -> classify.Trained:
    """One classifier for the module, trained on synthetic orders of every category."""
    texts, labels = corpus.corpus(800, seed=3)
    return classify.train(texts, labels, seed=3)


async def _ship(session: AsyncSession, trained: classify.Trained) -> int:
    return (await routing.store_model(session, trained, "test")).version


async def _routed(session: AsyncSession, order: WorkOrder) -> OrderRouting:
    found = await session.get(OrderRouting, order.id)
    assert found is not None
    return found


class TestClassifier:
    def test_beats_the_majority_baseline_on_the_held_out_split(
        self, trained: classify.Trained
    ) -> None:
        m = trained.metrics
        assert m["held_out"] == 160 and m["classes"] == len(corpus.SAYINGS)
        assert m["accuracy"] > m["baseline_accuracy"] + 0.5
        assert m["macro_f1"] > m["baseline_macro_f1"] + 0.5
        assert trained.beats_baseline

    def test_confidences_are_probabilities_and_top_three_ranked(
        self, trained: classify.Trained
    ) -> None:
        top = trained.classifier.top(LIGHT)
        assert top[0][0] == "01.03.01"
        assert len(top) == 3 and top[0][1] >= top[1][1] >= top[2][1]
        assert abs(sum(trained.classifier.distribution(LIGHT).values()) - 1) < 1e-6

    def test_the_stored_bytes_load_back_the_same_model(self, trained: classify.Trained) -> None:
        loaded = classify.Classifier.from_bytes(trained.classifier.to_bytes())
        assert loaded.top(WAGES) == trained.classifier.top(WAGES)

    def test_a_huge_text_is_clipped_not_refused_by_the_model(
        self, trained: classify.Trained
    ) -> None:
        assert len(trained.classifier.top("路灯" * 50_000)) == 3

    def test_too_few_orders_or_one_category_is_a_clear_error(self) -> None:
        with pytest.raises(classify.TooFewOrders, match="at least 30"):
            classify.train(["路灯坏了"] * 10, ["01.03.01"] * 10)
        with pytest.raises(classify.TooFewOrders, match="in 1"):
            classify.train(["路灯坏了"] * 40, ["01.03.01"] * 40)

    def test_random_labels_do_not_ship(self) -> None:
        rng = random.Random(5)
        texts = [f"随机文本{rng.random()}" for _ in range(200)]
        labels = ["01.03.01"] * 150 + [rng.choice(["02.02.01", "03.01.01"]) for _ in range(50)]
        found = classify.train(texts, labels, seed=1)
        # the majority class is 3/4 of the orders: a model of noise does not beat it on both
        assert not found.beats_baseline

    def test_char_cosine(self) -> None:
        assert duplicates.char_cosine("路灯不亮", "路灯不亮") == pytest.approx(1.0)
        assert duplicates.char_cosine("路灯不亮", "拖欠工资") == 0.0
        assert duplicates.char_cosine("", "路灯") == 0.0


class TestRouting:
    async def test_confident_order_is_dispatched_with_version_and_confidence(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        who = await people(session)
        version = await _ship(session, trained)
        order = await service.create_order(
            session, who.citizen, report(category="01.03.01", text=LIGHT), channel="web"
        )
        assert (order.state, order.department_code) == ("dispatched", HANDLER)
        found = await _routed(session, order)
        assert (found.mode, found.model_version, found.department_code) == (
            "auto",
            version,
            HANDLER,
        )
        assert found.confidence >= get_settings().hotline_auto_dispatch
        assert found.suggestions[0]["category"] == "01.03.01"

    async def test_below_the_threshold_it_waits_with_the_top_three(
        self,
        session: AsyncSession,
        advance: Advance,
        trained: classify.Trained,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        who = await people(session)
        await _ship(session, trained)
        monkeypatch.setattr(get_settings(), "hotline_auto_dispatch", 1.0)
        order = await service.create_order(
            session, who.citizen, report(category="01.03.01", text=LIGHT), channel="web"
        )
        assert (order.state, order.department_code) == ("accepted", CENTRE)
        found = await _routed(session, order)
        assert found.mode == "queue" and found.department_code == ""
        assert len(found.suggestions) == 3
        assert found.suggestions[0] == {
            "category": "01.03.01",
            "department": HANDLER,
            "confidence": found.suggestions[0]["confidence"],
        }
        # one click on a suggestion dispatches it and records a person chose
        await routing.dispatch_suggested(session, who.agent, order.id, HANDLER)
        assert order.state == "dispatched"
        assert (await _routed(session, order)).mode == "manual"

    async def test_the_model_disagreeing_with_the_category_leaves_it_to_the_dispatcher(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        who = await people(session)
        await _ship(session, trained)
        # the citizen chose street lights (城管), but the text is about unpaid wages (人社)
        order = await service.create_order(
            session, who.citizen, report(category="01.03.01", text=WAGES), channel="web"
        )
        assert order.state == "accepted"
        found = await _routed(session, order)
        assert found.mode == "queue" and found.confidence < 0.5
        assert found.suggestions[0]["category"] == "06.01.01"

    async def test_a_category_of_the_centre_itself_is_never_dispatched_automatically(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        who = await people(session)
        await _ship(session, trained)
        said = corpus.say(random.Random(1), "09.01.01")  # 办事指南: the centre answers it
        order = await service.create_order(
            session,
            who.citizen,
            report(kind="consultation", category="09.01.01", text=said.text),
            channel="web",
        )
        assert order.state == "accepted"
        assert (await _routed(session, order)).mode == "queue"

    async def test_without_a_model_nothing_changes(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        order = await service.create_order(session, who.citizen, report(), channel="web")
        found = await _routed(session, order)
        assert (order.state, found.mode, found.model_version, found.suggestions) == (
            "accepted",
            "none",
            None,
            [],
        )

    async def test_an_agent_naming_the_department_is_not_overridden(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        who = await people(session)
        await _ship(session, trained)
        await department(session, OTHER)
        order = await service.create_order(
            session,
            who.agent,
            call(text=LIGHT, category="01.03.01", department=OTHER),
            channel="phone",
        )
        assert order.state == "accepted"  # the API and the page dispatch to OTHER next
        assert (await _routed(session, order)).mode == "manual"

    async def test_a_new_version_replaces_the_cached_one(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        await _ship(session, trained)
        first = await routing.current_model(session)
        await _ship(session, trained)
        second = await routing.current_model(session)
        assert first is not None and second is not None
        assert (first[0], second[0]) == (1, 2)

    async def test_a_model_that_does_not_beat_the_baseline_is_kept_but_not_used(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        worse = classify.Trained(
            trained.classifier, trained.metrics | {"accuracy": 0.0, "macro_f1": 0.0}
        )
        stored = await routing.store_model(session, worse, "test")
        assert not stored.shipped and stored.metrics["beats_baseline"] is False
        assert await routing.current_model(session) is None

    async def test_suggest_refuses_empty_and_huge_text(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        for text in ("   ", "路" * 2001):
            with pytest.raises(InvalidInput) as refused:
                await routing.suggest(session, who.agent, text)
            assert refused.value.extensions["field"] == "text"

    async def test_train_from_closed_orders_and_too_few(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        with pytest.raises(Forbidden):
            await routing.train(session, who.supervisor, in_thread=False)
        _account, admin = await person(session, "admin")
        with pytest.raises(InvalidInput) as refused:
            await routing.train(session, admin, in_thread=False)
        assert refused.value.slug == "too-few-orders"
        rng = random.Random(2)
        for i in range(40):
            said = corpus.say(rng, ("08.01.01", "09.01.01")[i % 2])
            await service.create_order(
                session,
                who.agent,
                call(kind="consultation", category=said.category, text=said.text, answer="已答复"),
                channel="phone",
            )
        model = await routing.train(session, admin, in_thread=False)
        assert model.version == 1 and model.trained_on > 0
        assert model.metrics["held_out"] == 8 and "baseline_accuracy" in model.metrics


class TestDuplicates:
    async def _parent(self, session: AsyncSession, who: Any) -> WorkOrder:
        await department(session, HANDLER)
        order = await service.create_order(
            session, who.citizen, report(category="01.03.01", text=LIGHT), channel="web"
        )
        if order.state == "accepted":  # else the model dispatched it
            order = await service.dispatch(session, who.agent, order.id, HANDLER)
        assert order.handling_department_code == HANDLER
        return order

    async def test_proposed_within_days_and_metres_and_not_outside(
        self, session: AsyncSession, advance: Advance, trained: classify.Trained
    ) -> None:
        who = await people(session)
        await _ship(session, trained)
        parent = await self._parent(session, who)
        advance(timedelta(days=2))
        near = {"address": "东门中路", "lon": 114.1205, "lat": 22.5505}  # ~70 m
        again = await service.create_order(
            session, who.agent, call(text=LIGHT, place=near, category="01.03.01"), channel="phone"
        )
        proposals = await duplicates.proposals_of(session, again.id)
        assert [(p.parent_id, p.state) for p in proposals] == [(parent.id, "proposed")]
        assert 30 < proposals[0].distance_m < 120
        # a likely duplicate is not dispatched automatically: the dispatcher decides
        assert again.state == "accepted"
        assert (await _routed(session, again)).mode == "queue"
        far = {"address": "东门中路", "lon": 114.124, "lat": 22.55}  # ~410 m
        away = await service.create_order(
            session, who.agent, call(text=LIGHT, place=far, category="01.03.01"), channel="phone"
        )
        assert await duplicates.proposals_of(session, away.id) == []
        advance(timedelta(days=6))  # 8 days after the parent
        late = await service.create_order(
            session, who.agent, call(text=LIGHT, place=near, category="01.03.01"), channel="phone"
        )
        late_parents = {p.parent_id for p in await duplicates.proposals_of(session, late.id)}
        assert parent.id not in late_parents

    async def test_different_matter_at_the_same_place_is_not_proposed(
        self, session: AsyncSession, advance: Advance
    ) -> None:
        who = await people(session)
        await self._parent(session, who)
        other = await service.create_order(
            session, who.agent, call(text=WAGES, category="06.01.01"), channel="phone"
        )
        assert await duplicates.proposals_of(session, other.id) == []

    async def test_merge_answers_each_caller(self, session: AsyncSession, advance: Advance) -> None:
        who = await people(session)
        parent = await self._parent(session, who)
        second_account, second = await person(session, "citizen")
        child = await service.create_order(
            session, second, report(text=LIGHT + "第二次反映"), channel="web"
        )
        [proposal] = await duplicates.proposals_of(session, child.id)
        assert proposal.parent_id == parent.id
        merged = await duplicates.merge(session, who.agent, child.id, parent.id)
        assert merged.state == "closed" and parent.number in merged.reply
        assert await duplicates.merged_into(session, parent.id) == [merged]
        assert (await duplicates.parent_of(session, child.id)) == parent
        await service.sign(session, who.officer, parent.id)
        await service.reply(session, who.officer, parent.id, "路灯已修复。")
        assert merged.reply == "路灯已修复。"
        told = (
            await session.execute(
                select(Notification.topic, Notification.body).where(
                    Notification.account_id == second_account.id
                )
            )
        ).all()
        assert ("hotline.order.merged.reply", "路灯已修复。") in told
        await service.visit(session, who.agent, parent.id, "satisfied")
        topics = (
            await session.execute(
                select(Notification.topic).where(Notification.account_id == second_account.id)
            )
        ).scalars()
        assert "hotline.order.merged.visit" in set(topics)

    async def test_merge_refusals(self, session: AsyncSession, advance: Advance) -> None:
        who = await people(session)
        parent = await self._parent(session, who)
        child = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
        with pytest.raises(InvalidInput) as refused:
            await duplicates.merge(session, who.agent, child.id, child.id)
        assert refused.value.slug == "merge-into-itself"
        # another department's order: noise is for 生态环境局, the parent is with 城管
        noise = await service.create_order(
            session, who.agent, call(text="噪声扰民", category="03.01.01"), channel="phone"
        )
        with pytest.raises(Conflict) as refused_c:
            await duplicates.merge(session, who.agent, noise.id, parent.id)
        assert refused_c.value.slug == "merge-other-department"
        with pytest.raises(NotFound):  # the centre's orders are not the department's to read
            await duplicates.merge(session, who.officer, child.id, parent.id)
        closed = await service.create_order(
            session,
            who.agent,
            call(kind="consultation", text=LIGHT, answer="已答复"),
            channel="phone",
        )
        with pytest.raises(Conflict) as refused_c:
            await duplicates.merge(session, who.agent, child.id, closed.id)
        assert refused_c.value.slug == "merge-into-closed"
        await duplicates.merge(session, who.agent, child.id, parent.id)
        with pytest.raises(Conflict) as refused_c:
            await duplicates.merge(session, who.agent, child.id, parent.id)
        assert refused_c.value.slug == "wrong-state"

    async def test_not_a_duplicate(self, session: AsyncSession, advance: Advance) -> None:
        who = await people(session)
        await self._parent(session, who)
        child = await service.create_order(session, who.agent, call(text=LIGHT), channel="phone")
        [proposal] = await duplicates.proposals_of(session, child.id)
        kept = await duplicates.reject(session, who.agent, proposal.id)
        assert kept.state == "rejected" and child.state == "accepted"
        with pytest.raises(Conflict) as again:
            await duplicates.reject(session, who.agent, proposal.id)
        assert again.value.slug == "already-decided"
        rows = (await session.execute(select(DuplicateProposal))).scalars().all()
        assert [r.state for r in rows] == ["rejected"]
