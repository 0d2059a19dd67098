"""The knowledge base through its service: search ranking, ownership, states, review dates,
bad input, and answering a consultation at intake — on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from smartcity.hotline import service as hotline
from smartcity.hotline.knowledge import service
from smartcity.hotline.knowledge.demo import seed_demo_answers
from smartcity.hotline.knowledge.schemas import UseInput
from smartcity.hotline.schemas import OrderCreate
from tests.cases.factories import department, person
from tests.hotline.factories import CENTRE, people
from tests.hotline.knowledge.factories import answer_input, published

Move = Callable[[timedelta], datetime]


async def _demo_base(session: AsyncSession) -> None:
    from smartcity.core.seed import DEPARTMENTS

    for code, _name, _en in DEPARTMENTS:
        await department(session, code)
    assert await seed_demo_answers(session, hotline.HOTLINE) >= 40


# A caller's words, never the answer's own title: the right answer must come first.
PARAPHRASES = [
    ("我的身份证不见了，要去哪里重新办一张", "身份证丢了怎么补办？"),
    ("暂住证在哪办", "居住证怎么办理？需要什么材料？"),
    ("老板三个月没给我发工资", "公司拖欠工资不发，怎么办？"),
    ("厨房里一股煤气味", "家里闻到燃气味怎么办？"),
    ("健身卡的店倒闭了想退钱", "健身房、理发店预付卡老板跑路了，钱能退吗？"),
    ("晚上十二点了隔壁工地还在打桩施工", "晚上工地施工噪音太吵，可以投诉吗？"),
    (
        "有人打电话说我涉嫌洗钱让我把钱转到安全账户",
        "接到自称公检法的电话让转账到“安全账户”，是真的吗？",
    ),
    ("电梯又坏了物业一直不来修", "小区电梯经常坏，物业不修怎么办？"),
    ("the lift keeps breaking", "小区电梯经常坏，物业不修怎么办？"),
    ("路边的灯晚上一直不亮", "路灯坏了不亮，找谁修？"),
]


async def test_search_finds_the_answer_to_a_paraphrased_question(session: AsyncSession) -> None:
    await _demo_base(session)
    for question, title in PARAPHRASES:
        hits = await service.search_answers(session, None, question, limit=3)
        assert hits, question
        assert hits[0][0].title == title, (question, [h.title for h, _s in hits])
        assert hits[0][1] > (hits[1][1] if len(hits) > 1 else 0)


async def test_search_sees_only_published_answers_for_the_public(session: AsyncSession) -> None:
    _account, officer = await person(session, "staff", "GAJ")
    shown = await published(session, officer, title="身份证丢了怎么补办？", keywords=["身份证"])
    retired = await published(session, officer, title="身份证过期了怎么换领？", keywords=["身份证"])
    await service.retire(session, officer, retired.id)
    draft = await service.create_answer(
        session, officer, answer_input(title="身份证加急办理", keywords=["身份证"])
    )
    found = [a.id for a, _s in await service.search_answers(session, None, "身份证", limit=10)]
    assert found == [shown.id]
    with pytest.raises(NotFound):
        await service.get_answer(session, None, retired.id)
    with pytest.raises(NotFound):
        await service.get_answer(session, None, draft.id)
    # the owning department still reads both, the 12345 centre too
    assert (await service.get_answer(session, officer, draft.id)).state == "draft"
    _agent_account, agent = await person(session, "staff", CENTRE)
    assert (await service.get_answer(session, agent, retired.id)).state == "retired"
    assert await service.search_answers(session, None, "   ", limit=5) == []


async def test_only_the_owner_department_edits(session: AsyncSession) -> None:
    _a, owner = await person(session, "staff", "SCJGJ")
    _b, other = await person(session, "staff", "GAJ")
    _c, agent = await person(session, "staff", CENTRE)
    draft = await service.create_answer(session, owner, answer_input(category="04.02.02"))
    assert draft.department_code == "SCJGJ"
    # another department does not even see a draft: 404
    with pytest.raises(NotFound):
        await service.update_answer(session, other, draft.id, answer_input(title="改"))
    await service.publish(session, owner, draft.id)
    # published, it is readable, still not theirs: 403
    for attempt in (
        service.update_answer(session, other, draft.id, answer_input(title="改")),
        service.retire(session, other, draft.id),
        service.update_answer(session, agent, draft.id, answer_input(title="改")),
    ):
        with pytest.raises(Forbidden) as refused:
            await attempt
        assert refused.value.type == "/problems/not-answer-owner"
    _d, citizen = await person(session, "citizen")
    with pytest.raises(Forbidden):
        await service.create_answer(session, citizen, answer_input())


async def test_an_edit_keeps_the_previous_version(session: AsyncSession, frozen: Move) -> None:
    _a, owner = await person(session, "staff", "ZWSJJ")
    answer = await published(session, owner)
    frozen(timedelta(days=3))
    await service.update_answer(
        session, owner, answer.id, answer_input(answer="现在可在“i深圳”App在线申请。")
    )
    assert (answer.version, answer.state) == (2, "published")
    [before] = await service.revisions_of(session, answer)
    assert before.version == 1 and before.answer.startswith("携带身份证")
    # the search sees the new text, not the old one
    hits = await service.search_answers(session, None, "i深圳在线申请", limit=3)
    assert [a.id for a, _s in hits] == [answer.id]
    # an unchanged save makes no version
    await service.update_answer(
        session, owner, answer.id, answer_input(answer="现在可在“i深圳”App在线申请。")
    )
    assert answer.version == 2
    await service.retire(session, owner, answer.id)
    with pytest.raises(Conflict):
        await service.update_answer(session, owner, answer.id, answer_input())
    with pytest.raises(Conflict):
        await service.publish(session, owner, answer.id)


async def test_overdue_answers_are_listed_for_their_department(
    session: AsyncSession, frozen: Move
) -> None:
    _a, owner = await person(session, "staff", "RSJ")
    _b, other = await person(session, "staff", "SWJ")
    soon = await published(session, owner, review_by="2026-11-10")
    later = await published(session, owner, title="社保怎么续交？", review_by="2027-03-01")
    theirs = await published(session, other, category="03.02.03", review_by="2026-11-05")
    assert await service.overdue_for_department(session, owner) == []
    assert not service.is_overdue(soon)
    frozen(timedelta(days=10))  # 12 November: both early review dates have passed
    assert [a.id for a in await service.overdue_for_department(session, owner)] == [soon.id]
    assert [a.id for a in await service.overdue_for_department(session, other)] == [theirs.id]
    assert service.is_overdue(soon) and not service.is_overdue(later)
    # the centre's list of every overdue answer, oldest review date first
    _c, agent = await person(session, "staff", CENTRE)
    rows, total = await service.list_answers(session, agent, overdue=True)
    assert [a.id for a in rows] == [theirs.id, soon.id] and total == 2
    # a draft past its date is not published until the date is set anew
    late = await service.create_answer(session, owner, answer_input(review_by="2026-11-11"))
    with pytest.raises(InvalidInput) as refused:
        await service.publish(session, owner, late.id)
    assert refused.value.type == "/problems/review-date-passed"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "问" * 201}, "title"),
        ({"answer": ""}, "answer"),
        ({"answer": "答" * 4001}, "answer"),
        ({"category": "1.2"}, "category"),
        ({"keywords": ["词" * 31]}, "keywords"),
        ({"keywords": [f"k{i}" for i in range(21)]}, "keywords"),
        ({"source_name": ""}, "source_name"),
        ({"source_link": "javascript:alert(1)"}, "source_link"),
        ({"effective_on": "2026-13-01"}, "effective_on"),
    ],
)
def test_bad_input_is_refused_by_the_schema(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        answer_input(**overrides)
    assert field in {str(e["loc"][0]) for e in refused.value.errors()}


def test_a_review_date_before_the_effective_date_is_refused() -> None:
    with pytest.raises(ValidationError, match="review date cannot be before"):
        answer_input(effective_on="2026-06-01", review_by="2026-05-31")
    assert answer_input(effective_on="2026-06-01", review_by="2026-06-01").review_by == date(
        2026, 6, 1
    )


async def test_bad_input_is_refused_by_the_service(session: AsyncSession) -> None:
    _a, owner = await person(session, "staff", "CGJ")
    with pytest.raises(InvalidInput) as refused:
        await service.create_answer(session, owner, answer_input(category="99.99.99"))
    assert refused.value.type == "/problems/unknown-category"
    with pytest.raises(InvalidInput) as refused:
        await service.search_answers(session, None, "问" * 101)
    assert refused.value.type == "/problems/query-too-long"
    with pytest.raises(InvalidInput):
        await service.search_answers(session, None, "路灯", limit=21)
    with pytest.raises(InvalidInput):
        await service.list_answers(session, owner, limit=0)


async def test_an_answer_used_at_intake_closes_the_consultation_and_counts(
    session: AsyncSession,
) -> None:
    who = await people(session)
    _a, owner = await person(session, "staff", "ZWSJJ")
    answer = await published(session, owner)
    call = UseInput.model_validate(
        {"category": "09.01.01", "text": "来电咨询居住证如何办理。", "contact_phone": "13900000001"}
    )
    order, used = await service.answer_at_intake(session, who.agent, answer.id, call)
    assert (order.kind, order.state, order.reply) == ("consultation", "closed", answer.answer)
    assert order.closed_at is not None and used.uses == 1
    # the intake desk's form names the answer; it counts once the call closed with it
    again = await hotline.create_order(
        session,
        who.agent,
        OrderCreate.model_validate(call.model_dump(exclude={"answer"}) | {"answer": answer.answer}),
        channel="phone",
    )
    assert await service.count_intake_use(session, who.agent, str(answer.id), again)
    await session.refresh(answer)
    assert answer.uses == 2
    # not closed (a complaint), not an id, someone else's form: nothing counted
    complaint = await hotline.create_order(
        session,
        who.agent,
        OrderCreate.model_validate(call.model_dump() | {"kind": "complaint"}),
        channel="phone",
    )
    assert not await service.count_intake_use(session, who.agent, str(answer.id), complaint)
    assert not await service.count_intake_use(session, who.agent, "not-an-id", again)
    assert not await service.count_intake_use(session, who.officer, str(answer.id), again)
    assert not await service.count_intake_use(session, who.agent, str(uuid.uuid4()), again)
    await session.refresh(answer)
    assert answer.uses == 2
    # only the 12345 centre answers calls; a retired answer is not given
    with pytest.raises(Forbidden):
        await service.answer_at_intake(session, who.officer, answer.id, call)
    await service.retire(session, owner, answer.id)
    with pytest.raises(Conflict) as refused:
        await service.answer_at_intake(session, who.agent, answer.id, call)
    assert refused.value.type == "/problems/answer-not-published"


def test_use_input_is_a_consultation_with_no_answer_of_its_own() -> None:
    with pytest.raises(ValidationError):
        UseInput.model_validate({"category": "09.01.01", "text": "问", "kind": "complaint"})
    with pytest.raises(ValidationError):
        UseInput.model_validate({"category": "09.01.01", "text": "问", "answer": "我自己的"})
