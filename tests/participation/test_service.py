"""The participation service: the window rule, closing by the job at the end instant,
comments refused after it with nothing written, moderation, answers, the report and its
notices, the wrong department, and the figure on a hand-built register."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from smartcity.core.models import Notification
from smartcity.participation import jobs, service
from smartcity.participation.models import Comment
from smartcity.participation.schemas import DocumentCreate
from tests.participation.factories import T0, draft_input, open_draft, people

Advance = Callable[[timedelta], datetime]


async def _count_comments(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Comment))).scalar_one())


async def test_a_draft_is_split_and_published(session: AsyncSession, advance: Advance) -> None:
    who = await people(session)
    draft = await service.create_draft(session, who.officer, draft_input())
    assert draft.state == "draft" and draft.number == "ZQ2026-0001"
    assert [a.number for a in await service.articles_of(session, draft)] == [1, 2, 3, 4]
    # not yet published: the public and other departments do not see it
    with pytest.raises(NotFound):
        await service.get_draft(session, None, draft.id)
    with pytest.raises(NotFound):
        await service.get_draft(session, who.other_officer, draft.id)
    await service.publish(session, who.officer, draft.id)
    assert (await service.get_draft(session, None, draft.id)).state == "open"
    with pytest.raises(Conflict) as again:
        await service.publish(session, who.officer, draft.id)
    assert again.value.slug == "participation-not-draft"


async def test_an_unpublished_draft_is_edited_by_its_department_only(
    session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    draft = await service.create_draft(session, who.officer, draft_input())
    edited = draft_input(text=None, articles=["甲。", "乙。"], kind="other", days=40)
    with pytest.raises(NotFound):
        await service.update_draft(session, who.other_officer, draft.id, edited)
    await service.update_draft(session, who.officer, draft.id, edited)
    assert draft.kind == "other" and draft.preamble == ""
    assert [a.text for a in await service.articles_of(session, draft)] == ["甲。", "乙。"]
    with pytest.raises(InvalidInput):
        await service.update_draft(session, who.officer, draft.id, draft_input(days=10))
    await service.publish(session, who.officer, draft.id)
    with pytest.raises(Conflict) as published:
        await service.update_draft(session, who.officer, draft.id, draft_input())
    assert published.value.slug == "participation-not-draft"
    with pytest.raises(Forbidden):
        await service.update_draft(session, who.other_officer, draft.id, draft_input())


async def test_the_window_is_at_least_30_days(session: AsyncSession, advance: Advance) -> None:
    who = await people(session)
    with pytest.raises(InvalidInput) as short:
        await service.create_draft(session, who.officer, draft_input(days=29))
    assert short.value.slug == "participation-window-too-short"
    short_by_a_minute = draft_input(days=30)
    short_by_a_minute.closes_at -= timedelta(minutes=1)
    with pytest.raises(InvalidInput):
        await service.create_draft(session, who.officer, short_by_a_minute)
    backwards = draft_input(days=30)
    backwards.closes_at = backwards.opens_at - timedelta(days=40)
    with pytest.raises(InvalidInput) as wrong:
        await service.create_draft(session, who.officer, backwards)
    assert wrong.value.slug == "participation-window-invalid"
    with pytest.raises(InvalidInput):
        await service.create_draft(session, who.officer, draft_input(days=400))
    # a time without an offset is Beijing time: 2026-11-03 00:00 in Shenzhen
    naive = draft_input(start=datetime(2026, 11, 3, 0, 0), days=30)
    draft = await service.create_draft(session, who.officer, naive)
    assert draft.opens_at == datetime(2026, 11, 2, 16, 0, tzinfo=T0.tzinfo)


async def test_publication_refuses_a_window_in_the_past(
    session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    draft = await service.create_draft(
        session, who.officer, draft_input(start=T0 - timedelta(days=2), days=40)
    )
    with pytest.raises(InvalidInput) as past:
        await service.publish(session, who.officer, draft.id)
    assert past.value.slug == "participation-window-in-past"
    # a window that started earlier today starts at publication, and must still last 30 days
    today = await service.create_draft(
        session, who.officer, draft_input(start=T0 - timedelta(minutes=30), days=30)
    )
    with pytest.raises(InvalidInput) as short:
        await service.publish(session, who.officer, today.id)
    assert short.value.slug == "participation-window-too-short"
    assert (await service.get_draft(session, who.officer, today.id)).state == "draft"


async def test_the_job_closes_at_the_end_instant_and_comments_are_refused(
    session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    draft = await open_draft(session, who.officer)
    [job] = jobs.JOBS
    advance(timedelta(days=30) - timedelta(seconds=1))
    await job.run(session)
    assert draft.state == "open"
    await service.post_comment(session, who.citizen, draft.id, article=1, text="最后一秒的意见。")
    advance(timedelta(seconds=1))
    before = await _count_comments(session)
    # at the end instant posting is refused even before the job has run
    with pytest.raises(Conflict) as closed:
        await service.post_comment(session, who.enterprise, draft.id, article=2, text="晚了。")
    assert closed.value.slug == "participation-window-closed"
    await job.run(session)
    assert draft.state == "closed" and draft.closed_at == T0 + timedelta(days=30)
    with pytest.raises(Conflict):
        await service.post_comment(session, who.enterprise, draft.id, article=None, text="晚了。")
    assert await _count_comments(session) == before


async def test_comments_by_citizens_and_enterprises_with_bounds(
    session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    draft = await open_draft(session, who.officer)
    mine = await service.post_comment(
        session, who.citizen, draft.id, article=3, text="建议增加例外。"
    )
    firm = await service.post_comment(
        session, who.enterprise, draft.id, article=None, text="总体赞成。"
    )
    assert (mine.state, mine.author_kind, firm.author_kind) == ("pending", "citizen", "enterprise")
    with pytest.raises(InvalidInput) as unknown:
        await service.post_comment(session, who.citizen, draft.id, article=9, text="第九条？")
    assert unknown.value.slug == "participation-unknown-article"
    with pytest.raises(Forbidden):
        await service.post_comment(session, who.officer, draft.id, article=1, text="内部意见。")
    # one comment per person per article within the interval; another article is fine
    with pytest.raises(TooManyRequests) as soon:
        await service.post_comment(session, who.citizen, draft.id, article=3, text="再补充一点。")
    assert soon.value.slug == "participation-comment-too-soon"
    await service.post_comment(session, who.citizen, draft.id, article=1, text="第一条也有意见。")
    advance(timedelta(minutes=11))
    await service.post_comment(session, who.citizen, draft.id, article=3, text="再补充一点。")
    # pending comments: the public sees none, the commenter their own, the department all
    assert await service.comments_of(session, None, draft) == []
    assert {c.author_kind for c in await service.comments_of(session, who.citizen, draft)} == {
        "citizen"
    }
    assert len(await service.comments_of(session, who.officer, draft)) == 4


async def test_moderation_with_reasons(session: AsyncSession, advance: Advance) -> None:
    who = await people(session)
    draft = await open_draft(session, who.officer)
    good = await service.post_comment(session, who.citizen, draft.id, article=1, text="赞成。")
    bad = await service.post_comment(session, who.enterprise, draft.id, article=1, text="广告内容")
    with pytest.raises(InvalidInput) as no_reason:
        await service.moderate(session, who.officer, bad.id, "reject", "  ")
    assert no_reason.value.slug == "participation-reason-required"
    await service.moderate(session, who.officer, good.id, "publish", "")
    await service.moderate(session, who.officer, bad.id, "reject", "与草案内容无关的商业广告。")
    assert bad.state == "rejected" and bad.rejection_reason == "与草案内容无关的商业广告。"
    with pytest.raises(Conflict):
        await service.moderate(session, who.officer, good.id, "reject", "改主意")
    # another department neither sees nor moderates the comments
    with pytest.raises(NotFound):
        await service.moderate(session, who.other_officer, good.id, "publish", "")
    assert [c.id for c in await service.comments_of(session, None, draft)] == [good.id]
    assert service.mask_name(good.author_name).endswith("**")
    [(mine, _d)] = await service.my_comments(session, who.enterprise)
    assert mine.rejection_reason == "与草案内容无关的商业广告。"


async def _closed_with_comments(session: AsyncSession, advance: Advance):  # type: ignore[no-untyped-def]
    who = await people(session)
    draft = await open_draft(session, who.officer)
    a = await service.post_comment(session, who.citizen, draft.id, article=1, text="赞成。")
    b = await service.post_comment(session, who.enterprise, draft.id, article=2, text="范围太宽。")
    c = await service.post_comment(session, who.citizen, draft.id, article=None, text="再议。")
    d = await service.post_comment(session, who.enterprise, draft.id, article=4, text="广告")
    await service.moderate(session, who.officer, a.id, "publish", "")
    await service.moderate(session, who.officer, b.id, "publish", "")
    await service.moderate(session, who.officer, d.id, "reject", "广告")
    advance(timedelta(days=31))
    await service.close_due(session)
    return who, draft, a, b, c


async def test_answers_and_the_report(session: AsyncSession, advance: Advance) -> None:
    who, draft, a, b, c = await _closed_with_comments(session, advance)
    with pytest.raises(Conflict) as still_pending:
        await service.publish_report(session, who.officer, draft.id, "")
    assert still_pending.value.slug == "participation-unanswered"
    assert still_pending.value.extensions == {"pending": 1, "unanswered": 2}
    await service.moderate(session, who.officer, c.id, "publish", "")
    # 未采纳 and 部分采纳 need the reason; 采纳 does not
    for kind in ("not_adopted", "partly"):
        with pytest.raises(InvalidInput) as no_reason:
            await service.answer(session, who.officer, b.id, kind, "")
        assert no_reason.value.slug == "participation-reason-required"
    await service.answer(session, who.officer, a.id, "adopted", "")
    await service.answer(session, who.officer, b.id, "partly", "适用范围限于道路通行。")
    with pytest.raises(Forbidden):
        await service.publish_report(session, who.other_officer, draft.id, "")
    with pytest.raises(Conflict) as one_left:
        await service.publish_report(session, who.officer, draft.id, "")
    assert one_left.value.extensions == {"pending": 0, "unanswered": 1}
    await service.answer(session, who.officer, c.id, "not_adopted", "不属于本办法调整范围。")
    before = await _notes(session)
    await service.publish_report(session, who.officer, draft.id, "共收到意见4条。")
    assert draft.state == "answered" and draft.report_text == "共收到意见4条。"
    notes = [n for n in await _notes(session) if n not in before]
    # one message to each commenter (the citizen commented twice, the enterprise twice)
    assert sorted(n.account_id for n in notes) == sorted(
        [who.citizen_account.id, who.enterprise_account.id]
    )
    assert {n.link for n in notes} == {f"/participation/{draft.id}#report"}
    assert all(n.topic == "participation.report.published" for n in notes)
    with pytest.raises(Conflict):
        await service.answer(session, who.officer, a.id, "partly", "改答")
    with pytest.raises(Conflict):
        await service.publish_report(session, who.officer, draft.id, "")


async def _notes(session: AsyncSession) -> list[Notification]:
    return list((await session.execute(select(Notification))).scalars())


async def test_answers_wait_for_the_close_and_stay_with_the_department(
    session: AsyncSession, advance: Advance
) -> None:
    who = await people(session)
    draft = await open_draft(session, who.officer)
    comment = await service.post_comment(session, who.citizen, draft.id, article=1, text="赞成。")
    await service.moderate(session, who.officer, comment.id, "publish", "")
    with pytest.raises(Conflict) as still_open:
        await service.answer(session, who.officer, comment.id, "adopted", "")
    assert still_open.value.slug == "participation-not-closed"
    advance(timedelta(days=30))
    await service.close_due(session)
    with pytest.raises(NotFound):
        await service.answer(session, who.other_officer, comment.id, "adopted", "")
    with pytest.raises(NotFound):
        await service.answer(session, who.citizen, comment.id, "adopted", "")


async def test_the_figure_on_a_hand_built_register(session: AsyncSession, advance: Advance) -> None:
    who = await people(session)
    full = await open_draft(session, who.officer)
    investment = await open_draft(session, who.officer, kind="investment", days=45)
    still_open = await open_draft(session, who.officer, start=T0 + timedelta(days=1), days=60)
    advance(timedelta(days=46))
    await service.close_due(session)
    assert still_open.state == "open" and full.state == "closed"

    def doc(**values: object) -> DocumentCreate:
        base = {"title": "某办法", "kind": "regulation", "adopted_on": date(2026, 12, 20)}
        return DocumentCreate.model_validate({**base, **values})

    await service.record_document(session, who.officer, doc(draft=full.number))
    await service.record_document(
        session, who.officer, doc(kind="investment", draft=investment.number)
    )
    await service.record_document(session, who.officer, doc(title="未征求意见的办法"))
    await service.record_document(session, who.other_officer, doc(title="公安文件"))
    await service.record_document(session, who.other_officer, doc(adopted_on=date(2025, 6, 1)))
    # the register refuses a draft of another kind, one still open, one of another department
    for bad, slug in (
        (doc(kind="investment", draft=full.number), "participation-kind-mismatch"),
        (doc(draft="ZQ2026-9999"), "participation-unknown-draft"),
    ):
        with pytest.raises(InvalidInput) as refused:
            await service.record_document(session, who.officer, bad)
        assert refused.value.slug == slug
    with pytest.raises(Conflict):
        await service.record_document(session, who.officer, doc(draft=still_open.number))
    with pytest.raises(InvalidInput):
        await service.record_document(session, who.other_officer, doc(draft=full.number))
    with pytest.raises(Forbidden):
        await service.record_document(session, who.citizen, doc())

    figure = await service.figure(session, 2026)
    by_department = {line.department_id: line for line in figure.lines}
    owner = by_department[who.officer.department_id]
    assert (owner.documents, owner.open_for_comment) == (3, 2)
    assert owner.share == pytest.approx(2 / 3)
    other = by_department[who.other_officer.department_id]
    assert (other.documents, other.open_for_comment, other.share) == (1, 0, 0.0)
    assert (figure.total.documents, figure.total.open_for_comment) == (4, 2)
    assert (await service.figure(session, 2025)).total.documents == 1
    assert (await service.figure(session, 2024)).total.share is None
