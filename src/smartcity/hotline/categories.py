"""The category tree of requests (诉求分类): two or three levels, each leaf with the department
that handles it by default (派单 suggests it). Reference data, seeded in every city."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryNode:
    """One node: its code (dotted, e.g. ``01.01.01``), names, parent and default department."""

    code: str
    name: str
    name_en: str
    parent: str | None
    department: str | None  # leaves only


# (code, 中文, English, default department of the leaves below, leaves or sub-branches)
_TREE: tuple[
    tuple[
        str,
        str,
        str,
        tuple[tuple[str, str, str, str | None, tuple[tuple[str, str, str], ...]], ...],
    ],
    ...,
] = (
    (
        "01",
        "城市管理",
        "City management",
        (
            (
                "01.01",
                "市容环境",
                "Streetscape",
                "CGJ",
                (
                    ("01.01.01", "占道经营", "Street vending on the road"),
                    ("01.01.02", "乱张贴乱涂写", "Flyposting and graffiti"),
                    ("01.01.03", "户外广告招牌", "Outdoor signs and billboards"),
                    ("01.01.04", "垃圾清运不及时", "Rubbish not collected"),
                    ("01.01.05", "公厕管理", "Public toilets"),
                ),
            ),
            (
                "01.02",
                "园林绿化",
                "Parks and greenery",
                "CGJ",
                (
                    ("01.02.01", "树木倒伏修剪", "Fallen or overgrown trees"),
                    ("01.02.02", "公园管理", "Park management"),
                ),
            ),
            (
                "01.03",
                "市政设施",
                "Municipal facilities",
                "CGJ",
                (
                    ("01.03.01", "路灯故障", "Street light out"),
                    ("01.03.02", "井盖缺损", "Missing or broken manhole cover"),
                    ("01.03.03", "人行道破损", "Broken pavement"),
                ),
            ),
        ),
    ),
    (
        "02",
        "交通出行",
        "Transport",
        (
            (
                "02.01",
                "道路交通",
                "Roads and traffic",
                "JTYSJ",
                (
                    ("02.01.01", "道路破损", "Damaged road"),
                    ("02.01.02", "交通信号灯", "Traffic lights"),
                    ("02.01.03", "公交线路站点", "Bus routes and stops"),
                    ("02.01.04", "出租车网约车", "Taxis and ride-hailing"),
                ),
            ),
            (
                "02.02",
                "停车秩序",
                "Parking",
                "GAJ",
                (
                    ("02.02.01", "违章停车", "Illegal parking"),
                    ("02.02.02", "占用消防通道", "Blocked fire lane"),
                ),
            ),
        ),
    ),
    (
        "03",
        "生态环境",
        "Environment",
        (
            (
                "03.01",
                "环境污染",
                "Pollution",
                "STHJJ",
                (
                    ("03.01.01", "噪声扰民", "Noise nuisance"),
                    ("03.01.02", "油烟污染", "Cooking fumes"),
                    ("03.01.03", "废气排放", "Air emissions"),
                    ("03.01.04", "工地扬尘", "Construction dust"),
                ),
            ),
            (
                "03.02",
                "水环境",
                "Water",
                "SWJ",
                (
                    ("03.02.01", "河道污染", "Polluted river"),
                    ("03.02.02", "污水外溢", "Sewage overflow"),
                    ("03.02.03", "供水停水", "Water supply cut"),
                    ("03.02.04", "内涝积水", "Flooded street"),
                ),
            ),
        ),
    ),
    (
        "04",
        "市场监管",
        "Market regulation",
        (
            (
                "04.01",
                "食品安全",
                "Food safety",
                "SCJGJ",
                (
                    ("04.01.01", "餐饮卫生", "Restaurant hygiene"),
                    ("04.01.02", "过期变质食品", "Expired or spoilt food"),
                ),
            ),
            (
                "04.02",
                "消费维权",
                "Consumer rights",
                "SCJGJ",
                (
                    ("04.02.01", "价格欺诈", "Price fraud"),
                    ("04.02.02", "预付卡退费", "Prepaid card refunds"),
                    ("04.02.03", "商品质量", "Product quality"),
                ),
            ),
        ),
    ),
    (
        "05",
        "住房建设",
        "Housing and construction",
        (
            (
                "05.01",
                "物业管理",
                "Property management",
                "ZJJ",
                (
                    ("05.01.01", "物业服务", "Property services"),
                    ("05.01.02", "电梯故障", "Lift out of order"),
                ),
            ),
            (
                "05.02",
                "建筑施工",
                "Construction",
                "ZJJ",
                (
                    ("05.02.01", "夜间施工", "Night-time building work"),
                    ("05.02.02", "违法建设", "Unauthorised building"),
                ),
            ),
        ),
    ),
    (
        "06",
        "劳动社保",
        "Labour and social security",
        (
            (
                "06.01",
                "劳动权益",
                "Workers' rights",
                "RSJ",
                (
                    ("06.01.01", "拖欠工资", "Unpaid wages"),
                    ("06.01.02", "劳动合同", "Employment contracts"),
                ),
            ),
            (
                "06.02",
                "社会保险",
                "Social insurance",
                "RSJ",
                (
                    ("06.02.01", "社保缴纳", "Contributions"),
                    ("06.02.02", "医保报销", "Medical insurance claims"),
                ),
            ),
        ),
    ),
    (
        "07",
        "卫生健康",
        "Health",
        (
            (
                "07.01",
                "医疗服务",
                "Medical services",
                "WJW",
                (
                    ("07.01.01", "医院服务态度", "Hospital service"),
                    ("07.01.02", "预约挂号", "Appointments"),
                ),
            ),
        ),
    ),
    (
        "08",
        "公共安全",
        "Public safety",
        (
            (
                "08.01",
                "治安秩序",
                "Public order",
                "GAJ",
                (
                    ("08.01.01", "户籍证件", "Household registration and ID cards"),
                    ("08.01.02", "电信诈骗", "Telephone fraud"),
                ),
            ),
            (
                "08.02",
                "安全生产",
                "Workplace safety",
                "YJGLJ",
                (
                    ("08.02.01", "安全隐患", "Safety hazard"),
                    ("08.02.02", "燃气安全", "Gas safety"),
                ),
            ),
        ),
    ),
    (
        "09",
        "政务服务",
        "Government services",
        (
            (
                "09.01",
                "办事咨询",
                "Service enquiries",
                "ZWSJJ",
                (
                    ("09.01.01", "办事指南", "How to apply"),
                    ("09.01.02", "网上办事故障", "Online service faults"),
                ),
            ),
            (
                "09.02",
                "规划用地",
                "Planning and land",
                "GHZRJ",
                (("09.02.01", "规划公示", "Planning notices"),),
            ),
        ),
    ),
)


def category_nodes() -> list[CategoryNode]:
    """Every node of the tree, parents before their children."""
    nodes: list[CategoryNode] = []
    for code, name, name_en, branches in _TREE:
        nodes.append(CategoryNode(code, name, name_en, None, None))
        for b_code, b_name, b_en, department, leaves in branches:
            nodes.append(CategoryNode(b_code, b_name, b_en, code, None))
            for l_code, l_name, l_en in leaves:
                nodes.append(CategoryNode(l_code, l_name, l_en, b_code, department))
    return nodes


NODES: dict[str, CategoryNode] = {n.code: n for n in category_nodes()}
LEAVES: dict[str, CategoryNode] = {c: n for c, n in NODES.items() if n.department is not None}


def path_of(code: str) -> list[CategoryNode]:
    """The node and its ancestors, root first (市容环境 under 城市管理)."""
    path: list[CategoryNode] = []
    node = NODES.get(code)
    while node is not None:
        path.insert(0, node)
        node = NODES.get(node.parent) if node.parent else None
    return path
