"""Kill `digest send` mid-send with SIGKILL, run it again: every subscriber gets the issue, and only
messages that were in flight (claimed, not yet marked sent) can arrive twice."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import free_port, write_config
from sqlalchemy import func, insert, select

from digest.issue.render import render_issue
from digest.mail.sample import NOW, sample_issue
from digest.store import Delivery, Issue, Store, Subscriber

BASE = "https://digest.example.org"
PY = sys.executable


@dataclass
class CountingSink:
    """aiosmtpd on loopback that counts deliveries per recipient and can slow each message down."""

    host: str
    port: int
    delay: float = 0.0
    per_rcpt: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.per_rcpt.values())


@pytest.fixture
def counting_sink() -> Iterator[CountingSink]:
    from aiosmtpd.controller import Controller

    sink = CountingSink("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if sink.delay:
                await asyncio.sleep(sink.delay)
            with sink.lock:
                sink.per_rcpt.update(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Handler(), hostname=sink.host, port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def seed(store: Store, n: int) -> int:
    """``n`` confirmed subscribers and one rendered issue in state 'sending'; the issue id."""
    rows = [{"email": f"reader{i:05d}@example.net", "status": "confirmed", "token_nonce": secrets.token_hex(4),
             "hard_bounces": 0, "preferences": {}} for i in range(n)]
    content = sample_issue()
    r = render_issue(content, base_url=BASE, now=NOW)
    with store.session() as s:
        s.execute(insert(Subscriber), rows)
        issue = Issue(issue_date="2026-11-28", period_start=content.period_start, period_end=content.period_end,
                      subject=r.subject, html=r.html, text=r.text, status="sending")
        s.add(issue)
        s.flush()
        return issue.id


def digest_cmd(cfg: Path, *args: str) -> list[str]:
    exe = Path(PY).with_name("digest")
    base = [str(exe)] if exe.exists() else [PY, "-c", "from digest.cli.main import main; main()"]
    return [*base, "--config", str(cfg), *args]


def sink_config(tmp: Path, db_url: str, sink: CountingSink, pool: int = 2) -> Path:
    return write_config(tmp, f'[smtp]\nhost = "{sink.host}"\nport = {sink.port}\npool_size = {pool}\n'
                             f'retry_deadline_seconds = 30.0\n[newsletter]\nbase_url = "{BASE}"\n', db_url=db_url)


def descendants(pid: int) -> set[int]:
    """Processes whose parent chain leads to ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_bytes()
                parents[int(entry)] = int(stat.rpartition(b")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    out: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - out
        out |= frontier
    return out


def gone(pids: set[int]) -> bool:
    for p in pids:
        try:
            stat = Path(f"/proc/{p}/stat").read_bytes()
            if stat.rpartition(b")")[2].split()[0] != b"Z":
                return False
        except OSError:
            continue
    return True


def ledger_counts(store: Store, issue_id: int) -> dict[str, int]:
    with store.session() as s:
        return dict(s.execute(select(Delivery.status, func.count()).where(Delivery.issue_id == issue_id)
                              .group_by(Delivery.status)).all())


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to find the sender processes")
def test_sigkill_mid_send_then_rerun_delivers_everyone_and_repeats_only_in_flight(
        tmp_path: Path, db_url: str, counting_sink: CountingSink) -> None:
    n = 1000
    cfg = sink_config(tmp_path, db_url, counting_sink)
    store = Store.open(db_url)
    issue_id = seed(store, n)
    counting_sink.delay = 0.004  # long enough that the kill lands mid-send

    proc = subprocess.Popen(digest_cmd(cfg, "send", "--no-poll"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    senders: set[int] = set()
    deadline = time.monotonic() + 60
    while counting_sink.total < 150 and proc.poll() is None and time.monotonic() < deadline:
        senders |= descendants(proc.pid)
        time.sleep(0.005)
    senders |= descendants(proc.pid)
    assert proc.poll() is None, f"send finished before it could be killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    # the sender processes die with their parent
    until = time.monotonic() + 20
    while not gone(senders) and time.monotonic() < until:
        time.sleep(0.05)
    assert gone(senders), "sender processes outlived the killed `digest send`"
    time.sleep(0.2)  # let the sink finish the transactions that were on the wire

    delivered_before = counting_sink.total
    in_flight = ledger_counts(store, issue_id).get("sending", 0)
    assert 0 < delivered_before < n
    counting_sink.delay = 0.0

    again = subprocess.run(digest_cmd(cfg, "send", "--no-poll"), check=False, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "resumed issue" in again.stdout

    per = counting_sink.per_rcpt
    everyone = {f"reader{i:05d}@example.net" for i in range(n)}
    assert set(per) == everyone, (f"lost: {sorted(everyone - set(per))[:5]}", again.stdout, again.stderr[-2000:],
                                  ledger_counts(store, issue_id), in_flight)
    duplicates = sum(per.values()) - n
    print(f"delivered before the kill {delivered_before}, in flight {in_flight}, duplicates {duplicates}")
    assert duplicates <= in_flight, (duplicates, in_flight)
    assert ledger_counts(store, issue_id) == {"sent": n}
    assert store.issue(issue_id).status == "sent"

    # once the issue is sent, a worker finds nothing left to do and sends nothing
    total = counting_sink.total
    third = subprocess.run(digest_cmd(cfg, "send", "--worker"), check=False, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert "nothing to do" in third.stdout and counting_sink.total == total
    store.close()


def seed_articles(store: Store, n: int = 40) -> None:
    """``n`` stored articles of the last hours, so composing the issue takes a while (the race window)."""
    from datetime import timedelta

    from digest.store import Article, utcnow

    now = utcnow()
    feed, _ = store.add_feed("https://news.example/feed", "News Wire")
    words = ("ransomware", "phishing", "botnet", "zero-day", "espionage", "wiper", "supply-chain", "loader")
    with store.session() as s:
        for i in range(n):
            w = words[i % len(words)]
            text = (f"Researchers described a {w} campaign number {i} against hospitals and city councils. "
                    f"The attackers used stolen credentials and a new {w} tool. Patches are available, "
                    f"and administrators were told to rotate passwords within a week.")
            s.add(Article(feed_id=feed.id, guid=f"g{i}", url=f"https://news.example/{i}",
                          title=f"A {w} campaign hits {i} hospitals", text=text, summary=text.split(". ")[0] + ".",
                          content_hash=f"h{i}", published_at=now - timedelta(hours=3),
                          fetched_at=now - timedelta(hours=2), topic="other", cves=[], exploited=False))


@pytest.mark.slow
def test_two_sends_started_together_make_one_issue_and_one_copy_each(
        tmp_path: Path, db_url: str, counting_sink: CountingSink) -> None:
    """A cron job and a manual run at the same moment: one composition at a time per database."""
    n = 200
    cfg = sink_config(tmp_path, db_url, counting_sink)
    store = Store.open(db_url)
    rows = [{"email": f"reader{i:05d}@example.net", "status": "confirmed", "token_nonce": secrets.token_hex(4),
             "hard_bounces": 0, "preferences": {}} for i in range(n)]
    with store.session() as s:
        s.execute(insert(Subscriber), rows)
    seed_articles(store)

    procs = [subprocess.Popen(digest_cmd(cfg, "send", "--no-poll"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    per = counting_sink.per_rcpt
    everyone = {f"reader{i:05d}@example.net" for i in range(n)}
    assert set(per) == everyone and set(per.values()) == {1}, (Counter(per.values()), outs)
    with store.session() as s:
        issues = list(s.scalars(select(Issue)))
    assert len(issues) == 1 and issues[0].status == "sent", [(i.id, i.status) for i in issues]
    store.close()


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to find the sender processes")
def test_sigkill_of_a_full_speed_send_repeats_at_most_20_messages(
        tmp_path: Path, db_url: str, counting_sink: CountingSink) -> None:
    """The relay as fast as it goes, the default pool (8 connections per sender process): `kill -9`
    mid-send at 1,000 readers, a rerun reaches everyone, and at most 20 got a second copy."""
    n = 1000
    cfg = write_config(tmp_path, f'[smtp]\nhost = "{counting_sink.host}"\nport = {counting_sink.port}\n'
                                 f'retry_deadline_seconds = 30.0\n[newsletter]\nbase_url = "{BASE}"\n', db_url=db_url)
    store = Store.open(db_url)
    issue_id = seed(store, n)

    proc = subprocess.Popen(digest_cmd(cfg, "send", "--no-poll"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    senders: set[int] = set()
    deadline = time.monotonic() + 60
    while counting_sink.total < n // 3 and proc.poll() is None and time.monotonic() < deadline:
        senders |= descendants(proc.pid)
        time.sleep(0.002)
    assert proc.poll() is None, f"send finished before it could be killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    until = time.monotonic() + 20
    while not gone(senders) and time.monotonic() < until:
        time.sleep(0.05)
    time.sleep(0.2)
    before = counting_sink.total
    assert before < n

    again = subprocess.run(digest_cmd(cfg, "send", "--no-poll"), check=False, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    per = counting_sink.per_rcpt
    assert set(per) == {f"reader{i:05d}@example.net" for i in range(n)}
    duplicates = sum(per.values()) - n
    print(f"delivered before the kill {before}, duplicates {duplicates}")
    assert duplicates <= 20, duplicates
    assert ledger_counts(store, issue_id) == {"sent": n}
    store.close()
