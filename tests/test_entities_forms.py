"""The forms a country entity takes beyond the country's name: a place in another language's script,
a Russian adjective, an institution's acronym, a transcribed name (``country:XX`` in queries)."""

from __future__ import annotations

import pytest

from crawler.topics import compile_query

CN = compile_query("country:CN")
RU = compile_query("country:RU")


def _hits(query, title: str, text: str = "") -> tuple[str, ...]:
    m = query.match(title, text)
    return m.hits if m is not None else ()


# --- Chinese places in Russian: Palladius from the pinyin name, and their adjectives ---------


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Делегация из провинции Хэйлунцзян прибыла в Благовещенск", "Хэйлунцзян → China"),
        ("Ученые Ляонина и Томска подписали соглашение", "Ляонин → China"),
        ("Хэйлунцзянские селекционеры вывели сорт сои", "хэйлунцзянск* → China"),
        ("шаньдунские партнеры открыли лабораторию", "шаньдунск* → China"),
        ("синьцзянская компания построит станцию", "синьцзянск* → China"),
        ("Инженеры из Шэньчжэня показали робота", "Шэньчжэнь → China"),
    ],
)
def test_a_chinese_province_or_city_written_in_russian_is_china(text: str, hit: str) -> None:
    assert hit in _hits(CN, "", text)


def test_an_autonomous_region_is_named_without_its_people_in_english_too() -> None:
    assert "Xinjiang → China" in _hits(CN, "Solar plant opens in Xinjiang")


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Scientists in Hong Kong and Novosibirsk built a detector", "Hong Kong → China"),
        ("A Macao university signed an agreement with Tomsk", "Macao → China"),
        ("A Macau university signed an agreement with Tomsk", "Macau → China"),
        ("香港和新西伯利亚的科学家研制了探测器", "香港 → China"),
        ("Учёные Гонконга и Новосибирска создали детектор", "Гонконг → China"),
    ],
)
def test_hong_kong_and_macao_are_chinas_regions_in_every_language(text: str, hit: str) -> None:
    # special administrative regions of China (ISO 3166-2:CN lists them), so the same story reads the same
    # in English as in Chinese and Russian; each is also an entity of its own (country:HK, country:MO)
    assert hit in _hits(CN, "", text)


def test_taiwan_is_not_chinas_region() -> None:
    assert CN.match("", "Taiwan and Russia signed an agreement") is None


@pytest.mark.parametrize(
    "text",
    [
        "Математики БФУ имени И. Канта разработали методы машинного обучения.",  # Иу (Yiwu) stems to и
        "Усы и Уда: рассказ о рыбалке.",
    ],
)
def test_short_transcriptions_that_stem_to_russian_words_are_not_places(text: str) -> None:
    assert CN.match("", text) is None


# --- families of names: institution acronyms, surnames transcribed into Chinese --------------


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Ученые ВНИИЖТ испытают новые материалы", "ВНИИЖТ → Russia"),
        ("Сотрудники ЦНИИмаш представили доклад", "ЦНИИмаш → Russia"),
        ("ФИЦ «Красноярский научный центр» открыл лабораторию", "ФИЦ → Russia"),
        ("Engineers of TsNIIMash met the delegation", "TsNIIMash → Russia"),
        ("莫斯科大学以罗蒙诺索夫命名", "罗蒙诺索夫 → Russia"),
        ("齐奥尔科夫斯基是航天之父", "齐奥尔科夫斯基 → Russia"),
        # Traditional copy: read as in Simplified, shown as written
        ("莫斯科大學以羅蒙諾索夫命名", "羅蒙諾索夫 → Russia"),
        ("齊奧爾科夫斯基是航天之父", "齊奧爾科夫斯基 → Russia"),
        ("代表团访问了该边疆区", "边疆区 → Russia"),  # a krai by its type alone
    ],
)
def test_a_family_of_names_resolves_and_the_hit_shows_the_text(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize(
    "word",
    [
        # everyday words ending in the characters of Russian surname endings
        "丈夫",
        "大夫",
        "功夫",
        "工夫",
        "农夫",
        "渔夫",
        "姐夫",
        "妹夫",
        "屠夫",
        "懦夫",
        "匹夫",
        "樵夫",
        "车夫",
        "马车夫",
        "马夫",
        "士大夫",
        "凡夫",
        "纤夫",
        "轿夫",
        "船夫",
        "高尔夫球",
        "斯拉夫人",
        "南斯拉夫",
        "娃娃",
        "福娃",
        "女娃",
        "布娃娃",
        "洋娃娃",
        "爱斯基摩人",
        # and words ending in 科, which the rule does not take as an ending
        "学科",
        "内科",
        "外科",
        "牙科",
        "本科",
        "理科",
        "社科",
        "眼科",
        "百科",
    ],
)
def test_chinese_words_ending_like_a_surname_are_not_russia(word: str) -> None:
    assert RU.match("", f"他说{word}很重要。") is None


def test_an_acronym_inside_a_word_or_in_lowercase_is_not_an_institute() -> None:
    assert RU.match("", "Обратите внимание на внииж и цнии в нижнем регистре.") is None


@pytest.mark.parametrize(
    "text",
    ["Engineers of ВНИИЖТ met their colleagues in Harbin.", "哈尔滨工业大学与 ВНИИЖТ 签署协议", "Инженеры ВНИИЖТ."],
)
def test_an_institute_acronym_is_found_in_a_text_of_any_script(text: str) -> None:
    m = RU.match("", text)
    assert m is not None and "ВНИИЖТ → Russia" in m.hits


def test_an_institute_by_its_acronym_is_a_partner_in_academic_cooperation() -> None:
    q = compile_query("PARTNERS(country:CN, country:RU, research)")
    m = q.match("", "ВНИИЖТ и Харбинский политехнический университет подписали соглашение.")
    assert m is not None
    assert "ВНИИЖТ → Russia" in m.hits


# --- surnames that are also cities ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Сергей Королёв создал первую ракету.",
        "С. П. Королёв создал ракету.",
        "Королёв С. П. создал ракету.",
        "Alexei Ivanov signed the agreement.",
        "Professor Nikolai Kirov spoke at the meeting.",
        # a city whose stem is a surname's: the matcher finds the surname's forms by it (Иваново, Пушкино)
        "Доклад сделала Нина Иванова.",
        "Стихи читал Александр Пушкин.",
    ],
)
def test_a_persons_surname_is_not_the_city_of_that_name(text: str) -> None:
    assert RU.match("", text) is None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("В городе Королёв открыли центр.", "Королев → Russia"),
        ("The agreement was signed in Kirov.", "Kirov → Russia"),
        ("Под Королёвом открыли центр, а в наукограде Королёв — музей.", "Королев → Russia"),
        ("Конференция прошла в Иваново.", "Иваново → Russia"),
        ("Иваново и Харбин подписали соглашение.", "Иваново → Russia"),
    ],
)
def test_the_city_named_like_a_surname_is_still_the_city(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


def test_in_a_title_cased_headline_only_an_initial_makes_the_surname_a_person() -> None:
    assert "Kirov → Russia" in _hits(RU, "Tsinghua Delegation Visits Kirov Research Centers")
    assert RU.match("Professor N. Kirov Opens The Conference In Harbin", "") is None


# --- regions named by their type, area-studies institutes, names of people --------------------


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("阿穆尔州代表团访问黑河", "阿穆尔州 → Russia"),
        ("滨海边疆区的科学家", "滨海边疆区 → Russia"),
        ("外贝加尔边疆区的企业", "外贝加尔边疆区 → Russia"),
        ("在阿穆尔举行的论坛", "阿穆尔 → Russia"),
        ("Scientists from Primorsky Krai", "Primorsky Krai → Russia"),
    ],
)
def test_a_russian_region_not_named_after_a_city_is_russia(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize("text", ["滨海新区的企业", "图瓦卢的海平面", "阿尔泰山脉的冰川"])
def test_a_region_s_name_without_its_type_is_not_taken_where_it_is_a_word_or_another_place(text: str) -> None:
    assert RU.match("", text) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("俄罗斯科学院中国与现代亚洲研究所代表团", "CN"),
        ("Директор Института Китая и современной Азии РАН", "CN"),
        ("the Institute of China and Contemporary Asia", "CN"),
        ("中国社会科学院俄罗斯东欧中亚研究所所长", "RU"),
        ("the Center for Russian Studies at a university", "RU"),
    ],
)
def test_the_country_an_area_studies_institute_studies_is_not_an_actor(text: str, code: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None
    other = "RU" if code == "CN" else "CN"
    if "研究所" in text or "Института" in text:
        assert compile_query(f"country:{other}").match("", text) is not None  # the institute's own country


@pytest.mark.parametrize(
    "text",
    [
        "哈萨克斯坦总统托卡耶夫出席会议",
        "白俄罗斯国家科学院副主席阿列克谢·特鲁哈诺夫会见中国大使。特鲁哈诺夫表示",
        "哈薩克斯坦總統托卡耶夫出席會議",  # Traditional characters
        "白俄羅斯國家科學院副主席特魯哈諾夫表示",
    ],
)
def test_a_transcribed_surname_after_another_country_s_name_is_that_country_s(text: str) -> None:
    assert RU.match("", text) is None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("中俄科学家伊万诺夫表示", "伊万诺夫 → Russia"),  # 万 is in the transcription table
        ("俄罗斯科学院院士费奥多罗夫", "费奥多罗夫 → Russia"),
        ("伊万诺夫表示", "伊万诺夫 → Russia"),  # no country named before: Russia's
    ],
)
def test_a_transcribed_surname_is_russia_s_after_russia_or_no_country(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize("text", ["布娃娃和高尔夫球", "一对柴米夫妻"])
def test_ordinary_words_ending_like_surnames_are_not_names(text: str) -> None:
    assert RU.match("", text) is None


def test_a_place_name_joined_to_a_name_by_a_middle_dot_is_a_person() -> None:
    assert RU.match("", "乌克兰总统弗拉基米尔·泽连斯基") is None
    assert "弗拉基米尔 → Russia" in _hits(RU, "", "在弗拉基米尔举行的论坛")


def test_a_surname_that_is_a_city_before_a_verb_of_saying_is_a_person() -> None:
    assert RU.match("", "Kirov said the results were promising.") is None
    assert RU.match("", "Королёв заявил, что работа продолжится.") is None
    assert "Kirov → Russia" in _hits(RU, "", "In Kirov, scientists said the results were promising.")


@pytest.mark.parametrize(
    "text",
    [
        "сообщается на сайте Северо-Западного университета Китая",
        "в северо-западной провинции Китая Ганьсу",
    ],
)
def test_an_institution_named_by_a_place_then_another_country_is_that_country_s(text: str) -> None:
    assert RU.match("", text) is None


@pytest.mark.parametrize(
    ("code", "text", "hit"),
    [
        ("CN", "西北高原所专家访问俄罗斯", "西北高原所 → China"),
        ("CN", "Researchers at DICP reported", "DICP → China"),
        ("RU", "China enhances cooperation with NICA", "NICA → Russia"),
    ],
)
def test_institutes_and_facilities_by_their_short_names(code: str, text: str, hit: str) -> None:
    assert hit in _hits(compile_query(f"country:{code}"), "", text)


def test_a_chinese_institute_by_its_short_name_in_the_title_makes_both_sides_headline_partners() -> None:
    topic = compile_query(
        "PARTNERS(country:CN, country:RU, 科研 OR 育种)",
    )
    title = "西北高原所专家访问俄罗斯、白俄罗斯、乌克兰相关科研机构"
    assert topic.match(title, "双方讨论了小麦育种合作。") is not None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("与俄罗斯库尔恰托夫研究所商定", "库尔恰托夫研究所 → Russia"),  # not 罗斯库尔恰托夫
    ],
)
def test_a_transcribed_surname_right_after_the_country_s_name_starts_after_it(text: str, hit: str) -> None:
    hits = _hits(RU, "", text)
    assert hit in hits
    assert not any(h.startswith("罗斯") for h in hits)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Ученые в Приморье испытали робота", "Приморь* → Russia"),
        ("экспедиция в Якутии", "Якути* → Russia"),
        ("шахты Кузбасса", "Кузбасс* → Russia"),
        ("на Кубани вывели сорт", "Кубань → Russia"),
        ("Yamal LNG engineers", "Yamal → Russia"),
        ("库页岛的科考站", "库页岛 → Russia"),
    ],
)
def test_a_russian_region_by_its_customary_name(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize("text", ["Куба и Китай", "делегация с Кубы"])
def test_cuba_is_not_the_kuban(text: str) -> None:
    assert RU.match("", text) is None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("a dairy research centre in Inner Mongolia", "Inner Mongolia → China"),
        ("экспедиция в Тибете", "Тибет* → China"),
        ("中关村的科技企业", "中关村 → China"),
        ("粤港澳大湾区的实验室", "粤港澳大湾区 → China"),
    ],
)
def test_a_chinese_region_or_science_zone_by_the_name_the_press_uses(text: str, hit: str) -> None:
    assert hit in _hits(CN, "", text)


def test_outer_mongolia_is_not_inner_mongolia() -> None:
    assert CN.match("", "Улан-Батор, столица Монголии") is None


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("BMSTU engineers", "BMSTU → Russia"),
        # NEFU is also China's Northeast Forestry University: the full name tells which
        ("NEFU researchers of the North-Eastern Federal University", "NEFU → Russia"),
        # national research universities by the short forms on their own English pages
        ("a professor from BelSU", "BelSU → Russia"),
        ("TUSUR engineers", "TUSUR → Russia"),
        ("PNRPU scientists", "PNRPU → Russia"),
        ("KNRTU-KAI engineers", "KNRTU-KAI → Russia"),
        ("LETI researchers", "LETI → Russia"),
        # regional universities by the names on their own sites, and MISIS as it writes itself
        ("NNSTU engineers", "NNSTU → Russia"),
        ("учёные ТОГУ", "ТОГУ → Russia"),
        ("делегация ЮРГПУ", "ЮРГПУ → Russia"),
        ("НИТУ «МИСиС» подписал меморандум", "МИСиС → Russia"),
    ],
)
def test_russian_universities_by_their_english_acronyms(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Paleontologists of the Soviet Academy of Sciences invited colleagues", "Soviet Academy of Sciences → Russia"),
        ("Экспедицию организовал Палеонтологический институт АН СССР", "АН СССР → Russia"),
        ("1956年苏联科学院邀请中国古生物学家", "苏联科学院 → Russia"),
    ],
)
def test_the_soviet_academy_of_sciences_is_russia_s_the_predecessor_of_ras(text: str, hit: str) -> None:
    assert hit in _hits(RU, "", text)


@pytest.mark.parametrize("text", ["Советский Союз и Китай", "the Soviet Union and China", "苏联和中国"])
def test_the_soviet_union_itself_is_not_russia(text: str) -> None:
    assert not any(h.endswith("→ Russia") for h in _hits(RU, "", text))


# --- a place whose Russian name has the stem of another country's name ------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("JP", "Делегация из Китая прибыла в Новосибирск"),  # Китами, Kitami, stems as Китай
        ("EC", "Учёные Китая и России открыли лабораторию"),  # Кито, Quito
    ],
)
def test_another_country_s_name_is_not_a_place_with_the_same_stem(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None


def test_a_region_named_as_a_country_stays_the_country_s_region() -> None:
    assert "Гонконг → China" in _hits(CN, "", "Учёные из Гонконга и Томска открыли лабораторию")


# --- regions ISO 3166-2 names with diacritics, as the press writes them with or without ---------


@pytest.mark.parametrize(
    ("code", "text", "hit"),
    [
        ("IN", "A chip plant opens in Gujarat", "Gujarat → India"),  # ISO: Gujarāt
        ("IN", "ISRO's centre in Karnataka", "Karnataka → India"),  # ISO: Karnātaka
        ("DE", "A battery lab in Baden-Württemberg", "Baden-Wurttemberg → Germany"),
        ("PL", "Uczelnie w Łódzkie", "Łódzkie → Poland"),  # ł has no mark to take off: both spellings
        ("PL", "A campus in Lodzkie", "Lodzkie → Poland"),
    ],
)
def test_a_region_whose_iso_name_has_diacritics_is_found_with_or_without_them(code: str, text: str, hit: str) -> None:
    assert hit in _hits(compile_query(f"country:{code}"), text)


# --- other countries' national science bodies, which no place names -----------------------------


@pytest.mark.parametrize(
    ("code", "text", "hit"),
    [
        ("IN", "Scientists at ISRO tested the lander", "ISRO → India"),
        ("IN", "IIT Bombay and Tohoku University signed an agreement", "IIT Bombay → India"),
        ("JP", "IIT Bombay and Tohoku University signed an agreement", "Tohoku University → Japan"),
        ("JP", "JAXA will launch the rover", "JAXA → Japan"),
        ("DE", "The Fraunhofer Institute for Ceramic Technologies opened a lab", "Fraunhofer Institute → Germany"),
        ("DE", "宁德时代与弗劳恩霍夫协会共建实验室", "弗劳恩霍夫 → Germany"),
        ("US", "NASA and ISRO set the launch date", "NASA → United States"),
        (
            "CH",
            "Researchers at École polytechnique fédérale de Lausanne",
            "École polytechnique fédérale de Lausanne → Switzerland",
        ),
    ],
)
def test_another_country_s_science_agencies_academies_and_universities_are_found(
    code: str, text: str, hit: str
) -> None:
    assert hit in _hits(compile_query(f"country:{code}"), text)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("DE", "Fraunhofer diffraction and Helmholtz coils in the physics lab"),  # physicists, not the societies
        ("FR", "Researchers at École polytechnique fédérale de Lausanne"),  # EPFL is Switzerland's
    ],
)
def test_a_scientist_s_name_or_another_country_s_school_is_not_the_institution(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None


def test_a_partnership_of_two_other_countries_institutions_is_found_by_partners() -> None:
    q = compile_query("PARTNERS(country:IN, country:JP, semiconductor* OR chip*)")
    title = "Kyoto University, IIT Bombay to train chip engineers together"
    assert q.match(title, "The universities will exchange doctoral researchers.") is not None


# --- cities GeoNames names with their own letters or with their river -----------------------------


@pytest.mark.parametrize(
    ("code", "text", "hit"),
    [
        ("DE", "BASF said in Ludwigshafen on Monday", "Ludwigshafen → Germany"),  # Ludwigshafen am Rhein
        ("DE", "A hydrogen hub in Frankfurt", "Frankfurt → Germany"),  # Frankfurt am Main
        ("PL", "Researchers in Kraków", "Krakow → Poland"),
        ("PL", "Researchers in Krakow", "Krakow → Poland"),
        ("CN", "A solar institute in Ürümqi", "Urumqi → China"),
        ("CN", "A solar institute in Urumqi", "Urumqi → China"),
        # GeoNames writes Ürümqi: its Russian name reads like it only without the marks
        ("CN", "Квантовый ключ передали между Москвой и Урумчи", "Урумчи → China"),
        ("DE", "Исследователи из Вюрцбурга", "Вюрцбург → Germany"),
    ],
)
def test_a_city_named_with_diacritics_or_its_river_is_found_as_the_press_writes_it(
    code: str, text: str, hit: str
) -> None:
    assert hit in _hits(compile_query(f"country:{code}"), text)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("A Xi'an-based aerospace engine maker opened the centre", "Xi'an → China"),
        ("Engineers in Xi\u2019an tested the turbine", "Xi'an → China"),  # a typographic apostrophe
        ("The Tai'an plant", "Tai'an → China"),
        ("Huai'an and Yan'an", "Huai'an → China"),
        ("Ma'anshan Iron and Steel", "Ma'anshan → China"),
    ],
)
def test_a_city_whose_pinyin_name_holds_an_apostrophe_is_found(text: str, hit: str) -> None:
    assert hit in _hits(compile_query("country:CN"), text)


def test_a_city_name_that_is_also_a_russian_word_is_not_taken_from_geonames_alternates() -> None:
    # Syria's Douma (Дума) and Iran's Bani (бани) are written with their own letters in GeoNames; their
    # Russian alternates are Russian words, and would read the State Duma as Syria
    assert compile_query("country:SY").match("", "Законопроект внесён в Государственную думу.") is None
    assert compile_query("country:IR").match("", "Бани и сауны открылись после ремонта.") is None


def test_a_city_named_like_a_person_is_the_person_before_a_surname() -> None:
    assert RU.match("", "Professor Artem Abakumov presented the cathode") is None  # not the city of Artem


# --- regions by the English names the press uses where ISO gives the region's own ----------------


@pytest.mark.parametrize(
    ("code", "text", "hit"),
    [
        ("DE", "A battery plant in Bavaria", "Bavaria → Germany"),  # ISO: Bayern
        ("DE", "Hydrogen trucks tested in North Rhine-Westphalia", "North Rhine-Westphalia → Germany"),
        ("DE", "A solid-state battery lab in Thuringia", "Thuringia → Germany"),
        ("IT", "A chip fab in Lombardy", "Lombardy → Italy"),
    ],
)
def test_a_region_is_found_by_its_english_name(code: str, text: str, hit: str) -> None:
    assert hit in _hits(compile_query(f"country:{code}"), text)


def test_a_region_named_by_an_everyday_word_is_not_found_by_it() -> None:
    # Israel's Central District and Malawi's Northern Region are listed as Central and Northern
    assert compile_query("country:IL OR country:MW").match("Central Bank raises rates", "Northern lights seen.") is None


# --- a sea or ocean named after a country ---------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("JP", "The navies held drills in the Sea of Japan"),
        ("JP", "Учения прошли в Японском море"),
        ("JP", "舰艇在日本海举行演习"),
        ("IN", "A research vessel sailed the Indian Ocean"),
        ("IN", "Экспедиция работала в Индийском океане"),
        ("IN", "科考船在印度洋作业"),
    ],
)
def test_a_sea_or_ocean_named_after_a_country_is_not_the_country(code: str, text: str) -> None:
    assert compile_query(f"country:{code}").match("", text) is None


def test_the_country_s_sailors_are_the_country_not_a_sea() -> None:
    assert "японск* → Japan" in _hits(compile_query("country:JP"), "", "Японские моряки прибыли во Владивосток")
