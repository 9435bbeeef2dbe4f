#!/usr/bin/env python3
"""Delivery under relay faults (prints figures; not a test; issue 12).

N readers (default 200) and one stored issue, a real aiosmtpd relay on loopback (the tests' relay,
tests/relays.py) that misbehaves as told, and the real `digest send --no-poll` as a subprocess
with ``retry_deadline_seconds`` = 5 and the default ``timeout_seconds`` (30). Per fault:

1. the faulty send(s): wall seconds, exit status, messages the relay accepted, ledger rows still
   waiting, hard-bounce strikes and suppressed readers;
2. the relay healed, one more `digest send`: wall seconds, and whether every reader then has the
   issue exactly once (the same issue: no new one is composed).

A healthy send of the same N in the same run is the baseline. Faults: 451 to every RCPT, 451 at
MAIL FROM, a relay that stalls after its greeting from the start and after 20 messages, and three
sends refused as too big (552 5.3.4 at the end of DATA). On SQLite, and on PostgreSQL with
``--pg-url`` (or DIGEST_TEST_POSTGRES_URL); each case in a fresh database or schema.

    python bench/send_faults.py [--n 200] [--deadline 5] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the relay the tests use
sys.path.insert(0, str(ROOT / "bench"))

from relays import Relay, start_relay
from send import DIGEST, db_for, free_port, ledger_counts, prepare_db, write_config


@dataclass
class Fault:
    name: str
    apply: Callable[[Relay], None]
    sends: int = 1  # faulty sends before the relay heals


def _451_rcpt(r: Relay) -> None:
    r.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable, try again later"


def _451_mail(r: Relay) -> None:
    r.mail_reply = "451 4.3.2 System not accepting network messages"


def _stall(after: int) -> Callable[[Relay], None]:
    def apply(r: Relay) -> None:
        r.stall_after = after
    return apply


def _552(r: Relay) -> None:
    r.data_reply = "552 5.3.4 Message size exceeds fixed limit"


FAULTS = [
    Fault("healthy relay (baseline)", lambda r: None, sends=0),
    Fault("451 to every RCPT", _451_rcpt),
    Fault("451 at MAIL FROM", _451_mail),
    Fault("stalls from the start", _stall(0)),
    Fault("stalls after 20 messages", _stall(20)),
    Fault("552 too big, 3 sends", _552, sends=3),
]


def run_send(cfg: Path) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run([DIGEST, "--config", str(cfg), "send", "--no-poll"], check=False, capture_output=True,
                       text=True, timeout=600, cwd=ROOT)
    lines = (p.stdout + p.stderr).strip().splitlines()
    return time.perf_counter() - t0, p.returncode, lines[-1] if lines else ""


def strikes(cfg: Path) -> tuple[int, int]:
    """(hard bounces counted, readers suppressed)."""
    from digest.config import load_config
    from digest.store import Store

    store = Store.open(load_config(cfg, env={}))
    try:
        subs = store.subscribers()
        return sum(s.hard_bounces or 0 for s in subs), sum(s.status == "suppressed" for s in subs)
    finally:
        store.close()


def measure(fault: Fault, tmp: Path, db_base: str, n: int, deadline: float) -> dict[str, object]:
    d = tmp / fault.name.replace(" ", "_").replace("(", "").replace(")", "").replace(",", "")
    d.mkdir()
    relay = Relay("127.0.0.1", free_port())
    fault.apply(relay)
    controller = start_relay(relay)
    try:
        cfg = write_config(d, db_for(db_base, d, "faults"), relay.port, 8, deadline=deadline)
        issue_id = prepare_db(cfg, n)
        out: dict[str, object] = {"name": fault.name}
        walls, codes, last = [], [], ""
        for _ in range(fault.sends):
            wall, rc, last = run_send(cfg)
            walls.append(wall)
            codes.append(rc)
        if fault.sends:
            counts = ledger_counts(cfg, issue_id)
            out.update(fault_s=max(walls), rcs=",".join(map(str, sorted(set(codes)))), accepted=relay.accepted,
                       waiting=counts.get("pending", 0) + counts.get("sending", 0), last=last)
            out["struck"], out["suppressed"] = strikes(cfg)
        relay.heal()
        # the healthy run: a deadline it cannot reach, as an operator would rerun it
        cfg = write_config(d, _same_db(cfg), relay.port, 8, deadline=600)
        wall, rc, line = run_send(cfg)
        counts = ledger_counts(cfg, issue_id)
        per = relay.per_rcpt
        everyone = {f"reader{i:06d}@example.net" for i in range(n)}
        out.update(heal_s=wall, heal_rc=rc, reached=len(set(per) & everyone),
                   once=set(per) == everyone and set(per.values()) == {1}, sent_rows=counts.get("sent", 0),
                   heal_line=line)
        if not fault.sends:
            out["struck"], out["suppressed"] = strikes(cfg)
        return out
    finally:
        relay.heal()
        controller.stop()


def _same_db(cfg: Path) -> str:
    import tomllib

    return str(tomllib.loads(cfg.read_text(encoding="utf-8"))["database"]["url"])


def report(label: str, rows: list[dict[str, object]], n: int, deadline: float) -> None:
    print(f"\n{label}: {n} readers, retry_deadline_seconds = {deadline:g}, timeout_seconds = 30")
    head = (f"{'fault':28}{'faulty s':>9}{'exit':>6}{'accepted':>9}{'waiting':>8}{'struck':>7}{'suppr.':>7}"
            f"{'healed s':>9}{'reached':>8}{'once':>6}")
    print(head)
    for r in rows:
        faulty = (f"{r['fault_s']:>9.1f}{r['rcs']:>6}{r['accepted']:>9}{r['waiting']:>8}" if "fault_s" in r
                  else f"{'-':>9}{'-':>6}{'-':>9}{'-':>8}")
        print(f"{r['name']:28}{faulty}{r['struck']:>7}{r['suppressed']:>7}{r['heal_s']:>9.1f}{r['reached']:>8}"
              f"{'yes' if r['once'] else 'NO':>6}")
    for r in rows:
        if r.get("last"):
            print(f"  {r['name']}: {str(r['last'])[:220]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="readers (default 200)")
    ap.add_argument("--deadline", type=float, default=5.0, help="smtp.retry_deadline_seconds (default 5)")
    ap.add_argument("--pg-url", default=os.environ.get("DIGEST_TEST_POSTGRES_URL", ""),
                    help="PostgreSQL URL (default: $DIGEST_TEST_POSTGRES_URL; none: SQLite only)")
    ap.add_argument("--only", default="", help="run only the faults whose name contains this")
    args = ap.parse_args()
    dbs = [("SQLite", "")] + ([("PostgreSQL", args.pg_url)] if args.pg_url else [])
    print(f"digest send into an aiosmtpd relay on loopback; CPUs: {os.cpu_count()}")
    for label, base in dbs:
        with tempfile.TemporaryDirectory(prefix="digest-bench-faults-") as td:
            rows = [measure(f, Path(td), base, args.n, args.deadline) for f in FAULTS if args.only in f.name]
        report(label, rows, args.n, args.deadline)


if __name__ == "__main__":
    main()
