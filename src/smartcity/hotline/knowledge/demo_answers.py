"""The demo city's knowledge base (示例知识库): answers to the questions people ask 12345 most,
kept by the departments that handle them. Generated for the demo: the policies named are the
kinds of documents such answers rest on; check a real city's own before relying on one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAnswer:
    category: str
    department: str
    title: str
    title_en: str
    answer: str
    answer_en: str
    keywords: tuple[str, ...]
    source: str
    number: str = ""
    overdue: bool = False  # its review date has passed (the demo's "due for review")
    draft: bool = False


ANSWERS: tuple[DemoAnswer, ...] = (
    DemoAnswer(
        "09.01.01",
        "ZWSJJ",
        "居住证怎么办理？需要什么材料？",
        "How do I apply for a residence permit, and what do I bring?",
        "在深圳居住登记满半年，并有合法稳定就业、住所或连续就读的，可申领居住证。"
        "携带本人身份证、居住登记凭证和就业（或住所、就读）证明，到居住地街道行政服务大厅"
        "或通过“i深圳”客户端申请，一般15个工作日内制证。",
        "After six months of residence registration in Shenzhen, with steady work, a home or "
        "study here, you may apply. Bring your ID card, the registration slip and proof of "
        "work (or home, or study) to the street service hall, or apply in the i Shenzhen app; "
        "the permit is usually made within 15 working days.",
        ("居住证", "暂住证", "居住登记", "积分"),
        "深圳市居住登记和居住证办理规定",
    ),
    DemoAnswer(
        "09.01.01",
        "ZWSJJ",
        "营业执照在哪里办理？可以网上办吗？",
        "Where do I get a business licence? Can I apply online?",
        "个体工商户和企业的设立登记可以全程网上办理：登录广东政务服务网或“i深圳”客户端，"
        "选择“开办企业”一件事，填写信息并电子签名，审核通过后可领取电子营业执照，"
        "也可到各区政务服务中心窗口办理。",
        "Registering a business can be done fully online: open the Guangdong government "
        "services site or the i Shenzhen app, choose 'start a business', fill in the form and "
        "sign electronically; once approved you receive an electronic licence. The district "
        "service centres also take applications at the counter.",
        ("营业执照", "开办企业", "个体户", "公司注册"),
        "深圳市商事登记若干规定",
    ),
    DemoAnswer(
        "09.01.01",
        "ZWSJJ",
        "政务服务中心的办公时间是什么？周末开放吗？",
        "When are the government service centres open? At weekends too?",
        "市、区政务服务中心工作日上午9:00至12:00、下午14:00至18:00办公；"
        "部分中心周六上午提供延时服务，具体以各中心公告为准。网上办理7×24小时可用。",
        "The city and district service centres are open on working days 9:00–12:00 and "
        "14:00–18:00; some also open on Saturday mornings, as each centre announces. Online "
        "services are open around the clock.",
        ("办公时间", "上班时间", "周末", "政务服务中心"),
        "深圳市政务服务中心管理办法",
        overdue=True,
    ),
    DemoAnswer(
        "09.01.02",
        "ZWSJJ",
        "“i深圳”客户端登录不了或人脸识别失败怎么办？",
        "I cannot sign in to the i Shenzhen app, or face recognition fails. What now?",
        "请先将客户端更新到最新版本，确认实名信息与身份证一致，在光线充足处重试人脸识别；"
        "仍失败的，可选择“其他方式认证”或携带身份证到政务服务中心现场核验后再登录。",
        "Update the app to its newest version, check that your real-name details match your "
        "ID card and try face recognition again in good light. If it still fails, choose "
        "another way to verify, or have your identity checked at a service centre.",
        ("i深圳", "登录", "人脸识别", "实名认证", "app"),
        "i深圳平台用户服务指南",
    ),
    DemoAnswer(
        "09.01.01",
        "ZWSJJ",
        "办事需要提交的材料可以在网上查到吗？",
        "Can I look up online which documents a service needs?",
        "可以。每个政务服务事项都有办事指南，写明申请条件、所需材料、办理时限和收费标准。"
        "在本平台“办事大厅”搜索事项名称即可查看，也可拨打12345咨询。",
        "Yes. Every service has a guide with its conditions, documents, time limit and fees. "
        "Search for the service in the service hall of this platform, or call 12345.",
        ("办事指南", "材料清单", "所需材料"),
        "广东省政务服务事项办事指南编制规范",
        draft=True,
    ),
    DemoAnswer(
        "08.01.01",
        "GAJ",
        "身份证丢了怎么补办？",
        "I lost my ID card. How do I get a new one?",
        "居民身份证丢失后，可携带户口簿到户籍所在地或深圳任一派出所户政窗口申请补领，"
        "现场采集照片和指纹，缴纳工本费20元；也可在“广东公安”小程序申请异地补领、邮寄到家。"
        "丢失后可先办理临时身份证用于乘车等急用。",
        "Take your household register to the household office of any Shenzhen police station "
        "to apply for a new card; your photo and fingerprints are taken and the fee is 20 "
        "yuan. The Guangdong Public Security mini-program also takes applications and posts "
        "the card. A temporary ID card can be issued meanwhile for travel.",
        ("身份证", "补领", "挂失", "临时身份证", "丢失"),
        "中华人民共和国居民身份证法",
    ),
    DemoAnswer(
        "08.01.01",
        "GAJ",
        "新生儿怎么上户口？",
        "How do I register a newborn in the household register?",
        "婴儿出生后一个月内，由父母一方携带出生医学证明、父母双方身份证、户口簿和结婚证，"
        "到户籍所在地派出所申报出生登记；深圳户籍也可通过“出生一件事”网上办理。",
        "Within a month of the birth, one parent takes the birth certificate, both parents' ID "
        "cards, the household register and the marriage certificate to the police station of "
        "the household; Shenzhen households can also apply online as 'a birth'.",
        ("上户口", "出生登记", "新生儿", "落户"),
        "深圳市户籍迁入登记办法",
    ),
    DemoAnswer(
        "08.01.02",
        "GAJ",
        "接到自称公检法的电话让转账到“安全账户”，是真的吗？",
        "A caller says they are the police and tells me to move money to a 'safe account'. "
        "Is it real?",
        "是诈骗。公安、检察院、法院不会通过电话办案，也没有所谓“安全账户”。请立即挂断，"
        "不要转账、不要透露验证码；已转账的请马上拨打110报警，并保存通话记录和转账凭证。",
        "It is fraud. The police, prosecutors and courts never handle cases by phone and there "
        "is no 'safe account'. Hang up, transfer nothing and give no codes; if you have paid, "
        "call 110 at once and keep the call log and the transfer record.",
        ("诈骗", "安全账户", "冒充公检法", "反诈", "转账"),
        "中华人民共和国反电信网络诈骗法",
    ),
    DemoAnswer(
        "02.02.01",
        "GAJ",
        "车被贴了违停罚单，怎么查询和缴纳罚款？",
        "My car got a parking ticket. How do I check and pay it?",
        "可在“交管12123”客户端或深圳交警微信公众号查询违法记录并在线缴纳罚款；"
        "对处罚有异议的，可在收到处罚决定之日起60日内申请行政复议。",
        "Look the ticket up in the Traffic Control 12123 app or the Shenzhen traffic police "
        "account and pay online. To contest it, apply for administrative review within 60 "
        "days of the decision.",
        ("违停", "罚单", "罚款", "交管12123", "违章"),
        "中华人民共和国道路交通安全法",
    ),
    DemoAnswer(
        "02.02.02",
        "GAJ",
        "小区消防通道被车堵了，找谁处理？",
        "Cars block the fire lane of my housing estate. Who deals with it?",
        "小区内消防通道先由物业服务企业劝离、清理；物业不处理或车辆拒不驶离的，"
        "可拨打12345或110反映，由辖区派出所和消防救援机构依法查处。",
        "Inside an estate, the property manager first asks the drivers to move; if it does "
        "not act, or the cars stay, call 12345 or 110 and the local police station and fire "
        "service deal with it.",
        ("消防通道", "堵车", "占用", "消防"),
        "中华人民共和国消防法",
    ),
    DemoAnswer(
        "03.01.01",
        "STHJJ",
        "晚上工地施工噪音太吵，可以投诉吗？",
        "A building site is noisy at night. Can I complain?",
        "可以。除抢修、抢险作业和因生产工艺要求必须连续施工并取得证明的以外，"
        "22:00至次日7:00禁止在噪声敏感建筑物集中区域进行产生噪声的建筑施工。"
        "请拨打12345说明工地位置和时间，由住建或生态环境部门现场查处。",
        "Yes. Apart from emergency repairs and work that must run continuously with a permit, "
        "noisy building work is forbidden from 22:00 to 7:00 near homes. Call 12345 with the "
        "site and the times; the housing or environment department inspects.",
        ("噪音", "噪声", "夜间施工", "扰民", "工地"),
        "中华人民共和国噪声污染防治法",
    ),
    DemoAnswer(
        "03.01.01",
        "STHJJ",
        "楼下酒吧、KTV音乐声太大影响休息怎么办？",
        "A bar or karaoke downstairs is too loud at night. What can I do?",
        "文化娱乐场所的边界噪声不得超过国家规定的排放标准。请记录噪声发生的时间和场所名称，"
        "拨打12345反映，生态环境部门将组织夜间监测，超标的责令整改并依法处罚。",
        "Entertainment venues must keep their noise at the boundary within the national "
        "limits. Note the times and the venue's name and call 12345; the environment "
        "department measures at night and orders the venue to comply.",
        ("酒吧", "KTV", "噪音", "扰民", "音乐"),
        "中华人民共和国噪声污染防治法",
    ),
    DemoAnswer(
        "03.01.02",
        "STHJJ",
        "楼下餐馆油烟直排到窗户，怎么投诉？",
        "A restaurant's cooking fumes blow into my window. How do I complain?",
        "排放油烟的餐饮服务业经营者应当安装油烟净化设施并保持正常使用。"
        "请拨打12345提供餐馆名称和地址，生态环境部门会检查其净化设施并责令整改。",
        "Restaurants must fit fume cleaners and keep them running. Call 12345 with the "
        "restaurant's name and address; the environment department inspects and orders "
        "repairs.",
        ("油烟", "餐馆", "饭店", "排烟"),
        "中华人民共和国大气污染防治法",
        "",
        True,
    ),
    DemoAnswer(
        "03.01.04",
        "STHJJ",
        "工地扬尘很大，周边都是灰，归谁管？",
        "A building site throws up dust all around. Who is responsible?",
        "建设工地应当设置围挡、覆盖裸土、冲洗车辆、湿法作业。发现扬尘污染可拨打12345，"
        "由住建部门和生态环境部门按职责检查，拒不整改的依法处罚。",
        "Sites must be fenced, bare soil covered, trucks washed and work done wet. Report dust "
        "to 12345; the housing and environment departments inspect and fine sites that do "
        "not comply.",
        ("扬尘", "灰尘", "工地", "粉尘"),
        "深圳市扬尘污染防治管理办法",
    ),
    DemoAnswer(
        "03.01.03",
        "STHJJ",
        "附近工厂排放刺鼻气味，怎么反映？",
        "A factory nearby gives off a sharp smell. How do I report it?",
        "请记录气味出现的时间、风向和疑似排放企业，拨打12345或通过本平台网上反映。"
        "生态环境部门将现场检查废气治理设施并采样监测，违法排放的依法查处。",
        "Note when the smell comes, the wind and the suspected factory, and call 12345 or "
        "report it on this platform. The environment department inspects the factory's "
        "treatment equipment and takes samples.",
        ("废气", "臭味", "异味", "工厂", "排放"),
        "中华人民共和国大气污染防治法",
    ),
    DemoAnswer(
        "03.02.03",
        "SWJ",
        "家里突然停水了，怎么知道什么时候恢复？",
        "The water suddenly stopped at home. When will it come back?",
        "计划停水会提前24小时在小区公告和供水企业公众号发布；突发停水可拨打供水企业"
        "服务热线或12345查询抢修进度。高层住宅请同时询问物业二次供水设施是否故障。",
        "Planned cuts are announced 24 hours ahead in the estate and on the water company's "
        "account; for a sudden cut, ask the water company's hotline or 12345 about the "
        "repair. In a tower block, also ask the property manager about its pumps.",
        ("停水", "供水", "没水", "水压"),
        "深圳市城市供水用水条例",
    ),
    DemoAnswer(
        "03.02.04",
        "SWJ",
        "暴雨后路面积水严重，向哪里反映？",
        "The street floods after heavy rain. Whom do I tell?",
        "道路积水可拨打12345反映具体路段，水务部门将排查排水管网和雨水口堵塞情况并组织疏通。"
        "积水较深时请勿涉水通行，注意避开井盖和低洼地带。",
        "Call 12345 with the place; the water department checks the drains and clears them. "
        "Do not walk or drive through deep water, and keep away from manholes and low ground.",
        ("积水", "内涝", "暴雨", "排水", "水浸"),
        "深圳市排水条例",
        overdue=True,
    ),
    DemoAnswer(
        "03.02.01",
        "SWJ",
        "河道发黑发臭，谁负责治理？",
        "A river is black and smells. Who cleans it up?",
        "河道水环境由水务部门和各级河长负责。请拨打12345说明河流名称和位置，"
        "水务部门将排查沿河排污口并组织整治，涉及企业偷排的移交生态环境部门查处。",
        "Rivers are the water department's and their river chiefs'. Call 12345 with the river "
        "and the place; the water department traces the outfalls, and a company discharging "
        "illegally is passed to the environment department.",
        ("河道", "黑臭", "河长", "污水", "水污染"),
        "深圳市河长制工作规定",
    ),
    DemoAnswer(
        "01.01.04",
        "CGJ",
        "小区垃圾好几天没人清运，怎么办？",
        "Rubbish has not been collected for days. What can I do?",
        "生活垃圾应当日产日清。小区内由物业负责收集，市政道路由环卫单位清扫清运。"
        "请拨打12345说明地点，城管部门将督促责任单位在24小时内清运。",
        "Household rubbish is collected daily: inside an estate by the property manager, on "
        "public roads by the cleaning contractor. Call 12345 with the place; urban management "
        "makes the one responsible collect it within 24 hours.",
        ("垃圾", "清运", "环卫", "垃圾桶"),
        "深圳市生活垃圾分类管理条例",
    ),
    DemoAnswer(
        "01.01.04",
        "CGJ",
        "垃圾分类怎么分？厨余垃圾什么时候投放？",
        "How is rubbish sorted, and when do I put out food waste?",
        "深圳生活垃圾分为可回收物、厨余垃圾、有害垃圾和其他垃圾四类。"
        "厨余垃圾在小区集中分类投放点按公布时段投放（一般为早7:00–9:00、晚19:00–21:00），"
        "投放时请破袋。",
        "Shenzhen sorts rubbish four ways: recyclables, food waste, hazardous waste and the "
        "rest. Food waste goes to the estate's sorting point at the posted hours (usually "
        "7:00–9:00 and 19:00–21:00), out of its bag.",
        ("垃圾分类", "厨余垃圾", "投放时间", "有害垃圾"),
        "深圳市生活垃圾分类管理条例",
    ),
    DemoAnswer(
        "01.03.01",
        "CGJ",
        "路灯坏了不亮，找谁修？",
        "A street light is out. Who fixes it?",
        "市政道路路灯由城管部门负责维护。请拨打12345说明路名和灯杆编号（灯杆上贴有编号），"
        "一般故障在48小时内修复。小区内路灯由物业负责。",
        "Street lights on public roads are urban management's. Call 12345 with the road and "
        "the number on the pole; most faults are fixed within 48 hours. Lights inside an "
        "estate are the property manager's.",
        ("路灯", "不亮", "灯杆", "照明"),
        "深圳市城市照明管理办法",
    ),
    DemoAnswer(
        "01.03.02",
        "CGJ",
        "路上井盖丢了或松动，很危险怎么办？",
        "A manhole cover is missing or loose on the road. It is dangerous.",
        "请立即拨打12345或110说明具体位置，有条件的可在旁边放置警示物。"
        "城管部门会通知权属单位2小时内到场设置围挡并尽快修复。",
        "Call 12345 or 110 at once with the exact place, and put a warning next to it if you "
        "can. Urban management has the owner fence it off within 2 hours and repair it.",
        ("井盖", "窨井", "缺失", "松动"),
        "深圳市窨井设施管理办法",
    ),
    DemoAnswer(
        "01.01.01",
        "CGJ",
        "地铁口、路边有流动摊贩占道经营，谁来管？",
        "Street vendors block the pavement at a metro exit. Who deals with it?",
        "占道经营由街道城管执法队负责查处。请拨打12345说明地点和时段，"
        "执法队员将现场劝导、依法处理，并安排重点时段巡查。",
        "Street vending is the street's urban management team's. Call 12345 with the place and "
        "the hours; officers move the vendors on and patrol at those hours.",
        ("摊贩", "占道", "小贩", "摆摊"),
        "深圳经济特区市容和环境卫生管理条例",
    ),
    DemoAnswer(
        "01.02.01",
        "CGJ",
        "台风后路边树木倒伏，向哪里报告？",
        "A tree has fallen by the road after a typhoon. Whom do I tell?",
        "倒伏树木影响通行或有安全隐患的，请拨打12345说明位置，园林部门将优先清理。"
        "请勿自行攀爬或砍伐；压到电线的请远离并同时拨打供电热线95598。",
        "Call 12345 with the place if a fallen tree blocks the way or is dangerous; the parks "
        "service clears it first. Do not climb or cut it; if it lies on power lines, keep "
        "away and call 95598 too.",
        ("倒树", "树木倒伏", "台风", "园林"),
        "深圳市城市园林绿化管理办法",
    ),
    DemoAnswer(
        "02.01.01",
        "JTYSJ",
        "马路上有大坑，开车很危险，谁负责修？",
        "There is a big pothole in the road. Who repairs it?",
        "市政道路的破损由交通运输部门组织养护单位修复。请拨打12345说明路名和方位，"
        "坑槽一般在24小时内设置警示、72小时内修复。",
        "Damaged public roads are repaired by the transport department's contractors. Call "
        "12345 with the road and where on it; a pothole is marked within 24 hours and "
        "repaired within 72.",
        ("路面", "坑", "道路破损", "坑洼"),
        "深圳市城市道路管理办法",
    ),
    DemoAnswer(
        "02.01.03",
        "JTYSJ",
        "公交车不按时到站或者跳站，怎么投诉？",
        "My bus is late or skips stops. How do I complain?",
        "请记下线路、车牌号、时间和站点，拨打12345或公交企业服务热线投诉。"
        "交通运输部门将核查车辆定位记录并督促公交企业整改，一般15个工作日内答复。",
        "Note the route, the bus number, the time and the stop, and call 12345 or the bus "
        "company. The transport department checks the bus's position record and makes the "
        "company put it right, answering within 15 working days.",
        ("公交", "跳站", "晚点", "公交车"),
        "深圳市公共汽车运营服务管理办法",
    ),
    DemoAnswer(
        "02.01.04",
        "JTYSJ",
        "出租车或网约车绕路多收费，怎么投诉？",
        "A taxi or ride-hailing driver took a detour and overcharged me.",
        "请保留车票或订单截图，记下车牌号和行程时间，拨打12345投诉。"
        "网约车也可先通过平台客服申诉。经查属实的，责令退还多收费用并依法处罚。",
        "Keep the receipt or the order screenshot, note the plate and the time, and call "
        "12345; for ride-hailing, also complain in the app. If it is confirmed, the driver "
        "refunds the excess and is fined.",
        ("出租车", "网约车", "绕路", "多收费", "宰客"),
        "深圳市网络预约出租汽车经营服务管理暂行办法",
    ),
    DemoAnswer(
        "04.02.02",
        "SCJGJ",
        "健身房、理发店预付卡老板跑路了，钱能退吗？",
        "The gym (or salon) that sold me a prepaid card has closed. Can I get my money back?",
        "请保存好预付卡、合同和付款凭证，尽快拨打12345或12315投诉；"
        "涉嫌诈骗或卷款逃匿的可向公安机关报案。市场监管部门将组织调解，并督促经营者履行退款义务。",
        "Keep the card, the contract and the receipts, and complain to 12345 or 12315 at once; "
        "if the owner fled with the money, report it to the police. Market regulation "
        "mediates and makes the business refund.",
        ("预付卡", "退费", "跑路", "会员卡", "健身房"),
        "深圳市预付卡消费管理办法",
    ),
    DemoAnswer(
        "04.02.01",
        "SCJGJ",
        "商家标价和结账价格不一样，是价格欺诈吗？",
        "The price at the till was higher than the price tag. Is that fraud?",
        "经营者收取未标明的费用或结算价格高于标示价格的，属于价格违法行为。"
        "请保留小票和价签照片，拨打12345或12315投诉，市场监管部门核实后责令退还差价并依法处罚。",
        "Charging more than the marked price, or charging fees not marked, breaks the pricing "
        "rules. Keep the receipt and a photo of the tag and complain to 12345 or 12315; the "
        "business refunds the difference and is fined.",
        ("价格欺诈", "标价", "多收钱", "明码标价"),
        "明码标价和禁止价格欺诈规定",
    ),
    DemoAnswer(
        "04.01.02",
        "SCJGJ",
        "超市买到过期食品，怎么维权？",
        "I bought food past its date in a supermarket. What can I do?",
        "请保留商品、购物小票并拍照，可先与商家协商；协商不成的拨打12345或12315投诉。"
        "经营明知是过期食品的，消费者可要求支付价款十倍或损失三倍的赔偿，不足一千元的按一千元计。",
        "Keep the goods and the receipt and take photos; ask the shop first, then complain to "
        "12345 or 12315. If the shop knowingly sold expired food, you may claim ten times the "
        "price (at least 1,000 yuan) or three times your loss.",
        ("过期食品", "维权", "十倍赔偿", "超市"),
        "中华人民共和国食品安全法",
    ),
    DemoAnswer(
        "04.01.01",
        "SCJGJ",
        "餐厅后厨卫生很差，怎么举报？",
        "A restaurant's kitchen is dirty. How do I report it?",
        "请说明餐厅名称、地址和发现的问题，可附照片，拨打12345或12315举报。"
        "市场监管部门将开展现场检查，对不符合食品安全要求的责令整改并依法处罚。",
        "Give the restaurant's name, address and what you saw, with photos if you have them, "
        "to 12345 or 12315. Market regulation inspects and orders it to comply.",
        ("后厨", "卫生", "餐厅", "食品安全", "举报"),
        "中华人民共和国食品安全法",
        overdue=True,
    ),
    DemoAnswer(
        "05.01.02",
        "ZJJ",
        "小区电梯经常坏，物业不修怎么办？",
        "The lift in my estate keeps breaking and the manager does not fix it.",
        "电梯困人请先按警铃或拨打电梯内96333救援电话。电梯反复故障的，"
        "可拨打12345反映，住建和市场监管部门将督促物业和维保单位检修，必要时启用维修资金。",
        "If you are stuck, press the alarm or call 96333 as posted in the lift. For a lift "
        "that keeps failing, call 12345; the housing and market regulation departments make "
        "the manager and the maintainer repair it, using the repair fund if needed.",
        ("电梯", "故障", "困人", "物业", "维保"),
        "深圳经济特区物业管理条例",
    ),
    DemoAnswer(
        "05.01.01",
        "ZJJ",
        "物业费涨价需要业主同意吗？",
        "Can the property manager raise the fee without the owners' consent?",
        "物业服务收费标准由业主大会与物业服务企业在合同中约定，调整应当经业主大会依法表决。"
        "未经表决擅自涨价的，可向街道或住建部门反映，也可拨打12345。",
        "The fee is set in the contract between the owners' assembly and the manager; a "
        "change needs the assembly's vote. Report a rise without a vote to the street office "
        "or the housing department, or call 12345.",
        ("物业费", "涨价", "业主大会", "物业"),
        "深圳经济特区物业管理条例",
    ),
    DemoAnswer(
        "05.02.02",
        "ZJJ",
        "邻居在楼顶私自搭建房屋，归谁管？",
        "A neighbour is building a structure on the roof without a permit.",
        "未取得建设工程规划许可的搭建属于违法建设。请拨打12345说明楼栋和位置，"
        "街道规划土地监察部门将核查，责令停止建设、限期拆除。",
        "Building without a planning permit is unauthorised. Call 12345 with the building and "
        "where; the street's planning enforcement checks it, stops the work and orders it "
        "removed.",
        ("违建", "违法建设", "楼顶", "搭建", "加建"),
        "深圳市查处违法建筑若干规定",
    ),
    DemoAnswer(
        "06.01.01",
        "RSJ",
        "公司拖欠工资不发，怎么办？",
        "My employer has not paid my wages. What can I do?",
        "请收集劳动合同、考勤、工资条、聊天记录等证据，拨打12345或到用人单位所在区劳动监察大队投诉，"
        "也可申请劳动仲裁（时效一年）。农民工欠薪可通过“深圳人社”小程序在线投诉。",
        "Collect your contract, attendance records, payslips and messages, and complain to "
        "12345 or the labour inspectors of the employer's district; you may also apply for "
        "arbitration within a year. Migrant workers can complain online in the Shenzhen HR "
        "and Social Security mini-program.",
        ("拖欠工资", "欠薪", "讨薪", "劳动仲裁", "工资", "老板不发工资"),
        "保障农民工工资支付条例",
    ),
    DemoAnswer(
        "06.01.02",
        "RSJ",
        "公司不签劳动合同，可以要求赔偿吗？",
        "My employer never signed a labour contract with me. Can I claim compensation?",
        "用人单位自用工之日起超过一个月不满一年未与劳动者订立书面劳动合同的，"
        "应当向劳动者每月支付二倍的工资。可向劳动人事争议仲裁委员会申请仲裁。",
        "An employer that goes more than a month (and less than a year) without a written "
        "contract owes double wages for each month. Apply to the labour dispute arbitration "
        "commission.",
        ("劳动合同", "双倍工资", "不签合同", "赔偿"),
        "中华人民共和国劳动合同法",
    ),
    DemoAnswer(
        "06.02.01",
        "RSJ",
        "离职后社保怎么续交？",
        "How do I keep paying social insurance after I leave my job?",
        "离职后新单位未接续前，深圳户籍人员可以灵活就业人员身份在“深圳人社”或社保网厅自行参保缴费；"
        "非深户籍人员可在新单位入职后由单位接续，中断期间一般不能补缴养老保险。",
        "Until a new employer takes over, Shenzhen residents may pay as flexible workers in the "
        "Shenzhen HR app or online; others continue through their next employer, and months "
        "missed in between usually cannot be paid later.",
        ("社保", "断缴", "续交", "离职", "灵活就业"),
        "深圳市社会养老保险条例",
        overdue=True,
    ),
    DemoAnswer(
        "06.02.02",
        "RSJ",
        "在外地看病，医保能报销吗？",
        "Can I claim my medical costs from treatment outside Shenzhen?",
        "办理异地就医备案后，在备案地定点医疗机构住院可直接结算；"
        "未备案或急诊的，可持发票、费用清单和病历回深圳申请手工报销。备案可在“国家医保服务平台”客户端办理。",
        "After registering for treatment elsewhere, stays in listed hospitals there are settled "
        "directly; without registration, or in an emergency, bring the invoices, the cost list "
        "and the records back to Shenzhen to claim. Register in the National Medical Insurance "
        "app.",
        ("医保", "异地就医", "报销", "备案"),
        "深圳市医疗保障办法",
    ),
    DemoAnswer(
        "07.01.02",
        "WJW",
        "医院挂号挂不上，有什么预约渠道？",
        "I cannot get a hospital appointment. How else can I book?",
        "深圳公立医院号源统一在“健康深圳”客户端和各医院公众号开放预约，一般提前7天放号。"
        "老年人可到医院现场窗口或拨打医院预约电话挂号，部分医院保留现场号源。",
        "Public hospitals open their appointments in the Health Shenzhen app and on their own "
        "accounts, usually 7 days ahead. Older people can book at the counter or by phone; "
        "some appointments are kept for the counter.",
        ("挂号", "预约", "健康深圳", "号源"),
        "深圳市预约诊疗服务管理规定",
    ),
    DemoAnswer(
        "08.02.02",
        "YJGLJ",
        "家里闻到燃气味怎么办？",
        "I smell gas at home. What do I do?",
        "立即关闭燃气总阀，打开门窗通风，不要开关电器、不要使用明火和手机，"
        "到室外安全处拨打燃气企业抢修电话或119。燃气设施安全隐患也可拨打12345反映。",
        "Turn off the gas at the main valve, open the windows, touch no switch, no flame and no "
        "phone inside, and call the gas company's emergency line or 119 from outside. Report "
        "other gas hazards to 12345.",
        ("燃气", "煤气", "漏气", "燃气味"),
        "深圳市燃气条例",
    ),
    DemoAnswer(
        "09.02.01",
        "GHZRJ",
        "在哪里查看规划公示？对规划有意见怎么提？",
        "Where are planning notices posted, and how do I comment on a plan?",
        "规划草案和建设项目规划许可在规划和自然资源局网站“公示公告”栏目及项目现场公示，"
        "公示期一般不少于30日。可在公示期内通过网站留言、信函或现场意见箱提出意见。",
        "Draft plans and building permits are posted on the Planning and Natural Resources "
        "Bureau's site and at the site itself, for at least 30 days; comment within that time "
        "on the site, by letter or in the box at the site.",
        ("规划公示", "规划", "公示", "意见"),
        "中华人民共和国城乡规划法",
    ),
)
