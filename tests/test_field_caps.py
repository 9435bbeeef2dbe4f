"""Every field that reaches a mail or a page is capped when it is stored: one oversized item must not
make every subscriber's mail megabytes long (or too big for the relay)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import write_config
from farm import start_digest
from httpserver import LocalHTTPServer

from digest.ingest.limits import (
    MAX_CVES,
    MAX_NAME_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    cut_at_word,
)

MB = 1_000_000


def test_cut_at_word() -> None:
    assert cut_at_word("short title", 300) == "short title"
    text = "Ransomware gang hits hospital " * 40  # 1,200 characters
    cut = cut_at_word(text, 300)
    assert len(cut) <= 300 and cut.endswith("…")
    assert text.startswith(cut[:-1]) and cut[-2] != " " and text[len(cut) - 1] == " "  # ends on a whole word
    assert cut_at_word("Ransomware gang hits a hospital", 20) == "Ransomware gang…"
    one_word = "A" * 5000
    assert cut_at_word(one_word, 300) == "A" * 299 + "…"  # no space to cut at: cut inside the word
    assert cut_at_word("x" * 300, 300) == "x" * 300


def _run(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = start_digest(cfg, *args)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.timeout(300)
def test_a_feed_with_a_1mb_title_makes_a_small_mail(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    huge_title = ("Critical flaw in gateway appliances exploited by ransomware gang " * 16000)[:MB]
    huge_name = "Security news and more " * 50_000
    one_sentence = "Attackers exploited the flaw " + "and moved laterally " * 4000 + "before the patch."
    cves = " ".join(f"CVE-2026-{10000 + i}" for i in range(500))
    long_url = http_server.url("/a/" + "x" * 5000)
    feed = (f"<?xml version='1.0'?><rss version='2.0'><channel><title>{huge_name}</title>"
            f"<link>{http_server.base_url}/</link>"
            f"<item><title>{huge_title}</title><link>{http_server.url('/a/1')}</link><guid isPermaLink='false'>t1</guid>"
            "<description>Attackers exploited a flaw in gateway appliances, the vendor said.</description></item>"
            f"<item><title>One endless sentence</title><link>{http_server.url('/a/2')}</link>"
            f"<guid isPermaLink='false'>t2</guid><description>{one_sentence}</description></item>"
            f"<item><title>Five hundred CVEs patched</title><link>{http_server.url('/a/3')}</link>"
            f"<guid isPermaLink='false'>t3</guid><description>The vendor fixed {cves}.</description></item>"
            f"<item><title>A link too long to keep</title><link>{long_url}</link><guid isPermaLink='false'>t4</guid>"
            "<description>The vendor fixed a flaw in its VPN appliance on Tuesday.</description></item>"
            "</channel></rss>")
    assert len(feed) > 2 * MB
    http_server.route("/feed.xml", body=feed, content_type="application/rss+xml")
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nurl = "{http_server.url("/feed.xml")}"\n', encoding="utf-8")
    cfg = write_config(tmp_path)
    poll = _run(cfg, "poll")
    with sqlite3.connect(tmp_path / "digest.db") as conn:
        rows = {g: (t, u, s, c) for g, t, u, s, c in conn.execute("SELECT guid, title, url, summary, cves FROM articles")}
        [name] = [n for (n,) in conn.execute("SELECT name FROM feeds")]
    assert set(rows) == {"t1", "t2", "t3", "t4"}  # nothing lost
    assert all(len(t) <= 400 for t, _u, _s, _c in rows.values())
    assert len(rows["t1"][0]) <= MAX_TITLE_CHARS and rows["t1"][0].startswith("Critical flaw in gateway")
    assert all(len(s) <= MAX_SUMMARY_CHARS for _t, _u, s, _c in rows.values())
    assert len(rows["t3"][3]) <= MAX_CVES * 20
    assert rows["t4"][1] == ""  # the absurd link is dropped, and said so
    assert f"link of {len(long_url)} characters dropped (at most {MAX_URL_CHARS})" in poll.stderr
    assert 0 < len(name) <= MAX_NAME_CHARS

    dry = _run(cfg, "send", "--dry-run", "--no-poll", "--out", str(tmp_path / "out"))
    assert "4 stories" in dry.stdout
    for f in ("digest.eml", "digest.html", "digest.txt"):
        size = (tmp_path / "out" / f).stat().st_size
        print(f, size)
        assert size < MB, f"{f}: {size} bytes"
