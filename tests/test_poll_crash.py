"""`digest poll` killed with SIGKILL at any point and run again stores every article exactly once.

A real farm of feeds x pages on loopback (feeds answer 304 to their ETag), a real `digest poll`
process killed from the server's side after N pages (or N feeds) were served, then rerun to
completion: the farm did not change, so only a poll whose feed state never ran ahead of its
stored articles can find what the killed run did not store.
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import write_config
from farm import Farm, kill, start_digest
from httpserver import LocalHTTPServer
from sqlalchemy import select

from digest.store import Article, Store

FEEDS, PAGES = 12, 20  # 240 articles: more than one store batch (200), so a kill can fall between two


def _articles(url: str) -> list[tuple[int, str]]:
    """(feed id, guid) of every stored article; on SQLite the file must pass its integrity check."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store.open(url)
    try:
        with store.session() as s:
            return [(f, g) for f, g in s.execute(select(Article.feed_id, Article.guid))]
    finally:
        store.close()


def _run(cfg: Path) -> subprocess.CompletedProcess[str]:
    proc = start_digest(cfg, "poll")
    out, err = proc.communicate(timeout=240)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("stage", "after"), [("feeds", 5), ("pages", 24), ("pages", 120), ("pages", 236)],
                         ids=["feed-phase", "a-tenth", "half", "after-the-first-batch"])
def test_poll_killed_then_rerun_stores_every_article_exactly_once(tmp_path: Path, http_server: LocalHTTPServer,
                                                                  stage: str, after: int) -> None:
    killed_then_rerun(tmp_path, http_server, stage, after, f"sqlite:///{tmp_path / 'digest.db'}")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(600)
def test_poll_killed_then_rerun_on_postgresql(tmp_path: Path, http_server: LocalHTTPServer, pg_url: str) -> None:
    killed_then_rerun(tmp_path, http_server, "pages", 236, pg_url)


def killed_then_rerun(tmp_path: Path, http_server: LocalHTTPServer, stage: str, after: int, db_url: str) -> None:
    farm = Farm(http_server, FEEDS, PAGES)
    (tmp_path / "feeds.toml").write_text(farm.feeds_toml(), encoding="utf-8")
    cfg = write_config(tmp_path, "[feeds]\nper_host_concurrency = 4\n", db_url=db_url)
    proc: list[subprocess.Popen[str]] = []

    def maybe_kill(n: int) -> None:
        if n == after and proc:
            kill(proc[0])

    if stage == "pages":
        farm.on_page = maybe_kill
    else:
        farm.on_feed = maybe_kill
    proc.append(start_digest(cfg, "poll"))
    proc[0].communicate(timeout=240)
    assert proc[0].returncode == -9, "the poll ended before the kill point"
    killed_stored = len(_articles(db_url))
    assert killed_stored < FEEDS * PAGES
    if after == 236:  # at most 32 pages are in flight: the first batch of 200 was stored before the kill
        assert killed_stored >= 200

    farm.on_page = farm.on_feed = None
    pages_before = farm.page_hits
    done = _run(cfg)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _articles(db_url)
    guids = [g for _f, g in rows]
    assert len(rows) == len(set(rows)) == FEEDS * PAGES, (killed_stored, len(rows))
    assert set(guids) == farm.guids()
    # the rerun fetched the pages of the articles that were missing, not all of them again
    assert farm.page_hits - pages_before <= FEEDS * PAGES - killed_stored

    again = _run(cfg)  # a third poll of the unchanged farm: every feed's state was written, all answer 304
    assert again.returncode == 0 and f"{FEEDS} not modified" in again.stdout and "0 new articles" in again.stdout
    assert len(_articles(db_url)) == FEEDS * PAGES
