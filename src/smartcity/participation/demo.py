"""The demo city's public participation (示例民意征集): 公安局's drafts in every state (one
open with comments, one closed and being answered, one with its adoption report, one not yet
published) and its register of adopted documents, so the figure has something to count.
Seeded through the service, with the clock moved back for the windows that have ended."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from smartcity.core import clock
from smartcity.core.authz import Principal
from smartcity.core.models import Account
from smartcity.core.security import principal_of
from smartcity.participation import service
from smartcity.participation.models import Draft
from smartcity.participation.schemas import DocumentCreate, DraftCreate

EBIKE = """为加强电动自行车管理，现将《深圳市电动自行车管理办法（征求意见稿）》公开征求意见。
第一章 总则
第一条 为了加强电动自行车管理，保障道路交通安全和畅通，根据有关法律法规，结合本市实际，制定本办法。
第二条 本办法适用于本市行政区域内电动自行车的销售、登记、通行、停放和充电管理。
第二章 登记与通行
第三条 电动自行车应当经公安机关交通管理部门登记，取得号牌后方可上道路行驶。
第四条 驾驶电动自行车应当佩戴安全头盔，不得载人，但可以搭载一名十二周岁以下的未成年人。
第五条 电动自行车应当在非机动车道内行驶；没有非机动车道的，应当靠车行道右侧行驶。
第三章 停放与充电
第六条 禁止在建筑物的公共门厅、疏散通道、楼梯间、安全出口停放电动自行车或者为其充电。
第七条 鼓励住宅小区设置集中停放和充电场所，配备消防设施。
"""
PARKING = """第一条 项目名称：福田区公共停车楼建设项目。
第二条 建设地点：福田区华强北街道，占地约八千平方米。
第三条 建设规模：地上六层、地下二层，提供停车位约一千二百个，其中充电车位三百个。
第四条 总投资约四点八亿元，资金来源为市区两级财政。
"""
FIREWORKS = """第一条 为了加强烟花爆竹安全管理，保障公共安全和人身、财产安全，制定本规定。
第二条 本市行政区域内禁止燃放烟花爆竹，但市人民政府决定的庆典活动除外。
第三条 违反本规定燃放烟花爆竹的，由公安机关依法处罚。
"""
DOGS = """第一条 为了规范养犬行为，保障公民健康和人身安全，制定本办法。
第二条 携犬出户时，应当为犬只束犬链，并由成年人牵领。
"""


async def _principal(session: AsyncSession, username: str) -> Principal | None:
    account = (
        await session.execute(select(Account).where(Account.username == username))
    ).scalar_one_or_none()
    return principal_of(account, "cli") if account is not None else None


def _draft(
    title: str, title_en: str, kind: str, text: str, start: datetime, days: int
) -> DraftCreate:
    return DraftCreate.model_validate(
        {
            "title": title,
            "title_en": title_en,
            "kind": kind,
            "text": text,
            "opens_at": start,
            "closes_at": start + timedelta(days=days),
        }
    )


async def seed_demo_participation(session: AsyncSession, principal: Principal) -> int:
    """The demo drafts, once (none when any draft exists or the demo accounts are missing)."""
    if (await session.execute(select(func.count()).select_from(Draft))).scalar_one():
        return 0
    officer = await _principal(session, "staff.gaj")
    citizen = await _principal(session, "citizen")
    enterprise = await _principal(session, "enterprise")
    if officer is None or citizen is None or enterprise is None:
        return 0
    now = clock.now()
    made = 0
    # Adopted earlier this year after comment, with its report: 烟花爆竹 (the year's first)
    with clock.frozen(now - timedelta(days=75)) as move:
        fireworks = await service.create_draft(
            session,
            officer,
            _draft(
                "深圳市烟花爆竹安全管理规定（征求意见稿）",
                "Shenzhen Fireworks Safety Provisions (draft for comment)",
                "regulation",
                FIREWORKS,
                clock.now(),
                31,
            ),
        )
        await service.publish(session, officer, fireworks.id)
        a = await service.post_comment(
            session, citizen, fireworks.id, article=2, text="建议春节期间在指定地点允许燃放。"
        )
        b = await service.post_comment(
            session, enterprise, fireworks.id, article=None, text="支持全面禁放，减少火灾隐患。"
        )
        c = await service.post_comment(
            session, citizen, fireworks.id, article=3, text="加微信了解更多优惠"
        )
        await service.moderate(session, officer, a.id, "publish", "")
        await service.moderate(session, officer, b.id, "publish", "")
        await service.moderate(session, officer, c.id, "reject", "与草案内容无关的广告信息。")
        move(timedelta(days=32))
        await service.close_due(session)
        await service.answer(
            session, officer, a.id, "partly", "在市政府决定的庆典活动中由主办方统一组织燃放。"
        )
        await service.answer(session, officer, b.id, "adopted", "")
        await service.publish_report(
            session, officer, fireworks.id, "共收到意见3条，公开2条，采纳1条，部分采纳1条。"
        )
        made += 1
    # Closed and being answered: 公共停车楼 (a major public investment)
    with clock.frozen(now - timedelta(days=40)) as move:
        parking = await service.create_draft(
            session,
            officer,
            _draft(
                "福田区公共停车楼建设项目（征求意见稿）",
                "Futian public car park building project (draft for comment)",
                "investment",
                PARKING,
                clock.now(),
                30,
            ),
        )
        await service.publish(session, officer, parking.id)
        p1 = await service.post_comment(
            session, citizen, parking.id, article=3, text="充电车位比例建议提高到一半。"
        )
        p2 = await service.post_comment(
            session, enterprise, parking.id, article=4, text="建议引入社会资本参与建设运营。"
        )
        await service.moderate(session, officer, p1.id, "publish", "")
        await service.moderate(session, officer, p2.id, "publish", "")
        move(timedelta(days=31))
        await service.close_due(session)
        await service.answer(session, officer, p1.id, "adopted", "")
        made += 1
    # Open now, for ten more than the least: 电动自行车
    with clock.frozen(now - timedelta(days=5)):
        ebike = await service.create_draft(
            session,
            officer,
            _draft(
                "深圳市电动自行车管理办法（征求意见稿）",
                "Shenzhen Electric Bicycle Measures (draft for comment)",
                "regulation",
                EBIKE,
                clock.now(),
                40,
            ),
        )
        await service.publish(session, officer, ebike.id)
        e1 = await service.post_comment(
            session, citizen, ebike.id, article=4, text="建议明确可搭载未成年人的年龄以身高为准。"
        )
        e2 = await service.post_comment(
            session, enterprise, ebike.id, article=7, text="建议对集中充电场所的建设给予补贴。"
        )
        await service.moderate(session, officer, e1.id, "publish", "")
        await service.moderate(session, officer, e2.id, "publish", "")
    await service.post_comment(
        session, citizen, ebike.id, article=6, text="老旧小区没有集中充电场所，建议给出过渡期。"
    )
    made += 1
    # Not yet published: 养犬 (on the department's desk only)
    await service.create_draft(
        session,
        officer,
        _draft(
            "深圳市养犬管理办法（修订征求意见稿）",
            "Shenzhen Dog Keeping Measures (revision, draft for comment)",
            "regulation",
            DOGS,
            now + timedelta(days=7),
            30,
        ),
    )
    made += 1
    # The register of this year: the fireworks rule after comment, one rule without
    year = clock.to_city(now).year
    adopted = clock.to_city(now - timedelta(days=30)).date()
    if adopted.year != year:
        adopted = date(year, 1, 2)
    for values in (
        {
            "title": "深圳市烟花爆竹安全管理规定",
            "title_en": "Shenzhen Fireworks Safety Provisions",
            "kind": "regulation",
            "draft": fireworks.number,
        },
        {
            "title": "深圳市机动车停放收费管理规定",
            "title_en": "Shenzhen Parking Fee Provisions",
            "kind": "regulation",
        },
    ):
        await service.record_document(
            session, officer, DocumentCreate.model_validate({**values, "adopted_on": adopted})
        )
    return made
