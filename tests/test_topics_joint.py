"""Both sides named as one actor of the work ("Russian and Chinese physicists synthesized...")."""

from __future__ import annotations

import pytest

from crawler.topics import compile_query
from tests.support.topic import matches_rules


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Permafrost survey in the Lena delta",
            "Russian and Chinese geologists drilled boreholes in the permafrost of the Lena delta to measure how fast"
            " the ground is warming.",
        ),
        (
            "A new catalyst for hydrogen",
            "Chinese (Tianjin University) and Russian (Boreskov Institute) chemists made a catalyst that turns methane"
            " into hydrogen.",
        ),
        (
            "Новый катализатор для водорода",
            "Китайские (Тяньцзиньский университет) и российские (Институт катализа) химики создали катализатор,"
            " превращающий метан в водород.",
        ),
        ("Изучение вечной мерзлоты", "Российские и китайские учёные пробурили скважины в вечной мерзлоте дельты Лены."),
        ("冻土调查", "俄罗斯和中国的研究人员在勒拿河三角洲的永久冻土中钻探，测量地面升温的速度。"),
    ],
)
def test_the_default_topic_takes_both_sides_as_one_team_for_working_together(title: str, text: str) -> None:
    # no word of cooperation: the two sides coordinated before a word for researchers are one team
    assert matches_rules(title, text)


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Quantum result",
            "US and Chinese physicists reported a new result in quantum computing in Nature, Russia's ministry of"
            " science said in a statement on Monday.",
        ),
        (
            "Квантовый результат",
            "Американские и китайские физики получили новый результат в квантовых вычислениях, сообщило"
            " министерство науки России в понедельник.",
        ),
        ("量子计算", "美国和中国的物理学家在量子计算领域取得新成果，俄罗斯科学部在声明中表示。"),
    ],
)
def test_one_side_beside_researchers_of_other_countries_is_not_a_joint_team(title: str, text: str) -> None:
    assert not matches_rules(title, text)


@pytest.mark.parametrize(
    "text",
    [
        "An expedition of scientists from Russia, Japan, China and Mongolia set off to study the coast of Japan.",
        "Экспедиция учёных России, Японии, Китая и Монголии изучит Японию и её моря.",
        "由俄罗斯、日本、中国和蒙古科学家组成的科考队将研究日本沿海。",
    ],
)
def test_a_third_country_in_one_list_with_both_sides_is_a_member_of_the_team(text: str) -> None:
    # Japan is named more often than China, but once in the list of the team's countries: that one is no
    # sign that Japan is the partner instead of a side
    q = compile_query("PARTNERS(country:CN, country:RU, scien* OR учены* OR 科学家)")
    assert q.match("", text) is not None


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "China leads a neutrino collaboration",
            "Scientists from China, France, Germany, Italy, Russia and Japan formed the collaboration of the neutrino"
            " observatory in Beijing.",
        ),
        (
            "Китай возглавил нейтринную коллаборацию",
            "Учёные Китая, Франции, Германии, Италии, России и Японии создали коллаборацию нейтринной"
            " обсерватории в Пекине.",
        ),
        (
            "中国主导中微子实验国际合作组成立",
            "由中国、法国、德国、意大利、俄罗斯和日本的科学家组成的国际合作组在北京成立。",
        ),
    ],
)
def test_two_sides_among_many_countries_of_a_list_are_a_multilateral_team_not_partners(title: str, text: str) -> None:
    # three or more third countries in the list: a multilateral collaboration, in a sentence as in the headline
    # (the title names China, the text's first sentence Russia)
    q = compile_query("PARTNERS(country:CN, country:RU, scien* OR учён* OR учены* OR 科学家 OR collaboration)")
    assert q.match(title, text) is None
    assert (
        q.match(
            "",
            text.replace(", France, Germany, Italy", "")
            .replace(", Франции, Германии, Италии", "")
            .replace("、法国、德国、意大利", ""),
        )
        is not None
    )


@pytest.mark.parametrize(
    "text",
    [
        "Japanese and Chinese scientists studied the coast of Japan, and Russia hosted a conference on it.",
        "Японские и китайские учёные изучили побережье Японии, а Россия провела о нём конференцию.",
        "日本和中国的科学家研究了日本沿海，俄罗斯为此举办了会议。",
    ],
)
def test_a_third_country_listed_with_one_side_only_is_still_the_partner(text: str) -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, scien* OR учены* OR 科学家)")
    assert q.match("", text) is None


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Scientists to study the Amur's effect on the Sea of Japan",
            "Scientists of Russia and China will study how the Amur affects the ecology of the Sea of Japan.",
        ),
        (
            "Учёные изучат влияние Амура на Японское море",
            "Учёные России и Китая изучат, как Амур влияет на экологию Японского моря.",
        ),
        ("科学家将研究黑龙江对日本海的影响", "俄罗斯和中国的科学家将研究黑龙江对日本海生态的影响。"),
    ],
)
def test_a_sea_named_after_a_third_country_is_not_that_country(title: str, text: str) -> None:
    # the Sea of Japan in the title is a sea, not Japan as the partner of one side
    q = compile_query("PARTNERS(country:CN, country:RU, scien* OR учены* OR 科学家)")
    assert q.match(title, text) is not None
    # Japan itself in the title still is
    assert (
        q.match(
            title.replace("Sea of Japan", "Japan").replace("Японское море", "Японию").replace("日本海", "日本"), text
        )
        is None
    )


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Scientists to study the Amur's effect on the Japan and Okhotsk seas",
            "Scientists of Russia and China will study how the Amur affects the Japan and Okhotsk seas.",
        ),
        (
            "Экспедиция изучит влияние Амура на воды Японского и Охотского морей",
            "Учёные России и Китая изучат, как Амур влияет на воды Японского и Охотского морей.",
        ),
    ],
)
def test_the_first_of_several_seas_named_together_is_a_sea_too(title: str, text: str) -> None:
    # "Японского и Охотского морей": Japan's adjective names a sea only through the sea word after the list
    q = compile_query("PARTNERS(country:CN, country:RU, scien* OR учены* OR 科学家)")
    assert q.match(title, text) is not None
    # a country's name before a list of other names is still the country
    assert (
        q.match(title.replace("Japan and Okhotsk seas", "Japan").replace("Японского и Охотского морей", "Японии"), text)
        is None
    )


# --- an off-topic word in the lead ------------------------------------------------------------

AIR_SHOW = (
    "ZHUHAI — Visitors to the Airshow China expo queued on Tuesday to see a full-size cabin section of the new"
    " wide-body airliner. Engineers of Russia's United Aircraft Corporation and China's COMAC jointly develop"
    " the aircraft's wing and engine nacelles at a design centre in Shanghai."
)


@pytest.mark.parametrize(
    "title,text",
    [
        ("Wide-body airliner cabin on show", AIR_SHOW),
        (
            "Кабина широкофюзеляжного лайнера на авиасалоне",
            "ЧЖУХАЙ. Посетители выставки ЭКСПО в Чжухае осмотрели макет кабины нового широкофюзеляжного самолета."
            " Инженеры российской ОАК и китайской COMAC совместно разрабатывают крыло и гондолы"
            " двигателей в конструкторском центре в Шанхае.",
        ),
        # 共同开发 "develop together", as 共同研制 and 联合研发: a supply word in the lead does not make it trade
        (
            "中俄合作生产重型直升机引擎上出难题",
            "俄罗斯与中国共同开发重型直升机被认为是双方关系中的大型战略合作项目。由于俄罗斯依赖乌克兰的引擎供应，"
            "直升机的进度还不得而知。",
        ),
    ],
)
def test_an_off_topic_word_in_the_lead_does_not_veto_engineering_the_sides_develop_together(
    title: str, text: str
) -> None:
    assert matches_rules(title, text)


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Russia to deliver a new batch of aircraft engines to China",
            "Russia's arms export agency will deliver a new batch of military aircraft engines to China under a contract"
            " signed last year. Russian and Chinese engineers service the engines together at a plant in Harbin.",
        ),
        (
            "俄方将向中方交付新一批航空发动机",
            "据俄罗斯国防出口公司消息，俄方将根据双方合同向中方交付新一批军用航空发动机。中俄工程师在哈尔滨共同维护发动机。",
        ),
    ],
)
def test_engineering_words_without_joint_development_do_not_lift_the_lead_veto(title: str, text: str) -> None:
    assert not matches_rules(title, text)


# --- words that are not evidence of science ---------------------------------------------------


@pytest.mark.parametrize(
    "title,text",
    [
        # experts (专家) discuss policy: an expert is any specialist, as "expert" is not S&T in English
        (
            "中俄专家共议向北开放方向和重点",
            "中新网呼和浩特8月21日电，中国和俄罗斯两国专家21日在呼和浩特共议中国向北开放的方向和重点，双方同意加强合作。",
        ),
        # an institute of strategic studies is a think tank of policy, not a research institute of science
        (
            "Russian Institute for Strategic Studies delegation visits Heilongjiang University",
            "A delegation of the Russian Institute for Strategic Studies visited Heilongjiang University in Harbin on"
            " Monday, and the two sides agreed to cooperate in research on China-Russia relations.",
        ),
        (
            "俄罗斯战略研究所代表团来校交流访问",
            "俄罗斯战略研究所代表团日前来黑龙江大学交流访问，双方希望在相关领域进行合作研究。",
        ),
    ],
)
def test_experts_and_institutes_of_strategic_studies_are_not_science(title: str, text: str) -> None:
    assert not matches_rules(title, text)


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "俄罗斯记者的合肥量子之旅",
            "俄罗斯《共青团真理报》科技记者伊万·索科洛夫应邀来华，参观了合肥的多家科研机构，并与研究人员交流。",
        ),
        (
            "冰城学汉语的俄罗斯留学生",
            "来自伊尔库茨克的俄罗斯留学生在哈尔滨工业大学学习，参加了航天科普活动，并与中国同学交流。",
        ),
    ],
)
def test_attending_talking_or_being_invited_is_not_working_together_in_chinese(title: str, text: str) -> None:
    assert not matches_rules(title, text)
    # a word of working together makes it a story of joint work
    assert matches_rules(title, text.replace("。", "，双方签署了联合研究协议。"))


# --- joint work told by what happened -------------------------------------------------------------


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Neutrino detectors tested on Lake Baikal",
            "Chinese physicists have tested neutrino detectors at the Russian installation on Lake Baikal, and two"
            " strings of Chinese-made optical modules already run there, a senior researcher said.",
        ),
        (
            "Детекторы нейтрино испытаны на Байкале",
            "Китайские физики испытали детекторы нейтрино на российской установке на Байкале, рассказал старший"
            " научный сотрудник.",
        ),
        ("中微子探测器测试", "中国科学家在俄罗斯的实验室测试了中微子探测器，一位高级研究员表示。"),
    ],
)
def test_one_side_s_researchers_at_the_other_side_s_facility_work_together(title: str, text: str) -> None:
    # no word of cooperation: scientists of one side at a facility of the other are doing the work together
    assert matches_rules(title, text)


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Chang'e-6 samples reveal volcanic activity",
            "Chinese scientists found evidence of volcanic activity on the far side of the Moon in the samples. Russian"
            " planetary scientists praised the results of the Chinese laboratory.",
        ),
        (
            "Образцы «Чанъэ-6» указали на вулканизм",
            "Китайские учёные нашли следы вулканической активности на обратной стороне Луны. Российские планетологи"
            " высоко оценили результаты китайской лаборатории.",
        ),
    ],
)
def test_one_side_s_scientists_praising_the_other_side_s_laboratory_are_not_working_with_it(
    title: str, text: str
) -> None:
    assert not matches_rules(title, text)


def test_both_countries_in_the_russian_dative_say_the_work_is_shared() -> None:
    # the dative "обеим странам", like "обеих стран" and "обе страны": the work is the two countries' own
    title = "Российский химик в лаборатории масс-спектрометрии в Наньчане"
    text = (
        "Российский химик Константин работает в лаборатории масс-спектрометрии Восточно-Китайского технологического"
        " университета. Метод позволит хирургам определять границы опухоли, и метод интересен обеим странам."
    )
    assert matches_rules(title, text)
    assert not matches_rules(title, text.replace(", и метод интересен обеим странам", ""))


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Rosatom to build two more units in China",
            "A general contract for Russian-designed power units No. 3 and No. 4 at the Xudapu site was signed in Moscow"
            " in the presence of the heads of Russia and China.",
        ),
        (
            "Rosatom to build two more units in China",
            "A general contract for the Russian-designed Xudapu NPP was signed in Moscow in the presence of the heads of"
            " Russia and China.",
        ),
    ],
)
def test_a_contract_for_nuclear_power_units_is_big_science_not_trade(title: str, text: str) -> None:
    # "power units" and "NPP" are nuclear, as энергоблок and АЭС are in Russian and 机组 in Chinese: a contract
    # beside them is a big-science project built together, not a sale
    assert matches_rules(title, text)
