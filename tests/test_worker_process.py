"""`digest worker` as a real process: JSON logs, clean SIGTERM while a poll is in flight, one worker per DB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config
from httpserver import LocalHTTPServer

from digest.store import Store

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title><link>http://x/</link>
<item><title>Akira ransomware gang hits a logistics firm</title><link>http://127.0.0.1:9/a</link><guid>s-1</guid>
<description>The Akira ransomware gang claimed an attack on a logistics firm in Ohio on Monday.</description></item>
</channel></rss>"""


def start_worker(cfg: Path, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_") or k.startswith("DIGEST_TEST_")}
    return subprocess.Popen([sys.executable, "-m", "digest.cli.main", "--config", str(cfg), "--log-json", *extra, "worker"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.timeout(120)
def test_sigterm_lets_the_running_poll_finish_then_stops(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/slow.xml", body=RSS, delay=3.0, headers={"Content-Type": "application/rss+xml"})
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "slow"\nurl = "{http_server.url("/slow.xml")}"\n')
    cfg = write_config(tmp_path, "[feeds]\nfetch_pages = false\n")
    proc = start_worker(cfg)
    try:
        assert wait_for(lambda: http_server.hits("/slow.xml") >= 1), "the worker never polled"
        proc.send_signal(signal.SIGTERM)  # the feed answers 3 s later: the poll is in flight
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert events, err
    assert all({"ts", "level", "event"} <= set(e) for e in events)
    text = " ".join(e["event"] for e in events)
    assert "finishing the running job" in text
    assert any(e.get("event_kind") == "poll" and e.get("new") == 1 for e in events), text
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    assert store.counts()["articles"] == 1  # the in-flight poll completed and was stored


@pytest.mark.timeout(120)
def test_a_second_sigterm_stops_the_worker_at_once_and_cleanly(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/slow.xml", body=RSS, delay=20.0, headers={"Content-Type": "application/rss+xml"})
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "slow"\nurl = "{http_server.url("/slow.xml")}"\n')
    cfg = write_config(tmp_path, "[feeds]\nfetch_pages = false\n")
    proc = start_worker(cfg)
    try:
        assert wait_for(lambda: http_server.hits("/slow.xml") >= 1), "the worker never polled"
        proc.send_signal(signal.SIGTERM)  # first: finish the poll (the feed answers in 20 s)
        time.sleep(1.0)
        assert proc.poll() is None  # still finishing the job in flight
        proc.send_signal(signal.SIGTERM)  # second: `timeout` or an impatient operator
        _out, err = proc.communicate(timeout=15)  # well before the feed would have answered
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SchedulerNotRunning" not in err and "Traceback" not in err, err
    assert "stopping now" in err
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    assert store.counts()["articles"] == 0  # the abandoned poll stored nothing half-way; the database opens


@pytest.mark.timeout(120)
def test_a_second_worker_refuses_to_start(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    first = start_worker(cfg)
    try:
        lock = Path(f"{tmp_path / 'digest.db'}.worker.lock")
        assert wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid))
        second = subprocess.run([sys.executable, "-m", "digest.cli.main", "--config", str(cfg), "worker"],
                                check=False, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert "another digest worker is running" in second.stderr
        assert second.stderr.count("\n") <= 2
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 0


@pytest.mark.timeout(120)
def test_a_restarted_worker_finishes_an_interrupted_send_at_once(tmp_path: Path, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from digest.mail.ledger import DeliveryLedger
    from digest.store import Issue, utcnow

    cfg = write_config(tmp_path, f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n'
                                 '[schedule]\nsend_time = "03:00"\n')
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    for i in range(3):
        store.add_subscriber(f"r{i}@example.org", confirmed=True)
    now = utcnow()
    with store.session() as s:  # what a crash mid-send leaves: an issue 'sending', one row sent, two not
        issue = Issue(issue_date=now.strftime("%Y-%m-%d"), period_start=now, period_end=now, subject="Digest",
                      html="<p>News %%UNSUBSCRIBE_URL%%</p>", text="News %%UNSUBSCRIBE_URL%%\n", status="sending")
        s.add(issue)
        s.flush()
        issue_id = issue.id
    ledger = DeliveryLedger(store, issue_id)
    ledger.enqueue()
    first = ledger.claim(1)
    ledger.record(sent=[first[0].delivery_id])
    proc = start_worker(cfg)
    try:
        assert wait_for(lambda: len(smtp_server.messages) >= 2), "the unfinished send was not resumed"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(r for _f, to, _d in smtp_server.messages for r in to) == ["r1@example.org", "r2@example.org"]
    assert store.issue(issue_id).status == "sent"
