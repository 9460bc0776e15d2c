"""What a reload (SIGHUP) logs it changed: per source and topic the settings, old → new when short, the key
alone when long (a query), so that the journal answers "did my edit take?"."""

from __future__ import annotations

from pathlib import Path

from crawler.config import Config, load_config
from scheduler.changes import other_changes, source_changes

BASE = """
[storage]
database = "nw.db"

[crawl]
user_agent = "newswatch-test/1.0 (+mailto:ops@example.org)"
delay = "0s"

[sets]
cn = '"China" OR Chinese'

[[sources]]
name = "gw"
url = "http://127.0.0.1:9/globalwire/rss.xml"
every = "15m"

[[sources]]
name = "vestnik"
url = "http://127.0.0.1:9/vestnik/rss.xml"

[[topics]]
name = "cr"
query = '@cn AND (Russia OR Russian) AND (science OR research OR laboratory OR university OR academy)'
min_score = 1.0
"""


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "nw.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_a_reload_names_each_changed_setting_of_a_source_or_topic(tmp_path: Path) -> None:
    old = config(tmp_path, BASE)
    new = config(
        tmp_path,
        BASE.replace('every = "15m"', 'every = "1h30m"\ntitle = "GlobalWire"')
        .replace("/vestnik/rss.xml", "/vestnik/news/rss.xml")
        .replace("university OR academy", "university OR academy OR institute")
        .replace("min_score = 1.0", "min_score = 2.5\nalert_score = 6.0")
        .replace('delay = "0s"', 'delay = "2s"')
        .replace("Chinese'", "Chinese OR PRC'")
        + '\n[[sources]]\nname = "huaxia"\nurl = "http://127.0.0.1:9/huaxia/rss.xml"\n',
    )
    assert source_changes(old, new) == [
        "changed gw (every 15m → 1h30m, title none → 'GlobalWire')",
        "changed vestnik (url)",  # two URLs are too long to show side by side: the key says it
        "added huaxia",
    ]
    assert other_changes(old, new) == [
        "changed topic cr (set @cn edited, query, min_score 1 → 2.5, alert_score none → 6)",
        "changed set @cn",
        "changed [crawl] (delay 0s → 2s)",
    ]
    assert source_changes(new, old)[0] == "removed huaxia"
    assert source_changes(old, old) == [] and other_changes(old, old) == []


def test_a_short_value_is_shown_old_and_new_and_a_topic_added_or_removed_is_named(tmp_path: Path) -> None:
    old = config(tmp_path, BASE)
    new = config(
        tmp_path,
        BASE.replace('name = "vestnik"\n', 'name = "vestnik"\nkind = "sitemap"\nwindow = "1d"\n')
        + '\n[[topics]]\nname = "arctic"\nquery = "Arctic"\n',
    )
    assert source_changes(old, new) == ["changed vestnik (kind 'feed' → 'sitemap', window 2d → 1d)"]
    assert other_changes(old, new) == ["added topic arctic"]
    assert other_changes(new, old) == ["removed topic arctic"]


def test_a_reload_names_the_set_a_model_topic_reads_and_the_recipients_changed(tmp_path: Path) -> None:
    import json

    from crawler.model import fingerprint

    science = "scien* OR research* OR laborator*"
    feature = {
        "expression": "@science",
        "weights": {"any": 1.0, "title": 0.5, "lead": 0.0, "body": 0.2},
        "fingerprint": fingerprint("@science", {"science": science}),
    }
    model = {"format": "newswatch-topic-model", "version": 1, "bias": -1.0, "languages": {"en": 0.5}}
    (tmp_path / "m.json").write_text(json.dumps({**model, "features": [feature]}), encoding="utf-8")
    base = (
        BASE.replace("[sets]\n", f"[sets]\nscience = '{science}'\n")
        + '\n[[topics]]\nname = "learned"\nquery = "@science"\nmodel = "m.json"\n'
        + '\n[digest]\n[[digest.recipients]]\nemail = "a@example.org"\n'
        + '\n[[digest.recipients]]\nemail = "b@example.org"\ntopics = ["cr"]\n'
    )
    old = config(tmp_path, base)
    edited = base.replace("laborator*'", "laborator* OR academ*'").replace(
        'topics = ["cr"]', 'topics = ["cr", "learned"]'
    )
    new = config(tmp_path, edited + '\n[[digest.recipients]]\nemail = "c@example.org"\n')
    assert other_changes(old, new) == [
        # before: "changed topic learned (query, model)", as for new weights, and no word of the recipients
        "changed topic learned (set @science edited, 1 of its model's features no longer as trained, "
        "see 'newswatch check')",
        "changed set @science",
        "changed [digest] (recipients: b@example.org [cr] → [cr, learned], added c@example.org (all topics))",
    ]
    assert other_changes(new, old)[0] == (
        "changed topic learned (set @science edited, its model's features as trained again)"
    )
    assert other_changes(new, old)[-1] == (
        "changed [digest] (recipients: removed c@example.org, b@example.org [cr, learned] → [cr])"
    )
    # an address written with other capitals is the same recipient (the ledger keeps it lower-case): before,
    # "b@example.org [cr] → [cr]", a change that named none
    recased = config(tmp_path, base.replace('email = "b@example.org"', 'email = "B@example.org"'))
    assert other_changes(old, recased) == ["changed [digest] (recipients: B@example.org (was b@example.org))"]
    both = config(tmp_path, edited.replace('email = "b@example.org"', 'email = "B@example.org"'))
    assert other_changes(old, both)[-1] == (
        "changed [digest] (recipients: B@example.org (was b@example.org) [cr] → [cr, learned])"
    )
    model["bias"] = -2.0  # retrained: the same file, new weights
    (tmp_path / "m.json").write_text(json.dumps({**model, "features": [feature]}), encoding="utf-8")
    assert other_changes(old, config(tmp_path, base)) == ["changed topic learned (model: new weights)"]
