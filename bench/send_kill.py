#!/usr/bin/env python3
"""kill -9 mid-send, and what the ledger's write size costs in speed (prints figures; not a test; issue 12).

1. Duplicates: N readers (default 1,000), the real `digest send --no-poll` into a real aiosmtpd
   relay on loopback (the tests' counting relay, tests/relays.py); once the relay has accepted a
   quarter, a half and three quarters of the list (3 trials), the whole process group gets SIGKILL
   (the command and its sender processes at once); then `digest send` again. Counted: readers
   reached (must be all), copies beyond one (the duplicates), rows sent in the ledger.
2. Speed: the same command into Postfix's ``smtp-sink`` where installed (``apt-get install -y
   postfix`` brings /usr/sbin/smtp-sink), else a fast aiosmtpd sink in its own process (the line
   "sink:" says which), at ``--speed-n`` readers (default 5,000): wall seconds, messages per second.

Both for three variants, in the same run:

* ``digest send`` as shipped (sender processes as it decides: one per CPU from 500 readers each);
* one sender process (``smtp.processes = 1``), ledger writes of at most 8 accepted messages or
  5 ms (``FLUSH_ROWS``/``FLUSH_SECONDS`` now);
* one sender process with the writes of before (200 messages or 0.25 s): the baseline.

On SQLite, and on PostgreSQL with ``--pg-url`` (or DIGEST_TEST_POSTGRES_URL).

    python bench/send_kill.py [--n 1000] [--trials 3] [--speed-n 5000] [--pg-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the relay the tests use
sys.path.insert(0, str(ROOT / "bench"))

from relays import Relay, start_relay
from send import DIGEST, PY, db_for, free_port, ledger_counts, prepare_db, start_sink, stop_sink, write_config

#: (label, (FLUSH_ROWS, FLUSH_SECONDS) or None for the code as it is, smtp.processes)
VARIANTS: list[tuple[str, tuple[int, float] | None, int]] = [
    ("digest send as shipped", None, 0),
    ("1 process, writes of 8 / 5 ms (now)", (8, 0.005), 1),
    ("1 process, writes of 200 / 0.25 s (before)", (200, 0.25), 1),
]


def command(cfg: Path, flush: tuple[int, float] | None) -> list[str]:
    args = ["--config", str(cfg), "send", "--no-poll"]
    if flush is None:
        return [DIGEST, *args]
    rows, seconds = flush
    code = (f"import sys, digest.mail.deliver as d; d.FLUSH_ROWS = {rows}; d.FLUSH_SECONDS = {seconds}; "
            f"sys.argv = ['digest', *{args!r}]; from digest.cli.main import main; main()")
    return [PY, "-c", code]


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def kill_trial(tmp: Path, db_base: str, n: int, frac: float, flush: tuple[int, float] | None,
               processes: int) -> dict[str, float]:
    relay = Relay("127.0.0.1", free_port())
    controller = start_relay(relay)
    try:
        cfg = write_config(tmp, db_for(db_base, tmp, "kill"), relay.port, 8, smtp_extra=f"processes = {processes}")
        issue_id = prepare_db(cfg, n)
        proc = subprocess.Popen(command(cfg, flush), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, cwd=ROOT)
        until = time.monotonic() + 120
        while relay.accepted < frac * n and proc.poll() is None and time.monotonic() < until:
            time.sleep(0.001)
        if proc.poll() is not None:
            raise SystemExit(f"the send ended before the kill: {proc.stderr.read().decode()[-800:]}")  # type: ignore[union-attr]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        until = time.monotonic() + 20
        while not group_gone(proc.pid) and time.monotonic() < until:
            time.sleep(0.02)
        time.sleep(0.2)  # anything still on the wire lands
        before = relay.accepted
        again = subprocess.run(command(cfg, flush), check=False, capture_output=True, text=True, timeout=300,
                               cwd=ROOT)
        if again.returncode != 0:
            raise SystemExit(f"the rerun failed ({again.returncode}): {again.stderr[-800:]}")
        per = relay.per_rcpt
        everyone = {f"reader{i:06d}@example.net" for i in range(n)}
        return {"at": before, "reached": len(set(per) & everyone), "dups": sum(per.values()) - len(per),
                "sent_rows": ledger_counts(cfg, issue_id).get("sent", 0)}
    finally:
        controller.stop()


def speed(tmp: Path, db_base: str, port: int, n: int, flush: tuple[int, float] | None,
          processes: int) -> dict[str, float]:
    cfg = write_config(tmp, db_for(db_base, tmp, "speed"), port, 8, smtp_extra=f"processes = {processes}")
    issue_id = prepare_db(cfg, n)
    t0 = time.perf_counter()
    p = subprocess.run(command(cfg, flush), check=False, capture_output=True, text=True, timeout=900, cwd=ROOT)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"send failed ({p.returncode}): {p.stderr[-800:]}")
    sent = ledger_counts(cfg, issue_id).get("sent", 0)
    m = re.search(r"sent \d+ \((\d+)/s\)", p.stdout)
    return {"sent": sent, "wall": wall, "rate": sent / wall, "phase": float(m.group(1)) if m else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="readers for the kill trials (default 1000)")
    ap.add_argument("--trials", type=int, default=3, help="kills per variant (default 3: at 1/4, 1/2, 3/4)")
    ap.add_argument("--speed-n", type=int, default=5000, help="readers for the speed runs (default 5000)")
    ap.add_argument("--pg-url", default=os.environ.get("DIGEST_TEST_POSTGRES_URL", ""),
                    help="PostgreSQL URL (default: $DIGEST_TEST_POSTGRES_URL; none: SQLite only)")
    args = ap.parse_args()
    dbs = [("SQLite", "")] + ([("PostgreSQL", args.pg_url)] if args.pg_url else [])
    fracs = [(k + 1) / (args.trials + 1) for k in range(args.trials)]
    port = free_port()
    sink, sink_name = start_sink(port)
    print(f"kill trials: aiosmtpd relay on loopback, {args.n} readers, SIGKILL to the process group at "
          f"{', '.join(f'{f:.0%}' for f in fracs)} of the list; speed: sink: {sink_name}, {args.speed_n} readers; "
          f"CPUs: {os.cpu_count()}")
    try:
        for label, base in dbs:
            print(f"\n{label}")
            print(f"{'variant':44}{'killed at':>16}{'reached':>9}{'dups':>12}{'max':>5}"
                  f"{'speed msg/s':>13}{'(delivery)':>11}")
            with tempfile.TemporaryDirectory(prefix="digest-bench-kill-") as td:
                for i, (name, flush, processes) in enumerate(VARIANTS):
                    trials = []
                    for k, frac in enumerate(fracs):
                        d = Path(td) / f"k{i}_{k}"
                        d.mkdir()
                        trials.append(kill_trial(d, base, args.n, frac, flush, processes))
                    d = Path(td) / f"s{i}"
                    d.mkdir()
                    sp = speed(d, base, port, args.speed_n, flush, processes)
                    reached = min(t["reached"] for t in trials)
                    ok = all(t["reached"] == args.n and t["sent_rows"] == args.n for t in trials)
                    print(f"{name:44}{'/'.join(str(int(t['at'])) for t in trials):>16}"
                          f"{int(reached):>8}{'' if ok else '!'}{' '}{'/'.join(str(int(t['dups'])) for t in trials):>11}"
                          f"{max(int(t['dups']) for t in trials):>5}{sp['rate']:>13.0f}{sp['phase']:>11.0f}")
    finally:
        stop_sink(sink)


if __name__ == "__main__":
    main()
