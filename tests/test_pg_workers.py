"""Several `digest send --worker` processes share one issue on PostgreSQL (FOR UPDATE SKIP LOCKED):
every subscriber gets the message exactly once."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import pytest
import test_kill_restart
from test_kill_restart import CountingSink, digest_cmd, ledger_counts, seed, sink_config

from digest.mail.ledger import DeliveryLedger
from digest.store import Store

pytestmark = pytest.mark.postgres
counting_sink = test_kill_restart.counting_sink  # the fixture


@pytest.mark.slow
def test_two_workers_share_an_issue_and_send_each_message_once(tmp_path: Path, pg_url: str,
                                                               counting_sink: CountingSink) -> None:
    n = 1200
    store = Store.open(pg_url)
    try:
        run_two_workers(tmp_path, pg_url, store, counting_sink, n)
    finally:
        store.close()


def run_two_workers(tmp_path: Path, pg_url: str, store: Store, counting_sink: CountingSink, n: int) -> None:
    issue_id = seed(store, n)
    assert DeliveryLedger(store, issue_id).enqueue() == n  # `digest send` does this; workers only help
    cfg = sink_config(tmp_path, pg_url, counting_sink, pool=4)
    counting_sink.delay = 0.003  # long enough for both workers to be busy at once

    outputs: list[subprocess.CompletedProcess[str]] = []

    def run() -> None:
        outputs.append(subprocess.run(digest_cmd(cfg, "send", "--worker"), check=False, capture_output=True, text=True,
                                      timeout=240))

    workers = [threading.Thread(target=run) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert [o.returncode for o in outputs] == [0, 0], [o.stderr[-2000:] for o in outputs]
    per = counting_sink.per_rcpt
    assert len(per) == n and set(per.values()) == {1}, f"duplicates: {[r for r, c in per.items() if c > 1][:5]}"
    assert ledger_counts(store, issue_id) == {"sent": n}
    sent = [int(m.group(1)) for o in outputs for m in [re.search(r"sent (\d+)", o.stdout)] if m]
    assert sum(sent) == n and all(s > 0 for s in sent), [(o.stdout, o.stderr[-3000:]) for o in outputs]
    assert store.issue(issue_id).status == "sent"


def test_concurrent_claims_never_overlap(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        claim_concurrently(store)
    finally:
        store.close()


def claim_concurrently(store: Store) -> None:
    issue_id = seed(store, 600)
    DeliveryLedger(store, issue_id).enqueue()
    got: list[list[int]] = [[], [], []]

    def claimer(i: int) -> None:
        ledger = DeliveryLedger(store, issue_id)
        ledger.me = f"{ledger.me}-{i}"
        while batch := ledger.claim(37):
            got[i].extend(c.delivery_id for c in batch)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [d for g in got for d in g]
    assert len(ids) == 600 and len(set(ids)) == 600
