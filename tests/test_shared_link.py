"""A feed that gives one link to several entries says nothing about the stories: five entries with
their own guids and content are five articles and five stories. A link that another feed already
stored still means the same article (cross-feed dedup)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result
from conftest import write_config
from httpserver import LocalHTTPServer

from digest.cli.main import cli

EVENTS = [
    ("Akira ransomware gang hits a logistics firm in Ohio",
     "The Akira ransomware gang claimed an attack on a logistics firm in Ohio and leaked 40 GB of data."),
    ("Chrome zero-day CVE-2026-4411 patched after attacks",
     "Google fixed a Chrome zero-day in the V8 engine that attackers exploited against journalists."),
    ("Water utility in Texas hit by a wiper",
     "A municipal water utility in Texas restored its billing systems after a wiper erased its servers."),
    ("Phishing kit steals Microsoft 365 sessions",
     "Researchers found a phishing kit that relays logins to steal Microsoft 365 session cookies."),
    ("Police take down a bulletproof hosting provider",
     "European police seized servers of a bulletproof hosting provider used by several botnets."),
]
LEDE = ("Our weekly security briefing gathers the incidents, patches and investigations that defenders "
        "asked about most. Ransomware crews kept pressing manufacturers and hospitals, browser makers shipped "
        "emergency fixes, and regulators in Europe opened inquiries into how quickly breached companies told "
        "their customers. Analysts traced several intrusions to stolen remote-access credentials sold on "
        "criminal forums, while incident responders warned that attackers increasingly wipe backups before "
        "encrypting anything. Cloud providers tightened default logging, and two large telecoms admitted that "
        "spies had read call records for months. We also look at a police operation against a botnet, a "
        "phishing campaign that abused calendar invitations, and the growing market for initial access. ")
PAGE = ("<html><body><main><article><h1>This week in security</h1>"
        + "".join(f"<p>{LEDE}</p>" for _ in range(2)) + "</article></main></body></html>")


def rss(title: str, items: list[tuple[str, str, str, str]]) -> str:
    body = "".join(f"<item><title>{t}</title><link>{link}</link><guid isPermaLink='false'>{g}</guid>"
                   f"<description>{d}</description></item>" for g, t, d, link in items)
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title>"
            f"<link>http://127.0.0.1/</link>{body}</channel></rss>")


def run(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)


def articles(tmp: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(tmp / "digest.db") as conn:
        return conn.execute("SELECT guid, url, text, extract_note FROM articles ORDER BY guid").fetchall()


def stories(cfg: Path, tmp: Path) -> int:
    dry = run(cfg, "send", "--dry-run", "--no-poll", "--out", str(tmp / "out"))
    assert dry.exit_code == 0, dry.output
    m = re.search(r"dry run: (\d+) stories", dry.output)
    assert m, dry.output
    return int(m.group(1))


def test_five_entries_of_one_feed_sharing_a_link_are_five_stories(tmp_path: Path,
                                                                  http_server: LocalHTTPServer) -> None:
    shared = http_server.url("/news")
    http_server.route("/news", body=PAGE, content_type="text/html; charset=utf-8")
    items = [(f"e{i}", t, d, shared) for i, (t, d) in enumerate(EVENTS)]
    http_server.route("/feed.xml", body=rss("One link", items), content_type="application/rss+xml")
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "One link"\nurl = "{http_server.url("/feed.xml")}"\n')
    cfg = write_config(tmp_path)
    assert run(cfg, "poll").exit_code == 0
    rows = articles(tmp_path)
    assert [g for g, *_ in rows] == ["e0", "e1", "e2", "e3", "e4"]
    # the shared page is nobody's own page: each keeps its feed text, and the page is not fetched five times
    assert [text for _g, _u, text, _n in rows] == [d for _t, d in EVENTS]
    assert all("several entries" in note for *_r, note in rows)
    assert http_server.hits("/news") == 0
    assert stories(cfg, tmp_path) == 5


def test_a_link_the_feed_used_before_for_another_entry_is_a_new_article(tmp_path: Path,
                                                                        http_server: LocalHTTPServer) -> None:
    shared = http_server.url("/latest")
    http_server.route("/latest", body=PAGE, content_type="text/html; charset=utf-8")
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "Latest"\nurl = "{http_server.url("/feed.xml")}"\n')
    cfg = write_config(tmp_path)
    for i, (t, d) in enumerate(EVENTS[:3]):  # the feed only ever shows its latest entry, always at one link
        http_server.route("/feed.xml", body=rss("Latest", [(f"l{i}", t, d, shared)]),
                          content_type="application/rss+xml")
        assert run(cfg, "poll").exit_code == 0
    rows = articles(tmp_path)
    assert [g for g, *_ in rows] == ["l0", "l1", "l2"]
    assert [text for _g, _u, text, _n in rows][1:] == [d for _t, d in EVENTS[1:3]]


def test_a_link_another_feed_stored_is_the_same_article(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    page = http_server.url("/story")
    http_server.route("/story", body=PAGE, content_type="text/html; charset=utf-8")
    t, d = EVENTS[0]
    http_server.route("/a.xml", body=rss("Outlet A", [("a1", t, d, page)]), content_type="application/rss+xml")
    http_server.route("/b.xml", body=rss("Outlet B", [("b1", t + " (updated)", d + " More.", page)]),
                      content_type="application/rss+xml")
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "A"\nurl = "{http_server.url("/a.xml")}"\n')
    cfg = write_config(tmp_path)
    assert run(cfg, "poll").exit_code == 0
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "A"\nurl = "{http_server.url("/a.xml")}"\n\n'
                                         f'[[feed]]\nname = "B"\nurl = "{http_server.url("/b.xml")}"\n')
    assert run(cfg, "poll").exit_code == 0
    assert [g for g, *_ in articles(tmp_path)] == ["a1"]


def test_entries_without_a_link_are_not_taken_for_each_other(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    (t1, d1), (t2, d2) = EVENTS[:2]
    http_server.route("/a.xml", body=rss("A", [("n1", t1, d1, "")]), content_type="application/rss+xml")
    http_server.route("/b.xml", body=rss("B", [("n2", t2, d2, "")]), content_type="application/rss+xml")
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "A"\nurl = "{http_server.url("/a.xml")}"\n')
    cfg = write_config(tmp_path)
    assert run(cfg, "poll").exit_code == 0
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "A"\nurl = "{http_server.url("/a.xml")}"\n\n'
                                         f'[[feed]]\nname = "B"\nurl = "{http_server.url("/b.xml")}"\n')
    assert run(cfg, "poll").exit_code == 0
    assert [g for g, *_ in articles(tmp_path)] == ["n1", "n2"]
