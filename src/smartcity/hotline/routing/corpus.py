"""Orders as callers say them, generated from templates per category: the demo city's year of
orders, the benchmark's million and the tests' held-out splits. Each category has a few ways
of saying its matter; a text joins a place, a time, one of them and what the caller asks for,
so two texts of one category share words but rarely a sentence."""

from __future__ import annotations

import random
from dataclasses import dataclass

# What callers say, per leaf category (at least three ways each).
SAYINGS: dict[str, tuple[str, ...]] = {
    "01.01.01": (
        "流动摊贩占道经营",
        "小贩在人行道上摆摊卖水果",
        "夜市摊位占用道路",
        "早餐摊占道堵住出口",
    ),
    "01.01.02": (
        "墙上到处是小广告",
        "电线杆上乱张贴",
        "有人在围墙上乱涂乱画",
        "楼道里贴满开锁广告",
    ),
    "01.01.03": ("广告招牌松动有坠落危险", "户外广告牌遮挡窗户", "店铺招牌破损摇晃"),
    "01.01.04": (
        "垃圾几天没人清运",
        "垃圾桶满了臭气熏天",
        "垃圾站垃圾堆积如山",
        "小区垃圾没有及时清运",
    ),
    "01.01.05": ("公厕没有水很脏", "公共厕所关门无法使用", "公厕异味严重没人打扫"),
    "01.02.01": (
        "大树倒伏压住道路",
        "树枝太长挡住窗户需要修剪",
        "台风后树木倒在路边",
        "行道树枯死有倒塌风险",
    ),
    "01.02.02": ("公园设施损坏", "公园里有人遛狗不牵绳", "公园晚上灯光不亮", "公园健身器材坏了"),
    "01.03.01": ("路灯不亮", "整条路的路灯都坏了", "路灯白天一直亮着", "路灯闪烁晚上很黑"),
    "01.03.02": ("井盖丢失很危险", "井盖破损有人差点掉下去", "马路上井盖松动异响"),
    "01.03.03": ("人行道地砖破损", "人行道塌陷积水", "盲道被破坏坑洼不平"),
    "02.01.01": ("道路破损坑洼", "路面塌陷出现大坑", "马路开裂车辆颠簸", "道路修补后又坏了"),
    "02.01.02": ("红绿灯坏了", "信号灯时间太短过不了马路", "路口红绿灯不亮车辆乱行"),
    "02.01.03": (
        "公交车太久不来",
        "建议增加公交线路",
        "公交站台被撤销很不方便",
        "公交司机不等乘客就开走",
    ),
    "02.01.04": ("出租车拒载", "网约车司机绕路多收费", "出租车不打表乱要价"),
    "02.02.01": ("车辆乱停乱放", "违章停车堵住路口", "有车长期停在人行道上", "学校门口违停严重"),
    "02.02.02": ("消防通道被车占用", "消防通道堆满杂物", "私家车堵住消防通道"),
    "03.01.01": ("噪声扰民", "晚上广场舞音乐太吵", "酒吧深夜音乐噪音很大", "楼上装修噪音从早到晚"),
    "03.01.02": ("餐馆油烟直排", "烧烤店油烟熏得无法开窗", "饭店排烟管对着住户"),
    "03.01.03": ("工厂排放废气有刺鼻气味", "附近厂房晚上偷排废气", "空气中有很浓的化工味"),
    "03.01.04": ("工地扬尘严重", "工地泥头车带泥上路尘土飞扬", "工地裸土没有覆盖"),
    "03.02.01": ("河道发黑发臭", "河里漂着很多垃圾", "有人往河里排污水", "河水变色死鱼很多"),
    "03.02.02": ("污水井冒水外溢", "下水道堵塞污水漫到路上", "化粪池满溢臭味很大"),
    "03.02.03": ("小区突然停水", "停水没有提前通知", "水压太低高层没水", "自来水发黄有杂质"),
    "03.02.04": ("下雨后路面积水很深", "暴雨内涝车辆无法通行", "地下车库进水被淹"),
    "04.01.01": ("餐馆卫生很差有老鼠", "外卖吃了拉肚子", "饭店后厨很脏", "奶茶店用过期原料"),
    "04.01.02": ("超市卖过期食品", "买到变质的牛奶", "面包发霉还在卖"),
    "04.02.01": ("商家虚假打折价格欺诈", "结账价格和标价不一致", "景区商店乱收费"),
    "04.02.02": ("健身房倒闭预付卡无法退费", "美容院办卡后跑路", "培训机构不退学费"),
    "04.02.03": ("买的电器质量有问题商家不退", "网购商品是假货", "手机刚买就坏了不给换"),
    "05.01.01": ("物业不作为", "物业费乱涨价", "物业不维修小区设施", "小区保安态度恶劣"),
    "05.01.02": ("电梯故障困人", "电梯经常停运", "电梯异响存在安全隐患", "电梯坏了一周没修"),
    "05.02.01": ("工地夜间施工扰民", "晚上十二点还在施工打桩", "深夜施工没有夜间施工许可"),
    "05.02.02": ("楼顶违法搭建", "邻居私自加建房屋", "小区里有违建铁皮房"),
    "06.01.01": ("公司拖欠工资", "老板欠薪三个月不发", "工地拖欠农民工工资", "辞职后公司不结工资"),
    "06.01.02": ("公司不签劳动合同", "被无故辞退没有补偿", "公司强制加班不给加班费"),
    "06.02.01": ("公司不交社保", "社保断缴怎么补缴", "社保缴费基数不对"),
    "06.02.02": ("医保报销比例太低", "异地就医医保怎么报销", "医保卡无法使用"),
    "07.01.01": ("医院医生态度差", "医院排队时间太长", "护士服务态度恶劣"),
    "07.01.02": ("医院挂不上号", "预约挂号系统总是失败", "专家号被黄牛抢光"),
    "08.01.01": ("身份证丢失怎么补办", "户口迁移需要什么材料", "孩子落户怎么办理"),
    "08.01.02": ("接到诈骗电话被骗钱", "有人冒充客服骗取验证码", "网上刷单被骗"),
    "08.02.01": ("楼道堆放杂物有安全隐患", "电动车在楼道充电", "商铺私拉电线有隐患"),
    "08.02.02": ("闻到燃气泄漏的味道", "餐馆使用液化气瓶不规范", "燃气管道老化漏气"),
    "09.01.01": ("居住证在哪里办理", "办理营业执照需要什么材料", "公积金怎么提取"),
    "09.01.02": ("政务网站打不开", "网上办事系统一直报错", "手机上办事提交不了"),
    "09.02.01": ("小区旁边规划建什么", "规划公示在哪里查看", "对规划调整有意见"),
}

PLACES: tuple[tuple[str, str, float, float], ...] = (
    # (district, street, lon, lat): a point in each street the demo city names
    ("福田区", "华强北街道", 114.085, 22.547),
    ("福田区", "福田街道", 114.055, 22.522),
    ("福田区", "梅林街道", 114.060, 22.570),
    ("罗湖区", "东门街道", 114.123, 22.548),
    ("罗湖区", "黄贝街道", 114.138, 22.546),
    ("南山区", "粤海街道", 113.943, 22.515),
    ("南山区", "南头街道", 113.922, 22.540),
    ("南山区", "蛇口街道", 113.915, 22.487),
    ("宝安区", "新安街道", 113.886, 22.565),
    ("宝安区", "西乡街道", 113.870, 22.580),
    ("龙岗区", "坂田街道", 114.062, 22.628),
    ("龙岗区", "布吉街道", 114.120, 22.603),
    ("龙华区", "民治街道", 114.040, 22.620),
    ("龙华区", "观澜街道", 114.060, 22.705),
    ("光明区", "凤凰街道", 113.935, 22.748),
    ("坪山区", "坑梓街道", 114.380, 22.750),
    ("盐田区", "沙头角街道", 114.230, 22.560),
)
ROADS = ("大道", "路", "街", "社区", "花园", "小区", "村")
TIMES = ("", "最近", "这几天", "每天晚上", "今天早上", "已经一个多月", "周末", "")
ASKS = (
    "，请尽快处理。",
    "，希望有关部门管一管。",
    "，请派人来看看。",
    "。",
    "，多次反映没有解决。",
    "，怎么办？",
)
# Months a category is said more often in (雨季内涝, 夏夜噪声, 台风倒树, 年底欠薪).
SEASONS: dict[str, tuple[int, ...]] = {
    "03.02.04": (5, 6, 7, 8, 9),
    "01.02.01": (7, 8, 9),
    "03.01.01": (6, 7, 8),
    "06.01.01": (12, 1),
    "03.02.03": (7, 8),
}
KIND_OF: dict[str, str] = {
    "08.01.01": "consultation",
    "09.01.01": "consultation",
    "09.02.01": "consultation",
    "06.02.01": "consultation",
    "06.02.02": "consultation",
    "02.01.03": "suggestion",
    "08.01.02": "report",
    "05.02.02": "report",
    "03.01.03": "report",
}


@dataclass(frozen=True)
class Said:
    category: str
    text: str
    district: str
    street: str
    lon: float
    lat: float


def say(
    rng: random.Random, category: str, place: tuple[str, str, float, float] | None = None
) -> Said:
    """One caller's words about a matter of this category, at a place."""
    # somewhere in the street; a given place (a repeat of a matter) within some 50 metres
    spread = 0.0004 if place else 0.01
    district, street, lon, lat = place or rng.choice(PLACES)
    road = f"{street[:2]}{rng.choice(ROADS)}{rng.randint(1, 99)}号"
    matter = rng.choice(SAYINGS[category])
    text = f"{district}{street}{road}{rng.choice(TIMES)}{matter}{rng.choice(ASKS)}"
    return Said(
        category,
        text,
        district,
        street,
        round(lon + rng.uniform(-spread, spread), 5),
        round(lat + rng.uniform(-spread, spread), 5),
    )


def category_for(rng: random.Random, month: int) -> str:
    """A category as often as the city hears it in that month (the seasons weigh in)."""
    codes = list(SAYINGS)
    weights = [3.0 if month in SEASONS.get(c, ()) else 1.0 for c in codes]
    return rng.choices(codes, weights)[0]


def corpus(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """n texts and their categories, categories spread evenly with the seasons' weights."""
    rng = random.Random(seed)  # noqa: S311 - sample texts, not secrets
    texts: list[str] = []
    labels: list[str] = []
    for i in range(n):
        said = say(rng, category_for(rng, 1 + i % 12))
        texts.append(said.text)
        labels.append(said.category)
    return texts, labels
