"""Traditional and Simplified Chinese meet: a topic written in one finds articles in the other."""

from __future__ import annotations

from crawler.textnorm import index_tokens, to_simplified
from crawler.topics import compile_query, snippet

TRADITIONAL = (
    "中俄聯合實驗室在哈爾濱揭牌",
    "俄羅斯科學院與中國科學院簽署協議，雙方將在新材料和核能技術領域開展聯合研究。",
)


def test_folding_keeps_length_and_maps_characters() -> None:
    assert to_simplified("俄羅斯科學院") == "俄罗斯科学院"
    assert to_simplified("中俄科技合作") == "中俄科技合作"
    assert len(to_simplified(TRADITIONAL[1])) == len(TRADITIONAL[1])


def test_simplified_query_matches_traditional_text_and_back() -> None:
    m = compile_query("俄罗斯科学院 AND 联合研究").match(*TRADITIONAL)
    assert m is not None and set(m.hits) == {"俄罗斯科学院", "联合研究"}
    assert compile_query("title:實驗室").match("中俄联合实验室揭牌", "正文") is not None


def test_highlights_point_into_the_original_traditional_text() -> None:
    m = compile_query("科学院").match(*TRADITIONAL)
    assert m is not None
    hits = [seg for seg, hit in snippet(TRADITIONAL[1], m) if hit]
    assert hits and all(h == "科學院" for h in hits)


def test_index_tokens_are_simplified() -> None:
    assert "罗斯" in index_tokens("俄羅斯").split()
