"""Named sets as features of a learned topic model: each set means what its comment says, in the three languages."""

from __future__ import annotations

import functools

import pytest

from crawler.config import load_config
from crawler.topics import Match, compile_query, with_definitions
from tests.support.topic import CONFIG


@functools.cache
def _set(name: str):  # type: ignore[no-untyped-def]
    sets = dict(load_config(CONFIG).sets)
    return compile_query(with_definitions(f"@{name}", sets))


def hit(name: str, text: str, title: str = "") -> Match | None:
    """The match of the default config's named set ``name`` in an article."""
    return _set(name).match(title, text)


# ---- false forms in existing sets --------------------------------------------------------------


def test_majors_and_masters_are_students_not_the_adjective_or_a_master_plan() -> None:
    assert hit("study_en_ru", "Physics majors and masters students joined the programme, majoring in optics.")
    for text in ("It is a major step for the two academies.", "The city adopted a master plan for the port."):
        assert hit("study_en_ru", text) is None, text


def test_the_lunar_new_year_is_a_holiday_not_space() -> None:
    assert hit("space_en", "The institutes exchanged greetings for the Lunar New Year.") is None
    assert hit("space_en", "The lunar probe carries a Russian instrument.")


def test_one_word_for_the_moon_is_one_hit_of_the_lunar_terms() -> None:
    m = hit("space_ru", "Экспедиция на Луну стартует в 2030 году.")
    assert m is not None and len(m.hits) == 1 and len(m.spans) == 1


@pytest.mark.parametrize(
    "text,country",
    [
        ("民航局已经和俄罗斯联邦航空运输署就CR929飞机适航审定合作开展研究。", True),
        ("CAAC and Rosaviatsia discussed the certification of the widebody airliner.", True),
        ("俄罗斯民航局表示,新规定下月生效。", False),  # another country's regulator: its name comes right before
    ],
)
def test_the_bare_name_of_china_s_civil_aviation_regulator_is_china(text: str, country: bool) -> None:
    m = compile_query("country:CN").match("", text)
    assert (m is not None) is country


@pytest.mark.parametrize(
    "name,texts",
    [
        # a field's words each language's set holds: Mars, palaeontology, inverse problems and theorems, incubators
        ("space", ("A rover will land on Mars.", "Аппарат сядет на Марс.", "探测器将在火星着陆。")),
        (
            "math_physics",
            ("Paleontologists found a new dinosaur.", "Палеонтологи нашли динозавра.", "古生物学家发现了新恐龙。"),
        ),
        ("math_physics", ("a conference on inverse problems", "конференция по обратным задачам", "反问题国际会议")),
        ("math_physics", ("They proved the theorem.", "Они доказали теорему.", "他们证明了这一定理。")),
        ("innovation", ("a new incubator for start-ups", "новый инкубатор стартапов", "新的孵化器")),
        # what industry develops together: airliners and gas turbines
        ("engineering", ("They will build gas turbines.", "Они выпустят газовые турбины.", "他们将生产燃气轮机。")),
        ("engineering", ("a wide-body passenger jet", "широкофюзеляжный дальнемагистральный", "新型远程客机")),
        # water tested and birds counted together
        ("earth_ocean_polar", ("They tested the water quality.", "Они проверили качество воды.", "他们检测了水质。")),
        ("earth_ocean_polar", ("Both sides tested the water.", "Стороны отобрали пробы воды.", "双方采集了水样。")),
        # a nature reserve is where wildlife is studied (releasing fry or patrolling it is @conservation_actions)
        ("life_agri", ("a cross-border nature reserve", "трансграничный заповедник", "跨境自然保护区")),
        (
            "life_agri",
            ("Ornithologists counted the cranes.", "Орнитологи подсчитали журавлей.", "鸟类学家统计了丹顶鹤。"),
        ),
        # innovation infrastructure
        ("innovation", ("a high-tech park", "высокотехнологичный парк", "高科技园区")),
    ],
)
def test_a_field_s_word_is_in_its_set_in_each_language(name: str, texts: tuple[str, str, str]) -> None:
    for lang, text in zip(("en", "ru", "zh"), texts):
        assert hit(f"{name}_{lang}", text) is not None, (lang, text)


def test_a_screen_is_not_environmental_monitoring() -> None:
    assert hit("earth_ocean_polar_en", "Joint environmental monitoring of the Amur began.")
    assert hit("earth_ocean_polar_en", "A supervisor studies a monitor showing the dragon.") is None


@pytest.mark.parametrize(
    "text",
    [
        # developing a machine is a research act, in Russian as R&D, 研发 and 研制 are in English and Chinese
        "Стороны приступят к разработке широкофюзеляжного самолета.",
        "Huawei откроет центр разработки телекоммуникационного оборудования.",
        "Предприятия проведут опытно-конструкторские работы.",
        "The two institutes will share the new observatory.",
        "两国科学家在天文台联合观测。",
    ],
)
def test_development_work_and_observatories_are_research_acts(text: str) -> None:
    assert hit("research_act", text), text


@pytest.mark.parametrize(
    "text,act",
    [
        # developing or creating an aircraft, an engine or a train is development work...
        ("China and Russia signed a contract to develop a heavy helicopter.", True),
        ("Россия и Китай подписали контракт на создание тяжелого вертолета.", True),
        ("Инженеры двух стран разрабатывают высокоскоростной поезд.", True),
        ("双方将开发一种新型远程宽体客机。", True),
        # ...supplying, selling or building one is not, nor a course in its design
        ("Students will take courses in engine design.", False),
        ("学生将在两国学习发动机设计课程。", False),
        ("Russia will supply engines for the helicopter.", False),
        ("Россия поставит двигатели для вертолетов.", False),
        ("俄方向中方出售直升机。", False),
    ],
)
def test_developing_a_machine_is_a_research_act_supplying_it_is_not(text: str, act: bool) -> None:
    assert (hit("research_act", text) is not None) is act


@pytest.mark.parametrize(
    "text",
    [
        "The corporations will jointly design an engine.",
        "Россия и Китай совместно создадут тяжелый вертолет.",
        "两家企业将联合设计新型发动机。",
        "双方联合选育温室番茄新品种。",
    ],
)
def test_designing_or_creating_together_is_joint_work(text: str) -> None:
    assert hit("joint_work", text), text


@pytest.mark.parametrize(
    "text,science",
    [
        ("The two countries deepen technological cooperation.", True),
        ("Стороны развивают технологическое сотрудничество.", True),
        ("中俄科技创新合作路线图", True),
        # the military's technical cooperation is arms, not science
        ("They discussed military-technical cooperation.", False),
        ("Стороны обсудили военно-техническое сотрудничество.", False),
        ("两国军事技术合作保持高水平。", False),
    ],
)
def test_technological_cooperation_is_science_cooperation(text: str, science: bool) -> None:
    assert (hit("science_cooperation", text) is not None) is science


@pytest.mark.parametrize(
    "text,joint",
    [
        ("Открылась российско-китайская лаборатория.", True),
        ("Российско-китайская экспедиция вернулась из Арктики.", True),
        ("Вырос российско-китайский товарооборот.", False),
    ],
)
def test_a_russian_chinese_structure_in_russian_copy(text: str, joint: bool) -> None:
    assert (hit("joint_structure", text) is not None) is joint


def test_joining_a_collaboration_is_cooperation_in_russian_too() -> None:
    assert hit("cooperation_ru", "ОИЯИ вошёл в коллаборацию JUNO.")
    assert hit("cooperation_en", "JINR joined the JUNO collaboration.")


# ---- sets that only serve as features ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Russian and Chinese geologists drilled boreholes in the permafrost of the Lena delta.",
        "Российские и китайские учёные изучают вечную мерзлоту в дельте Лены.",
        "俄罗斯与中国的科学家在冻土中钻探。",
    ],
)
def test_a_field_of_science_in_a_sentence_naming_both_sides(text: str) -> None:
    assert hit("both_fields", text)


@pytest.mark.parametrize(
    "text",
    [
        # the fields are in the names of the institutions, or are subjects taught
        "Harbin Institute of Technology and Bauman Moscow State Technical University signed an agreement on student exchange.",
        "Novosibirsk State University will teach Chinese students from Nanchang University in bachelor's programmes in chemistry.",
        # the sides in different sentences
        "Russian geologists drilled boreholes in the permafrost. A Chinese delegation visited the city.",
    ],
)
def test_no_field_of_science_beside_both_sides_outside_names_and_subjects_taught(text: str) -> None:
    assert hit("both_fields", text) is None


@pytest.mark.parametrize(
    "text",
    [
        "A delegation of Tsinghua University visited the Polytechnic University to discuss joint research projects.",
        "Делегация университета посетила институт, чтобы обсудить совместные исследования.",
        "代表团访问了研究所,双方就联合研究进行了会谈。",
    ],
)
def test_a_meeting_about_research(text: str) -> None:
    assert hit("meeting_research", text)


@pytest.mark.parametrize(
    "text",
    [
        "A delegation of Tsinghua University visited the Polytechnic University to discuss student exchange.",
        "Делегация университета посетила институт, чтобы обсудить обмен студентами.",
        # research inside an institution's name is not what they met about
        "A delegation of Samara National Research University visited Nanjing to discuss student exchange.",
    ],
)
def test_a_meeting_about_students_is_not_about_research(text: str) -> None:
    assert hit("meeting_research", text) is None


@pytest.mark.parametrize(
    "text,fuel",
    [
        ("Gazprom raised gas supplies to China through the pipeline.", True),
        ("Поставки газа в Китай выросли.", True),
        ("中俄东线天然气管道开始供气。", True),
        ("Газета сообщила о новом соглашении.", False),  # a newspaper, not gas
        # the greenhouse gases of climate science and the gases of physics are not fuel
        ("The expedition measured greenhouse gas emissions from the permafrost.", False),
        ("Physicists studied how the gases of the plasma cool.", False),
    ],
)
def test_fossil_fuels(text: str, fuel: bool) -> None:
    assert (hit("fossil_fuels", text) is not None) is fuel


# ---- the Chinese side of the distinctions: the words Chinese copy uses for them -----------------------


@pytest.mark.parametrize(
    "text",
    [
        "中俄博览会在哈尔滨开幕,两国企业签署合作协议。",  # a trade fair, as an expo
        "两国合作建设的跨江公路大桥正式通车。",  # building: a bridge, a port, a trunk line
        "俄方邀请中国企业参与北方海路港口建设。",
        "中国企业参与俄罗斯北极海底光缆干线项目。",
        "两国电信运营商签署协议,降低漫游资费。",  # telecom operators' business
        "俄罗斯石油公司邀请中国企业开发大陆架。",
        "海关简化了通关手续。",
        "中俄人文合作委员会召开会议。",  # the commission of culture, education, sport and media
    ],
)
def test_building_trade_and_people_to_people_ties_in_chinese_copy_are_not_s_and_t(text: str) -> None:
    assert hit("off_topic", text)


@pytest.mark.parametrize(
    "text",
    [
        "The two ministers discussed humanitarian cooperation and customs clearance at the new seaport.",
        "Стороны обсудили гуманитарное сотрудничество и работу таможни в морском порту.",
        "双方讨论了人文合作以及港口的海关工作。",
    ],
)
def test_humanitarian_cooperation_customs_and_ports_in_three_languages(text: str) -> None:
    assert hit("off_topic", text)


def test_partners_building_a_bridge_are_not_partners_in_s_and_t() -> None:
    sets = dict(load_config(CONFIG).sets)
    partners = compile_query(with_definitions("PARTNERS(@china, @russia, @cooperation, @off_topic)", sets))
    assert partners.match("", "中俄两国合作建设的黑河公路大桥正式通车。") is None
    assert partners.match("", "中俄两国科学家合作建设冻土联合实验室。") is not None


@pytest.mark.parametrize(
    "text", ["两国学者围绕中俄关系举行研讨会。", "专家分析了地缘政治形势。", "东方学研究所的学者访问北京。"]
)
def test_relations_geopolitics_and_oriental_studies_are_social_science(text: str) -> None:
    assert hit("social_science", text)


@pytest.mark.parametrize("text", ["两校将在深圳共建联合校区,合作办学。", "孔子学院举办开放日。", "交换生参加夏令营。"])
def test_a_campus_running_a_school_and_exchange_students_are_teaching(text: str) -> None:
    assert hit("teaching", text)


def test_admitting_freshmen_is_a_degree_programme() -> None:
    assert hit("degree_programmes", "今年录取新生三百名。")


def test_a_clinical_hospital_is_care_and_a_clinical_trial_is_medicine() -> None:
    assert hit("medicine_zh", "两院与俄罗斯儿童临床医院签署合作协议。") is None
    assert hit("medicine_zh", "双方在医院开展临床试验。")
    assert hit("healthcare", "俄罗斯游客来华就医、体检和疗养。")


@pytest.mark.parametrize(
    "name,text",
    [
        ("supply", "俄罗斯准备向中国提供重型直升机。"),
        ("supply", "首批设备已经交货。"),
        ("commerce", "中方订购了一批俄制客机。"),
        ("conservation_actions", "向界江投放鲟鱼幼苗十万尾。"),
        ("conservation_actions", "两国联合打击偷猎。"),
    ],
)
def test_supplying_buying_and_conservation_in_chinese_copy(name: str, text: str) -> None:
    assert hit(name, text)


@pytest.mark.parametrize("name", ["off_topic", "social_science", "teaching", "healthcare", "conservation_actions"])
def test_research_itself_is_in_no_set_of_what_is_not_s_and_t(name: str) -> None:
    assert hit(name, "中俄科学家在联合实验室开展联合研究,科研人员共同完成实验。") is None


@pytest.mark.parametrize(
    "name,text",
    [
        ("teaching", "双方举办学术研讨会,主办学术论坛。"),  # 办学, running a school, is not 举办学术
        ("degree_programmes", "新生儿筛查的化学分析结果。"),  # not freshmen, nor credits (化学分析)
        # Russian and Wuhan scholars, not Russian or Chinese studies
        ("social_science", "俄罗斯学者和武汉学者共同研究冻土。"),
        ("humanities", "俄罗斯学者和武汉学者共同研究冻土。"),
        ("off_topic", "中俄科学家联合研制月球漫游车。"),  # a rover, not roaming
        ("commerce", "卫星已完成交付测试。"),  # 完成交付, delivery completed, is no deal closed (成交)
        ("healthcare", "东北虎保护理论研究。"),  # protection theory (保护理论), not nursing (护理)
        ("social_science", "高等经济学院的数学家研究算法。"),  # a school's name, not economics
    ],
)
def test_a_chinese_term_inside_another_word_is_not_that_term(name: str, text: str) -> None:
    assert hit(name, text) is None


@pytest.mark.parametrize(
    "text,taught",
    [
        ("The labs will train large language models for natural language processing.", False),
        ("Учёные разработают большие языковые модели и естественный язык для программирования роботов.", False),
        ("双方合作研发大语言模型和自然语言处理技术。", False),
        ("The university opened Russian language courses.", True),
        ("Университет открыл курсы китайского языка.", True),
        ("大学开设俄罗斯语言课程。", True),
    ],
)
def test_a_language_model_is_computing_and_a_language_course_is_teaching(text: str, taught: bool) -> None:
    assert (hit("teaching", text) is not None) is taught


# ---- spying, academy honours, a reactor as economic cooperation ----------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Russia accuses a leading Arctic researcher of spying for China.",
        "The physicist is charged with treason for passing state secrets to Chinese intelligence.",
        "Chinese hackers targeted Russian defence research institutes.",
        "Учёного обвинили в госизмене: он якобы передал Китаю секретные сведения.",
        "ФСБ задержала профессора по делу о шпионаже в пользу Китая.",
        "俄罗斯又有科学家涉嫌为中国当间谍被捕。",
        "兩名教授涉嫌向中國出賣國家機密被起訴。",  # traditional script folds to the simplified terms
    ],
)
def test_spying_treason_and_hacking_are_off_topic(text: str) -> None:
    assert hit("espionage", text), text
    assert hit("off_topic", text), text


def test_a_state_secretary_is_no_state_secret() -> None:
    text = "Fomichev, State Secretary and Deputy Minister of Economic Development, signed the memorandum."
    assert hit("espionage", text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Professor Jinde Cao was elected a Foreign Member of the Russian Academy of Sciences.",
        "Академик избран иностранным членом Китайской академии наук.",
        "25位中国专家当选俄罗斯工程院外籍院士。",
    ],
)
def test_an_academy_electing_a_scientist_of_the_other_side_is_a_tie(text: str) -> None:
    assert hit("academy_honours", text), text
    assert hit("cooperation", text), text


def test_foreign_members_of_a_board_are_no_academy_honour() -> None:
    assert hit("academy_honours", "The board has two foreign members from Kazakhstan.") is None


def test_a_reactor_named_as_economic_cooperation_is_not_the_economy_s() -> None:
    reactor = "Тяньваньская АЭС — самый крупный объект российско-китайского экономического сотрудничества."
    assert hit("economic_ties", reactor) is None
    trade = "Стороны обсудили развитие торгово-экономического сотрудничества и поставки зерна."
    assert hit("economic_ties", trade)
