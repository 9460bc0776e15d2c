"""Hostile or broken feeds against the local test server, a real SQLite file and a real SMTP server: a first poll's
entries left for later polls, links that change at each poll, pages that all redirect to one login URL, and one
text under two headlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crawler.config import load_config
from crawler.store import Store
from scheduler.digest import send_alerts
from tests.support.articles import RSS, rss_channel
from tests.support.sitesrv import SiteServer
from tests.test_faults import article_html, feed_source, newswatch, write_config

ENV = {"NEWSWATCH_WORKERS": "0"}


def mailing(smtp: Any) -> str:
    """The config lines, inside the topic, that alert at once on any match and mail ``smtp``."""
    return f"""alert_score = 1.0

[digest]
schedule = "0 7 * * *"
timezone = "UTC"
max_age = "3650d"

[[digest.recipients]]
email = "analyst@example.org"

[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
sender = "newswatch <alerts@example.org>"
"""


def page_of(path: str) -> tuple[int, dict[str, str], bytes]:
    """The article page whose number the path names (/x/a/7.html: 7)."""
    return 200, {"Content-Type": "text/html; charset=utf-8"}, article_html(int(path.rsplit("/", 1)[-1].split(".")[0]))


def test_a_first_polls_entries_left_for_later_polls_are_backlog_and_do_not_alert(
    site: SiteServer, tmp_path: Path, smtp: Any
) -> None:
    # A poll fetches at most 1,000 new pages ($NEWSWATCH_MAX_NEW_PAGES here). The entries a source's first poll
    # left were in its feed then, backlog as the ten fetched: fetched by the next polls without the flag, they
    # alerted as new stories, 15 old ones mailed at once
    days = {i: 1 + (i * 7) % 25 for i in range(25)}  # entry i published on 1-25 Dec 2025, in no order

    def handler(path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/left/feed.xml"):
            items = "".join(
                f"<item><title>Joint project {i} of China and Russia</title><link>{site.base_url}/left/a/{i}.html"
                f"</link><guid>{i}</guid><pubDate>{day:02d} Dec 2025 10:00:00 GMT</pubDate></item>"
                for i, day in sorted(days.items())
            )
            return 200, RSS, rss_channel(f"{site.base_url}/left/", items)
        return page_of(path)

    site.add_generated("/left/", handler)
    cfg = write_config(tmp_path, feed_source("left", f"{site.base_url}/left/feed.xml"), digest=mailing(smtp))
    env = {**ENV, "NEWSWATCH_MAX_NEW_PAGES": "10"}
    assert newswatch(cfg, "crawl", env=env).returncode == 0
    days[25] = 28  # a story published after the first poll: new, the newest, fetched by the next poll
    for _poll in range(2):
        assert newswatch(cfg, "crawl", env=env).returncode == 0
    with Store(tmp_path / "nw.db") as st:
        rows = st.query("SELECT title, backlog FROM articles")
        assert len(rows) == 26
        assert [r["title"] for r in rows if not r["backlog"]] == [
            "Joint project 25 of China and Russia"
        ]  # before: the 15 left by the first poll too
        assert st.scalar("SELECT count(*) FROM _backlog_entries") == 0  # each row gone with its entry's fetch
        [result] = send_alerts(load_config(cfg), st)
    assert result.status == "sent" and result.stories == 1
    [message] = smtp.messages
    assert "Joint project 25 of China and Russia" in message.message.as_string()
