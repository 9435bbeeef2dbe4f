"""Issue 17 item 3: worker and CLI logs an operator can read months later.

Each line has the time, the level and the feed or issue it is about, in plain text as in JSON;
the worker shows INFO lines by default ("worker started" is INFO, not WARNING); a due-only poll
that leaves feeds alone says how many and why (not due yet, or failing and in backoff) and until when.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import free_port, write_config
from httpserver import LocalHTTPServer
from test_worker_process import start_worker, wait_for

from digest.cli.main import cli
from digest.ingest.poll import MAX_BACKOFF, due_feeds, next_due
from digest.store import Feed, Store, utcnow

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Fine</title><link>http://x/</link>
<item><title>Akira ransomware gang hits a logistics firm</title><link>http://127.0.0.1:9/a</link><guid>f-1</guid>
<description>The Akira ransomware gang claimed an attack on a logistics firm in Ohio on Monday.</description></item>
</channel></rss>"""

PLAIN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


def _run_worker_until_polled(tmp_path: Path, http_server: LocalHTTPServer, plain: bool = False) -> tuple[str, str]:
    http_server.route("/fine.xml", body=RSS, headers={"Content-Type": "application/rss+xml"})
    dead = f"http://127.0.0.1:{free_port()}/gone.xml"  # nothing listens there: connection refused
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "fine"\nurl = "{http_server.url("/fine.xml")}"\n'
                                         f'[[feed]]\nname = "dead"\nurl = "{dead}"\n')
    cfg = write_config(tmp_path, "[feeds]\nfetch_pages = false\n")
    return worker_until(cfg, lambda: Store.open(f"sqlite:///{tmp_path / 'digest.db'}").counts()["articles"] >= 1,
                        plain=plain), dead


def worker_until(cfg: Path, done: Callable[[], bool], *, plain: bool = False, timeout: float = 60.0) -> str:
    """Run `digest worker` until ``done()``, stop it with SIGTERM; its stderr (it must exit 0)."""
    proc = _start_plain(cfg) if plain else start_worker(cfg)
    try:
        assert wait_for(done, timeout=timeout), "the worker never got there"
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    return err


def _start_plain(cfg: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") or k.startswith("DIGEST_TEST_")}
    return subprocess.Popen([sys.executable, "-m", "digest.cli.main", "--config", str(cfg), "worker"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.timeout(120)
def test_plain_worker_log_has_time_level_and_the_failed_feed(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    err, dead = _run_worker_until_polled(tmp_path, http_server, plain=True)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines and all(PLAIN.match(ln) for ln in lines), err  # every line: time, level, logger
    started = [ln for ln in lines if "worker started" in ln]
    assert started and " INFO digest.ops.worker: " in started[0], err  # INFO, shown without -v
    failed = [ln for ln in lines if "feed failed" in ln]
    assert failed and " WARNING " in failed[0] and dead in failed[0], err  # names the feed
    polled = [ln for ln in lines if "poll: polled 2 feeds" in ln]
    assert polled and " INFO " in polled[0], err
    assert not any(" WARNING " in ln for ln in lines if "feed failed" not in ln), err


@pytest.mark.timeout(120)
def test_json_worker_log_carries_the_same_facts(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    err, dead = _run_worker_until_polled(tmp_path, http_server)
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert events and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["ts"]) for e in events), err
    by_kind = {e.get("event_kind"): e for e in events}
    assert by_kind["feed_error"]["level"] == "warning" and by_kind["feed_error"]["feed"] == dead
    assert dead in by_kind["feed_error"]["event"]
    assert by_kind["poll"]["level"] == "info" and by_kind["poll"]["polled"] == 2
    assert any(e["level"] == "info" and "worker started" in e["event"] for e in events)


def _feed(url: str, failures: int, polled_ago: timedelta) -> Feed:
    return Feed(url=url, name=url, kind="news", consecutive_failures=failures, error_count=failures,
                active=True, last_polled_at=utcnow() - polled_ago)


def test_failing_feeds_back_off_and_the_skip_is_counted() -> None:
    interval = timedelta(minutes=30)
    now = utcnow()
    ok_due = _feed("https://a/", 0, timedelta(minutes=31))
    ok_recent = _feed("https://b/", 0, timedelta(minutes=5))
    failing = _feed("https://c/", 3, timedelta(minutes=45))  # 3 failures: waits 4 x 30 min
    hopeless = _feed("https://d/", 40, timedelta(hours=13))  # the backoff has a ceiling
    due, skipped = due_feeds([ok_due, ok_recent, failing, hopeless], now, interval)
    assert [f.url for f in due] == ["https://a/", "https://d/"]
    assert (skipped.not_due, skipped.backoff) == (1, 1)
    assert next_due(failing, interval) == (failing.last_polled_at + 4 * interval, True)
    assert next_due(hopeless, interval)[0] == hopeless.last_polled_at + MAX_BACKOFF
    until = (failing.last_polled_at + 4 * interval).strftime("%H:%M")
    assert f"1 in backoff until {until}" in skipped.summary()
    assert "1 not due until" in skipped.summary()


def test_poll_due_says_why_it_polled_nothing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "[feeds]\nfetch_pages = false\n")
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    with store.session() as s:
        for i in range(12):
            s.add(_feed(f"http://127.0.0.1:9/{i}.xml", 4, timedelta(hours=1)))
    result = CliRunner().invoke(cli, ["--config", str(cfg), "poll", "--due"])
    assert result.exit_code == 0, result.output
    assert re.search(r"polled 0 feeds, 12 in backoff until \d\d:\d\d", result.output), result.output
