"""Names the press uses for a country's institutions, and where a sentence ends, in topic matching."""

from __future__ import annotations

import pytest

from crawler.topics import compile_query, prepare
from tests.support.topic import matches_rules

PARTNERS = "PARTNERS(country:CN, country:RU, research OR lab* OR scien*, arms OR trade)"


# --- sentences -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Директор института им. Г.Б. Елякова ДВО РАН д.х.н. П.С. Дмитренок принял делегацию.",
        "President Victor V. Dyomin met Dr. Li in St. Petersburg on Monday.",
        "Собралось 5 тыс. человек из разных стран.",
        # a month a sentence opens with, as a year does (В 2024 г. Россия ...)
        "In Jan. China and Russia signed a deal on joint research.",
        "In early Sept. Russia and China opened a laboratory.",
        # a kind of place or a title before a capitalised word; a slash after a space is a bracket
        "В Амурской обл. Благовещенск и жители гор. Хэйхэ встретились на ул. Ленина у МГУ им. Ломоносова.",
        "Ученые Института прикладной физики РАН /г. Нижний Новгород/ и Китая провели опыт.",
    ],
)
def test_initials_and_abbreviations_do_not_end_a_sentence(text: str) -> None:
    doc = prepare("", text)
    f = doc.fields["text"]
    assert f.sentence(f.positions[0]) == f.sentence(f.positions[-1])


def test_each_position_of_a_long_text_finds_its_own_word_and_sentence() -> None:
    # a position's low bits are its word's index, above the gap added at each sentence end
    sentences = [" ".join(f"W{i}x{j}" for j in range(i % 7 + 1)) + "." for i in range(900)]
    text = " ".join(sentences)
    f = prepare("", text).fields["text"]
    assert len(f.positions) > 2048
    for k, p in enumerate(f.positions):
        word = f.raw(p, p)
        assert word.startswith("W") and f.sentence(p) == int(word[1:].split("x")[0]), (k, p, word)
    assert f.raw(f.positions[0], f.positions[-1]) == text[:-1]
    # phrases and NEAR stay inside a sentence
    assert compile_query('"W5x0 W6x0"').match("", text) is None
    assert compile_query("W5x5 NEAR/3 W6x0").match("", text) is None
    assert compile_query("W5x0 NEAR/4 W5x5").match("", text) is not None


def test_a_full_stop_before_a_capital_still_ends_a_sentence() -> None:
    f = prepare("", "Работы начались в 2019 г. Россия выделила средства. Затем Китай.").fields["text"]
    assert f.sentence(f.positions[-1]) == 2
    # so both sides in different sentences are not partners
    q = compile_query(PARTNERS)
    assert q.match("News", "Russian scientists met. China opened a lab.") is None


def test_a_partner_named_with_initials_in_the_sentence_is_found() -> None:
    q = compile_query(PARTNERS)
    text = "Academician V. A. Sadovnichy of MSU and Tsinghua scientists opened a joint lab."
    assert q.match("News", text) is not None


# --- institutions named by their place -----------------------------------------------------


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("RU", "Researchers of Kemerovo State University spoke.", "Kemerovo State University → Russia"),
        ("CN", "Harbin Polytechnic University hosted them.", "Harbin Polytechnic University → China"),
        ("RU", "The University of Tyumen signed it.", "University of Tyumen → Russia"),
        (
            "RU",
            "Делегация Новосибирского государственного технического университета прибыла.",
            "Новосибирского государственного технического университета → Russia",
        ),
        ("RU", "Уфимский университет науки и технологий", "Уфимский университет → Russia"),
        ("CN", "Учёные Сианьского университета", "Сианьского университета → China"),
        ("CN", "哈尔滨理工大学的研究团队", "哈尔滨理工大学 → China"),
        ("RU", "伊尔库茨克国立大学代表团", "伊尔库茨克国立大学 → Russia"),
        # Traditional characters, read folded, shown as written
        ("RU", "喀山國立研究技術大學的雙學位項目", "喀山國立研究技術大學 → Russia"),
        ("RU", "伊爾庫茨克國立大學代表團", "伊爾庫茨克國立大學 → Russia"),
    ],
)
def test_an_institution_named_by_its_place_is_its_country_s(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize(
    "code,text",
    [
        ("RU", "Students from Moscow visited the university."),  # a place, then other words
        ("RU", "Томский учёный выступил в университете."),  # an adjective, then a noun that is not a name
        ("CN", "在哈尔滨举行的大学生论坛"),  # the place, then a phrase (的) before 大学
        ("CN", "在哈爾濱舉行的大學生論壇"),  # the same in Traditional characters
    ],
)
def test_a_place_near_an_institution_word_is_still_only_a_place(code: str, text: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and all("univers" not in h.lower() and "大学" not in h for h in m.hits)


def test_two_institutions_named_by_their_places_are_academic_partners() -> None:
    q = compile_query(PARTNERS)
    # no S&T word of the query's own: the two universities are the partners
    assert q.match("News", "Tomsk State Pedagogical University and Harbin Normal University signed an agreement.")
    assert q.match("News", "Томский педагогический университет и Харбинский университет подписали соглашение.")
    # a city and a university are not two institutions
    assert q.match("News", "Students from Tomsk visited Harbin Normal University.") is None


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("CN", "HUST and ITMO University signed a partnership agreement.", "HUST → China"),
        ("CN", "SMBU welcomed its freshmen.", "SMBU → China"),
        ("CN", "Sberbank aims to partner with DeepSeek.", "DeepSeek → China"),
        ("RU", "Sberbank aims to partner with DeepSeek.", "Sberbank → Russia"),
        ("RU", "KFU was represented by its vice-rector.", "KFU → Russia"),
        ("RU", "СКФУ договорился о сотрудничестве.", "СКФУ → Russia"),
        ("RU", "TVEL delivered the first core load.", "TVEL → Russia"),
        ("RU", "Учёные Сибири и Урала", "Сибир* → Russia"),
    ],
)
def test_universities_companies_and_regions_from_public_lists(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


# --- other countries, rivals, the writer's own country -------------------------------------


def test_common_words_that_share_a_country_name_s_stem_are_not_that_country() -> None:
    # данные "data" shares Дания's stem, мало "little" Мали's, того "of that" Того's
    assert compile_query("country:DK").match("", "Новые данные показали, что мало кто знает.") is None
    assert compile_query("country:ML").match("", "Этого мало.") is None
    m = compile_query("country:DK").match("", "Учёные Дании и Китая")
    assert m is not None and "Дания → Denmark" in m.hits
    # so a story full of data is not taken for one about Denmark, a third country
    q = compile_query("PARTNERS(country:CN, country:RU, исследован*)")
    text = "Российские и китайские учёные провели совместное исследование. " + "Данные обработаны. " * 4
    assert q.match("Новости", text) is not None


def test_the_default_topic_takes_important_for_important_not_for_imports() -> None:
    # "important" and "imports" share an English stem; only imports is trade
    text = (
        "Rosatom and China's nuclear research institute agreed on an important new stage of joint work "
        "on the fast reactor, the partners said."
    )
    assert matches_rules("A new stage for fast reactor research", text)


def test_the_default_topic_leaves_out_a_race_between_the_two() -> None:
    title = "While the US and China compete for AI dominance, Russia's leading model lags behind"
    text = "Russian researchers say their AI model lags behind Chinese research models, despite cooperation talks."
    assert not matches_rules(title, text)


def test_the_default_topic_reads_our_university_in_chinese_copy_as_china() -> None:
    title = "我校与圣彼得堡国立大学签署合作协议"
    text = "日前，我校与圣彼得堡国立大学签署合作协议，双方将在材料科学领域开展联合研究。"
    assert matches_rules(title, text)
    # the writer's own country alone is not the other side
    assert not matches_rules("我校与清华大学签署合作协议", "日前，我校与清华大学签署合作协议，双方将开展联合研究。")


def test_two_academic_institutions_in_the_title_are_partners() -> None:
    q = compile_query(PARTNERS)
    assert q.match("Tsinghua and Bauman sign an agreement", "The rectors met in Beijing on Monday.") is not None
    # a city and a university in the title still need the activity in the title or the lead
    assert q.match("Tsinghua welcomes guests from Moscow", "The rectors met in Beijing on Monday.") is None


# --- people and other countries' institutions ----------------------------------------------


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("RU", "A statement from the Moscow Kremlin followed.", "Moscow → Russia"),  # Kremlin is no surname here
        ("CN", "Engineers in Beijing Haidian district built it.", "Beijing → China"),
        ("RU", "Учёные из Томска Иванова и Петрова приехали.", "Томск → Russia"),
    ],
)
def test_a_place_before_a_capitalised_word_is_still_the_place(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize(
    "code,text",
    [
        ("RU", "Минобрнауки Казахстана объявило конкурс."),  # the ministry of science of Kazakhstan
        ("CN", "印度国家航天局发射了一颗卫星。"),  # India's national space agency
    ],
)
def test_an_institution_named_with_another_country_is_that_country_s(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None
    # without the other country it is the country's own
    alone = text.replace("Казахстана ", "").replace("印度", "")
    assert compile_query(f"country:{code}").match("", alone) is not None


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("CN", "南信大与俄方合作研发天气预报模型", "南信大 → China"),
        ("CN", "中国气象局与俄罗斯水文气象局签署协议", "中国气象局 → China"),
        ("RU", "Учёные Академгородка представили результаты.", "Академгородк* → Russia"),
        ("RU", "Energomash engineers visited Beijing.", "Energomash → Russia"),
    ],
)
def test_short_university_names_and_science_agencies(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


# --- time zones, and the default topic's words of joint work and of trade ------------------------


@pytest.mark.parametrize(
    "code,text",
    [
        ("RU", "Ракета стартует в 18.44 по московскому времени с космодрома Цзюцюань."),
        ("RU", "The launch is set for 10:00 Moscow time."),
        ("CN", "火箭于北京时间10时发射。"),
    ],
)
def test_a_time_zone_named_after_a_capital_is_not_the_country(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None
    # the capital itself still is
    city = {"RU": "Москва", "CN": "北京"}[code]
    assert compile_query(f"country:{code}").match("", f"{text} {city}") is not None


def test_the_default_topic_takes_one_side_s_instruments_on_the_other_s_spacecraft() -> None:
    # joint work reported without a word of cooperation: an instrument of one flies on the other's probe
    title = "Российские приборы установят на китайские космические аппараты"
    text = "Российские приборы для исследования Луны готовятся к установке на китайские космические аппараты."
    assert matches_rules(title, text)
    # both present, no joint work: one side follows the other's results
    assert not matches_rules(
        "Что привезла с Луны китайская станция",
        "Российские исследователи изучают лунный реголит и следят за публикациями о китайской станции.",
    )


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Tomsk oceanographers took part in a Chinese Arctic expedition",
            "Oceanographers of Tomsk State University took part in the expedition of the Chinese icebreaker Xuelong.",
        ),
        (
            "Томские океанологи участвовали в китайской экспедиции",
            "Океанологи ТГУ участвовали в экспедиции китайского ледокола «Сюэлун» в Арктику.",
        ),
        # 参与, participate in the work; 参加, attend, is said of any event, a visit or a class as well
        ("托木斯克海洋学家参与中国北极科考", "托木斯克国立大学的海洋学家参与了中国雪龙号的北极科考航次。"),
    ],
)
def test_the_default_topic_takes_taking_part_as_working_together(title: str, text: str) -> None:
    assert matches_rules(title, text)


def test_the_default_topic_takes_freight_wagons_engineers_build_but_not_freight() -> None:
    title = "РЖД и китайские инженеры разработают грузовой вагон для Арктики"
    text = "Российские и китайские инженеры совместно разработают грузовой вагон для работы в условиях мерзлоты."
    assert matches_rules(title, text)
    # carrying goods is trade
    assert not matches_rules(
        "Грузовые перевозки между Россией и Китаем выросли",
        "Российские и китайские компании совместно увеличили грузовые перевозки, в том числе инженерного оборудования.",
    )


def test_online_cooperation_in_chinese_is_not_the_shanghai_cooperation_organisation() -> None:
    # 线上合作 "online cooperation" holds 上合, the short name of the SCO
    title = "中国冶金研究院与俄罗斯科学院举行线上合作签约仪式"
    text = "中国冶金研究院与俄罗斯科学院举行线上合作签约仪式，双方将在新材料领域开展联合研究。"
    assert matches_rules(title, text)
    assert not matches_rules(
        "上合组织峰会举行", "上合组织峰会上，中国与俄罗斯科学院代表就新材料领域开展联合研究交换了意见。"
    )


def test_a_think_tank_of_science_and_technology_policy_is_not_policy_analysis() -> None:
    title = "Russian and Chinese universities set up a think tank on engineering technology"
    text = (
        "Tomsk Polytechnic University and the Chinese Academy of Science and Technology for Development signed an "
        "agreement on a think tank assessing engineering technology for Russia and China."
    )
    assert matches_rules(title, text)
    # a think tank of relations between the two stays out
    assert not matches_rules(
        "Russian and Chinese think tank on relations",
        "Russian and Chinese researchers launched a think tank on relations between Russia and China.",
    )


@pytest.mark.parametrize(
    "title,text",
    [
        # co-organisers of a conference
        (
            "Конференция в Чанчуне",
            "Организатором конференции по экологии был институт географии Китайской академии наук, "
            "соорганизаторами - институты Дальневосточного отделения РАН.",
        ),
        # postgraduates of one side do research at the other's university
        (
            "Аспиранты Горного университета вернулись из Китая",
            "Аспиранты Санкт-Петербургского горного университета прошли стажировку в Тайюаньском технологическом университете в Китае "
            "и написали исследовательские работы по энергетическому оборудованию.",
        ),
        # the verb, not only the noun
        (
            "Учёные Томска и Харбина будут сотрудничать",
            "Физики Томского университета и Харбинского политехнического университета будут сотрудничать в "
            "исследованиях плазмы.",
        ),
    ],
)
def test_the_default_topic_takes_co_organisers_interns_and_the_verb_of_cooperating(title: str, text: str) -> None:
    assert matches_rules(title, text)


def test_the_default_topic_takes_a_helicopter_developed_together_not_a_joint_venture_that_services_them() -> None:
    title = "Russia and China will develop a heavy helicopter"
    text = "Russia and China have signed a contract stipulating the joint development of a heavy helicopter."
    assert matches_rules(title, text)
    assert not matches_rules(
        "Russia and China establish a joint venture for helicopters",
        "Russian Helicopters and a Chinese company set up a joint venture to service Russian helicopters in China.",
    )


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("RU", "РЖД и китайские инженеры испытали новый вагон.", "РЖД → Russia"),
        ("RU", "Russian Railways tested a new wagon.", "Russian Railways → Russia"),
        ("RU", "俄罗斯铁路公司与中方合作研发转向架。", "俄罗斯铁路公司 → Russia"),
        ("RU", "Специалисты Роспотребнадзора испытали вакцину.", "Роспотребнадзор* → Russia"),
        ("CN", "中国中铁与俄方专家联合攻关冻土路基。", "中国中铁 → China"),
        ("CN", "Engineers of China Railway Group tested the track.", "China Railway Group → China"),
        ("CN", "国铁集团与俄罗斯铁路公司签署协议。", "国铁集团 → China"),
    ],
)
def test_state_corporations_and_agencies_are_their_country_s(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize(
    "text,expected",
    [
        ("门捷列夫的元素周期表发表于1869年。", "门捷列夫 → Russia"),  # Менделеев: мэн 门
        ("缅希科夫教授介绍了研究成果。", "缅希科夫 → Russia"),  # Меньшиков: мень 缅
        ("登金斯基院士出席会议。", "登金斯基 → Russia"),  # дэн 登, кин 金
    ],
)
def test_surnames_transcribed_with_the_closed_syllables_of_the_table(text: str, expected: str) -> None:
    m = compile_query("country:RU").match("", text)
    assert m is not None and expected in m.hits
    # the phrase-dictionary words the wider table takes for names are still not names
    assert compile_query("country:RU").match("", "心雄万夫的勇士。") is None


def test_a_joint_university_of_the_two_sides_is_both_partners() -> None:
    # Shenzhen MSU-BIT University was founded by Moscow State University and Beijing Institute of Technology
    q = compile_query(PARTNERS)
    text = "Scholars of Shenzhen MSU-BIT University published research on the climate of the Holocene."
    m = q.match("News", text)
    assert m is not None
    assert "Shenzhen MSU-BIT University → China" in m.hits and "Shenzhen MSU-BIT University → Russia" in m.hits
    # one side's university alone is still one side
    assert q.match("News", "Scholars of Tsinghua University published research on the climate.") is None
    assert q.match("News", "Учёные Университета МГУ-ППИ в Шэньчжэне опубликовали исследование климата.") is not None


def test_the_natural_science_foundation_of_china_in_russian_is_china_s() -> None:
    m = compile_query("country:CN").match("", "Проекты поддержаны Государственным фондом естественных наук.")
    assert m is not None and "Государственный фонд естественных наук → China" in m.hits


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("CN", "HEU's delegation visited St. Petersburg at the invitation of SMTU.", "HEU → China"),
        ("CN", "CHD and Tomsk Polytechnic University signed an agreement.", "CHD → China"),
        ("RU", "TPU Rector Petr Chubik visited China.", "TPU → Russia"),
        ("RU", "Химики НПИ посетили Ланьчжоу. Делегация кафедры ЮРГПУ(НПИ) провела встречи.", "НПИ → Russia"),
        ("RU", "The team of the HSE Faculty of Urban Development met partners in Guangzhou.", "HSE → Russia"),
        # the full name elsewhere in the article
        ("CN", "HEU signed the agreement on Monday. Harbin Engineering University was founded in 1953.", "HEU → China"),
    ],
)
def test_an_ambiguous_university_abbreviation_beside_a_university_word_or_its_full_name(
    code: str, text: str, expected: str
) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize("abbr", ["КузГТУ", "АлтГТУ", "ОмГУ", "ИрНИТУ", "ЗабГГПУ", "КалмГУ", "ВолгГМУ"])
def test_a_russian_university_is_found_by_its_abbreviation_from_its_place(abbr: str) -> None:
    # the stem of a Russian place, then the capitals of the university's kind: no list names them all
    m = compile_query("country:RU").match("", f"Делегация посетила {abbr} в среду.")
    assert m is not None and f"{abbr} → Russia" in m.hits
    gate = compile_query("country:CN AND country:RU")
    assert gate.match(f"В {abbr} прибыла делегация Шаньдунского университета", "Стороны обсудили обмены.") is not None


@pytest.mark.parametrize(
    "text",
    [
        "ТашГТУ и КазНУ подписали соглашение.",  # Tashkent's and Kazakhstan's: their places, not Russia's
        "УрГАУ и СамГУ.",  # stems Russia shares with Kazakhstan (Уральск) and Uzbekistan (Самарканд)
        "Норматив СНиП и ГОСТ.",  # no place's stem
        "Омская область",  # a place, not a university: found as a place
    ],
)
def test_an_abbreviation_from_another_former_soviet_state_s_place_is_not_a_russian_university(text: str) -> None:
    m = compile_query("country:RU").match("", text)
    assert m is None or not any(
        h.endswith(("ГТУ → Russia", "НУ → Russia", "ГУ → Russia", "АУ → Russia")) for h in m.hits
    )


def test_an_abbreviation_two_countries_universities_share_is_the_one_the_article_names_in_full() -> None:
    # NEFU: Russia's North-Eastern Federal University and China's Northeast Forestry University; a university
    # word beside it cannot tell them apart, the full name in the article does
    ru, cn = compile_query("country:RU"), compile_query("country:CN")
    forestry = "NEFU and St. Petersburg State Forestry University agreed on a joint base. Northeast Forestry University"
    m = cn.match("", forestry + " is in Harbin.")
    assert m is not None and "NEFU → China" in m.hits
    m = ru.match("", forestry + " is in Harbin.")
    assert m is not None and "NEFU → Russia" not in m.hits
    yakutsk = "NEFU University signed an agreement. Северо-Восточный федеральный университет сообщил об этом."
    m = ru.match("", yakutsk)
    assert m is not None and "NEFU → Russia" in m.hits
    assert cn.match("", yakutsk) is None
    assert cn.match("", "NEFU University signed an agreement.") is None
    assert ru.match("", "NEFU University signed an agreement.") is None
    # NSU is Novosibirsk State University's English short form as НГУ is its Russian one
    m = ru.match("NSU hosts a symposium", "Novosibirsk State University hosted the symposium.")
    assert m is not None and "NSU → Russia" in m.hits


@pytest.mark.parametrize(
    "code,text",
    [
        ("CN", "Russia offered to down-blend HEU from its research reactors."),  # highly enriched uranium
        ("CN", "Patients with CHD were enrolled in the trial."),  # coronary heart disease
        ("RU", "Google's TPU chips power the model."),  # a tensor processing unit
        ("RU", "Сотрудники НПИ «Геодезия» провели съёмку."),  # another НПИ, a surveying firm
        ("RU", "The plant's HSE officer checked the pipeline."),  # health, safety and environment
    ],
)
def test_an_ambiguous_abbreviation_alone_is_not_a_university(code: str, text: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is None or not any(h.startswith(("HEU", "CHD", "TPU", "НПИ", "HSE")) for h in m.hits)


@pytest.mark.parametrize(
    "code,text,expected",
    [
        # universities of the national lists and the border regions, in each language
        ("CN", "Northeast Petroleum University and KFU opened a joint lab.", "Northeast Petroleum University → China"),
        ("CN", "西南交通大学与俄罗斯交通大学签署合作协议。", "西南交通大学 → China"),
        ("CN", "西北农林科技大学代表团访问了莫斯科。", "西北农林科技大学 → China"),
        ("CN", "Делегация Яньшаньского университета посетила Томск.", "Яньшаньский университет → China"),
        ("RU", "Amur State University hosted the forum in Blagoveshchensk.", "Amur State University → Russia"),
        ("RU", "Учёные ТГМУ и Харбинского медицинского университета провели исследование.", "ТГМУ → Russia"),
        ("RU", "太平洋国立医科大学与哈尔滨医科大学合作。", "太平洋国立医科大学 → Russia"),
        ("RU", "Специалисты ДальГАУ изучили сою.", "ДальГАУ → Russia"),
        # 东北大学 is named whole, not through the 北大 (Peking University) inside it
        ("CN", "东北大学与俄罗斯高校共建实验室。", "东北大学 → China"),
    ],
)
def test_a_university_of_the_public_lists_names_its_country(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and expected in m.hits


@pytest.mark.parametrize(
    "text",
    [
        "美国东北大学的研究人员发表了论文。",  # Northeastern University in Boston
        "美国西北大学教授表示。",  # Northwestern University in Evanston
    ],
)
def test_an_american_university_of_the_same_chinese_name_is_not_china(text: str) -> None:
    assert compile_query("country:CN").match("", text) is None


def test_an_ambiguous_short_form_counts_only_beside_its_university() -> None:
    q = compile_query("country:CN")
    m = q.match("", "NEPU delegation arrived in Tomsk.")
    assert m is not None and "NEPU → China" in m.hits
    assert q.match("", "NEPU shares rose on Monday.") is None
    m = q.match("", "NEPU shares rose on Monday. Northeast Petroleum University said so.")
    assert m is not None and "NEPU → China" in m.hits


@pytest.mark.parametrize(
    "code,text",
    [
        # a university's short form that is also another country's university or a word inside other words
        ("CN", "HUST engineers in Hanoi launched a satellite."),  # Hanoi University of Science and Technology
        ("CN", "SDU researchers in Odense published a study."),  # University of Southern Denmark
        ("CN", "The Nankai Trough earthquake risk was revised."),  # off Japan's coast
        ("CN", "越南开展了新的科研项目。"),  # 越南 + 开展, not 南开
        ("CN", "俄罗斯是核武大国。"),  # 核武 + 大国, not 武大
        ("CN", "公司须上交大量数据。"),  # 上交 + 大量, not 上交大
        ("CN", "日本东北大学的研究人员发表了论文。"),  # Tohoku University
        ("CN", "台北北科大学生参加了比赛。"),  # Taipei Tech
        ("CN", "会议在莫斯科商务大厦大堂举行。"),  # 大厦 + 大堂, not 厦大
        ("RU", "KFU Graz published a study on the Alps."),  # the University of Graz
        ("RU", "UNN in Nsukka opened a new hospital."),  # the University of Nigeria
        ("RU", "ИГУ в Караколе принял абитуриентов."),  # Issyk-Kul State University, Kyrgyzstan
        ("CN", "国立东华大学位于花莲。"),  # National Dong Hwa University, Taiwan
    ],
)
def test_a_short_form_of_another_university_or_inside_other_words_is_not_the_country(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None


@pytest.mark.parametrize("text", ["弗拉基米尔·泽连斯基表示，乌方愿意合作。", "泽连斯基当天发表讲话。"])
def test_a_listed_person_of_another_country_is_not_a_russian_surname(text: str) -> None:
    # 泽连斯基 ends as Russian surnames do in Chinese, but is Ukraine's president
    assert compile_query("country:RU").match("", text) is None
    m = compile_query("country:UA").match("", text)
    assert m is not None and "泽连斯基 → Ukraine" in m.hits
    # a Russian surname still is Russia's
    m = compile_query("country:RU").match("", "谢尔盖·拉夫罗夫当天发表讲话。")
    assert m is not None and "拉夫罗夫 → Russia" in m.hits


def test_the_default_topic_takes_work_funded_by_both_sides_as_working_together() -> None:
    # no word of cooperation: the two sides' funds support the same work
    title = "Учёные СПбГУ и Цинхуа создали алгоритм для прогнозирования свойств сплавов"
    text = (
        "Исследователи Санкт-Петербургского государственного университета и Университета Цинхуа разработали модель "
        "машинного обучения для сплавов. Работа выполнена при поддержке гранта РНФ и Государственного фонда "
        "естественных наук Китая."
    )
    assert matches_rules(title, text)


@pytest.mark.parametrize(
    "code,text",
    [
        ("CN", "Scientists marked the International Day of Biodiversity."),  # Day has the stem of Daye
        ("CN", "Days of science opened in the region."),
    ],
)
def test_a_latin_place_name_is_not_found_in_a_word_that_only_shares_its_stem(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None


@pytest.mark.parametrize(
    "code,text,expected",
    [
        ("CN", "Daye's mayor opened the laboratory.", "Daye → China"),  # a possessive is still the place
        ("RU", "Scientists from Ulan-Ude arrived.", "Ulan Ude → Russia"),  # a hyphen for a space
        ("RU", "Nizhny Novgorod's engineers", "Nizhny Novgorod → Russia"),  # the spelling written, not a variant's
    ],
)
def test_a_latin_place_name_matches_as_written(code: str, text: str, expected: str) -> None:
    m = compile_query(f"country:{code}").match("", text)
    assert m is not None and m.hits == (expected,)


@pytest.mark.parametrize(
    "both",
    ["обе страны считают его многообещающим", "две страны считают его перспективным", "двум странам он интересен"],
)
def test_the_default_topic_takes_both_countries_in_any_case_as_working_together(both: str) -> None:
    # "обеих стран" (genitive) was a word of working together; the nominative "обе страны" and the dative are too
    # (not "в лаборатории" of the Chinese university: a side's researcher at the other's laboratory is joint work by itself)
    title = "Российский химик работает в Восточно-Китайском технологическом университете"
    text = (
        "Российский химик Константин Чингин работает в Восточно-Китайском технологическом университете над "
        "масс-спектрометрией. Метод анализа опухолей во время операции ещё не применяли в хирургии"
    )
    assert matches_rules(title, f"{text}, но {both}.")
    assert not matches_rules(title, f"{text}.")


def test_taiwan_is_not_china_s_region() -> None:
    # ISO 3166-2 lists Taiwan under CN, ISO 3166-1 as TW: its names are Taiwan's only
    for text in ("Учёные России и Тайваня", "российско-тайваньских проектов", "俄罗斯与台湾的科学家"):
        assert compile_query("country:CN").match("", text) is None
    for text, expected in (("Учёные России и Тайваня", "Тайвань → Taiwan"), ("俄罗斯与台湾的科学家", "台湾 → Taiwan")):
        m = compile_query("country:TW").match("", text)
        assert m is not None and expected in m.hits
    # a special administrative region stays China's
    m = compile_query("country:CN").match("", "Учёные Гонконга")
    assert m is not None and "Гонконг → China" in m.hits
    # a joint call of Russia's and Taiwan's science funders is not China–Russia cooperation
    title = "РНФ подвел итоги совместного конкурса российско-тайваньских научных проектов"
    text = "Российско-тайваньские научные коллективы получат финансирование РНФ и Министерства науки Тайваня."
    assert not matches_rules(title, text)


def test_a_field_word_inside_a_state_company_s_name_is_part_of_the_name() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, 海洋 OR 化工 OR 核能)")
    # 海洋 (ocean) and 化工 (chemicals) name CNOOC and Sinopec, not what the companies do with Rosneft
    text = "俄罗斯石油公司考虑邀请中国石油化工集团公司和中国海洋石油有限公司开发俄罗斯大陆架。"
    assert q.match("", text) is None
    # the same words beside the names are what the sides do
    m = q.match("", "中国海洋石油有限公司与俄罗斯科学家合作开展海洋研究。")
    assert m is not None and "海洋" in m.hits


@pytest.mark.parametrize(
    "title,text,body",
    [
        (
            "Россия и Китай совместно оценивают минерально-сырьевой потенциал",
            "ВЛАДИВОСТОК, 6 сентября. Россия и Китай совместно оценивают минерально-сырьевой потенциал приграничных "
            "территорий двух стран, заявил в интервью на Восточном экономическом форуме глава министерства природных "
            "ресурсов. По его словам, работы находятся на разной стадии реализации и продлятся несколько лет.",
            "Среди совместных проектов - подготовка новой геологической карты Северной Азии.",
        ),
        (
            "Chang'an University and Tomsk Polytechnic University sign a cooperation agreement",
            "The presidents of the two universities signed a comprehensive cooperation agreement on Monday in the "
            "main building of the university, after a meeting that lasted the whole morning. The agreement was prepared "
            "over several months by the international offices of both universities and will run for five years.",
            "They will deepen cooperation in mutual visits of teachers and in cooperative scientific research.",
        ),
    ],
)
def test_the_default_topic_takes_a_headline_of_both_sides_working_together_and_the_work_in_the_body(
    title: str, text: str, body: str
) -> None:
    # the headline names both sides and that they work together; the body, past the lead, names at what, beside a
    # word of it
    assert len(text) > 300
    assert matches_rules(title, f"{text}\n{body}")
    # without the work named in the body it is an agreement of unknown content
    assert not matches_rules(title, text)
    # the work named in passing, with no word of working together beside it, is not enough
    assert not matches_rules(
        title, text + "\n" + body.replace("совместных проектов", "тем").replace("cooperative ", "")
    )


@pytest.mark.parametrize(
    "title,text,other",
    [
        (
            "Rectors discuss joint research projects",
            "The rectors of Kazan Federal University and Jilin University met on Tuesday to discuss further cooperation."
            " The talks took place in Changchun.",
            ("joint research projects", "joint master's programmes"),
        ),
        (
            "Фонды договорились поддерживать совместные научные проекты",
            "Соглашение подписано в Москве. Российский научный фонд продолжит программу сотрудничества с Государственным"
            " фондом естественных наук Китая.",
            ("совместные научные проекты", "обмен студентами"),
        ),
    ],
)
def test_the_default_topic_takes_research_cooperation_in_the_headline_of_institutions_partnered_in_the_text(
    title: str, text: str, other: tuple[str, str]
) -> None:
    # two institutions of the two sides in one sentence with no S&T word of their own: the headline says what they
    # agreed on or discussed, and joint research is the story's subject
    assert matches_rules(title, text)
    # the same institutions meeting about teaching are not S&T, nor are they without the headline's research
    assert not matches_rules(title.replace(*other), text)
    assert not matches_rules(title.replace(other[0], "").strip(), text)


@pytest.mark.parametrize(
    "title,text",
    [
        (
            "Вузы России и Китая создадут международный центр по садоводству",
            "Ректоры аграрных университетов подписали соглашение о намерении создать центр.",
        ),
        (
            "Russian and Chinese universities to set up an international horticulture centre",
            "The rectors of the agrarian universities signed a letter of intent to set up the centre.",
        ),
        ("中俄高校将共建国际园艺中心", "两校校长签署了共建中心的意向书。"),
    ],
)
def test_the_default_topic_takes_horticulture_as_a_field_of_agricultural_science(title: str, text: str) -> None:
    assert matches_rules(title, text)
