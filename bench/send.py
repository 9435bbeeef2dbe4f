#!/usr/bin/env python3
"""Send benchmark (prints figures; not a test).

N confirmed subscribers in a fresh database, one stored issue (the sample issue, ~15 stories), and
a local SMTP sink: Postfix's ``smtp-sink`` where installed (``apt-get install -y postfix``), else an
aiosmtpd sink in a separate process. In the same run it measures:

1. ``digest send`` end to end as a subprocess (start-up, ledger included: enqueue, claims, marks),
   at N (default 5,000, issue 18): messages per second and peak RSS of its largest process;
2. a naive baseline: one aiosmtplib connection, one ``EmailMessage`` built and sent per recipient
   (in its own process, for its peak RSS); 1 and 2 are repeated ``--runs`` times (default 3),
   alternating which goes first, and each run prints its own ratio;
3. ``smtp-source`` (where installed) into the same sink with messages of the same size: the bound
   for this machine; figures are given as a ratio to it.

   (``--big 50000``: digest send once more at that N, for peak memory against N)

    python bench/send.py [--n 5000] [--runs 3] [--big 50000] [--copies 4] [--db-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DIGEST = str(Path(PY).with_name("digest"))
SMTP_SINK = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None)
SMTP_SOURCE = shutil.which("smtp-source") or ("/usr/sbin/smtp-source" if Path("/usr/sbin/smtp-source").exists()
                                              else None)
BASE_URL = "https://digest.example.org"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"SMTP sink on port {port} did not start")


# ---- the sink ------------------------------------------------------------------------------------
def _aiosmtpd_sink(port: int) -> None:  # pragma: no cover - runs in its own process
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    Controller(Handler(), hostname="127.0.0.1", port=port).start()
    while True:
        time.sleep(3600)


def start_sink(port: int) -> tuple[subprocess.Popen[bytes] | object, str]:
    if SMTP_SINK:
        cmd = [SMTP_SINK]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]
        proc = subprocess.Popen([*cmd, f"127.0.0.1:{port}", "1024"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_port(port)
        return proc, "smtp-sink (Postfix)"
    import multiprocessing

    p = multiprocessing.get_context("spawn").Process(target=_aiosmtpd_sink, args=(port,), daemon=True)
    p.start()
    wait_port(port)
    return p, "aiosmtpd (separate process)"


def stop_sink(sink: object) -> None:
    if isinstance(sink, subprocess.Popen):
        sink.terminate()
        sink.wait(5)
    else:
        sink.terminate()  # type: ignore[attr-defined]


# ---- the database --------------------------------------------------------------------------------
def write_config(tmp: Path, db_url: str, port: int, pool: int, deadline: float = 600.0, smtp_extra: str = "") -> Path:
    path = tmp / "digest.toml"
    path.write_text(f"""
[database]
url = "{db_url}"
[newsletter]
title = "Cyber Digest"
sender = "Cyber Digest <digest@example.org>"
base_url = "{BASE_URL}"
unsubscribe_mailto = "unsubscribe@example.org"
[smtp]
host = "127.0.0.1"
port = {port}
pool_size = {pool}
retry_deadline_seconds = {deadline}
{smtp_extra}
[feeds]
file = "{tmp / 'feeds.toml'}"
[outbox]
dir = "{tmp / 'outbox'}"
""", encoding="utf-8")
    (tmp / "feeds.toml").write_text("", encoding="utf-8")
    return path


def prepare_db(cfg_path: Path, n: int, copies: int = 4) -> int:
    """N confirmed subscribers and one issue in state 'sending'; returns the issue id."""
    from sqlalchemy import insert

    from digest.config import load_config
    from digest.issue import build as issues
    from digest.issue.render import render_issue
    from digest.mail.sample import NOW, sample_issue
    from digest.store import Issue, Store, Subscriber

    cfg = load_config(cfg_path, env={})
    store = Store.open(cfg)
    rows = [{"email": f"reader{i:06d}@example.net", "status": "confirmed", "token_nonce": secrets.token_hex(8),
             "hard_bounces": 0, "preferences": {}} for i in range(n)]
    with store.session() as s:
        for i in range(0, n, 5000):
            s.execute(insert(Subscriber), rows[i:i + 5000])
    content = sample_issue(copies=copies)
    prepared = issues.Prepared(content, render_issue(content, base_url=BASE_URL, now=NOW), content.period_start,
                               content.period_end, ())
    issue = issues.create(store, cfg, prepared)
    with store.session() as s:
        row = s.get(Issue, issue.id)
        assert row is not None
        row.status = "sending"
    store.close()
    return issue.id


def ledger_counts(cfg_path: Path, issue_id: int) -> dict[str, int]:
    from digest.config import load_config
    from digest.mail.ledger import DeliveryLedger
    from digest.store import Store

    store = Store.open(load_config(cfg_path, env={}))
    try:
        return DeliveryLedger(store, issue_id).counts()
    finally:
        store.close()


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; wall seconds, peak RSS (MB) of its largest process, stdout."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    # ru_maxrss of the children this process waited for: the largest of digest send and its senders
    import resource

    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return wall, rss, out.decode()


def measure_ours(tmp: Path, db_url: str, port: int, pool: int, n: int, copies: int) -> dict[str, float]:
    cfg = write_config(tmp, db_url, port, pool)
    issue_id = prepare_db(cfg, n, copies)
    # a fresh interpreter per measurement, so RUSAGE_CHILDREN holds only this run
    code = (f"import json,subprocess,sys,time,resource;t=time.perf_counter();"
            f"p=subprocess.run([{DIGEST!r},'--config',{str(cfg)!r},'send','--no-poll'],capture_output=True,text=True);"
            f"w=time.perf_counter()-t;"
            f"print(json.dumps({{'wall':w,'rc':p.returncode,'out':p.stdout.strip(),'err':p.stderr[-1500:],"
            f"'rss':resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss/1024}}))")
    res = json.loads(subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True).stdout)
    if res["rc"] != 0:
        raise SystemExit(f"digest send failed (exit {res['rc']}): {res['out']} {res['err']}")
    counts = ledger_counts(cfg, issue_id)
    return {"n": n, "wall": res["wall"], "rate": counts.get("sent", 0) / res["wall"], "rss_mb": res["rss"],
            "sent": counts.get("sent", 0), "other": sum(v for k, v in counts.items() if k != "sent"),
            "summary": res["out"].splitlines()[-1] if res["out"] else ""}


# ---- the naive baseline --------------------------------------------------------------------------
async def _naive(cfg_path: str, limit: int) -> int:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    import aiosmtplib

    from digest.config import load_config
    from digest.issue.render import personalise
    from digest.store import Store
    from digest.tokens import TokenSigner

    cfg = load_config(cfg_path, env={})
    store = Store.open(cfg)
    issue = store.open_issue() or store.sent_issues(1)[0]
    signer = TokenSigner(store.secret_key(cfg.security.secret_key))
    subs = store.subscribers("confirmed")[:limit]
    smtp = aiosmtplib.SMTP(hostname=cfg.smtp.host, port=cfg.smtp.port)
    await smtp.connect()
    for sub in subs:
        unsub = f"{BASE_URL}/unsubscribe/{signer.sign('unsubscribe', sub.id, sub.token_nonce)}"
        prefs = f"{BASE_URL}/preferences/{signer.sign('preferences', sub.id, sub.token_nonce)}"
        msg = EmailMessage()
        msg["From"] = cfg.newsletter.sender
        msg["To"] = sub.email
        msg["Subject"] = issue.subject
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="example.org")
        msg["List-Unsubscribe"] = f"<{unsub}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(personalise(issue.text, unsubscribe_url=unsub, preferences_url=prefs))
        msg.add_alternative(personalise(issue.html, unsubscribe_url=unsub, preferences_url=prefs), subtype="html")
        await smtp.send_message(msg)
    await smtp.quit()
    return len(subs)


def naive_child(cfg_path: str, limit: int) -> None:
    import resource

    t0 = time.perf_counter()
    sent = asyncio.run(_naive(cfg_path, limit))
    wall = time.perf_counter() - t0
    print(json.dumps({"sent": sent, "wall": wall, "rate": sent / wall,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def measure_naive(tmp: Path, db_url: str, port: int, n: int, limit: int, copies: int) -> dict[str, float]:
    cfg = write_config(tmp, db_url, port, 1)
    prepare_db(cfg, n, copies)
    out = subprocess.run([PY, __file__, "--naive-child", str(cfg), "--n", str(limit)], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure_smtp_source(port: int, n: int, size: int) -> dict[str, float] | None:
    if not SMTP_SOURCE:
        return None
    t0 = time.perf_counter()
    subprocess.run([SMTP_SOURCE, "-d", "-s", "16", "-m", str(n), "-l", str(size), "-f", "bench@example.org",
                    "-t", "reader@example.net", f"127.0.0.1:{port}"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return {"n": n, "wall": wall, "rate": n / wall}


def message_size(copies: int) -> int:
    from digest.issue.render import render_issue
    from digest.mail.message import MessageFactory, Recipient
    from digest.mail.sample import NOW, sample_issue
    from digest.tokens import TokenSigner

    rendered = render_issue(sample_issue(copies=copies), base_url=BASE_URL, now=NOW)
    f = MessageFactory(rendered, sender="Cyber Digest <digest@example.org>", base_url=BASE_URL,
                       signer=TokenSigner(b"k" * 32), issue_id=1)
    return len(f.build(Recipient(1, "reader@example.net", "n")))


def db_for(base: str | None, tmp: Path, name: str) -> str:
    if not base:
        return f"sqlite:///{tmp / (name + '.db')}"
    from sqlalchemy import create_engine, text

    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    eng = create_engine(base)
    with eng.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5_000, help="confirmed subscribers (default 5000, as issue 18 asks)")
    ap.add_argument("--naive-n", type=int, default=0,
                    help="recipients for the naive baseline (default: N, at most 5000; it is a rate)")
    ap.add_argument("--copies", type=int, default=4,
                    help="size of the issue: the sample issue's topic stories repeated (default 4: 15 stories)")
    ap.add_argument("--pool", type=int, default=8, help="smtp.pool_size for digest send (default 8)")
    ap.add_argument("--runs", type=int, default=3, help="runs of (digest send at N, naive) (default 3)")
    ap.add_argument("--big", type=int, default=0, help="also digest send at this N once, for peak memory (50000)")
    ap.add_argument("--db-url", default="", help="PostgreSQL URL (default: SQLite in a temp folder)")
    ap.add_argument("--naive-child", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.naive_child:
        naive_child(args.naive_child, args.n)
        return

    port = free_port()
    sink, sink_name = start_sink(port)
    size = message_size(args.copies)
    print(f"sink: {sink_name} on 127.0.0.1:{port}; message size {size / 1024:.1f} KB; "
          f"database: {'PostgreSQL' if args.db_url else 'SQLite'}; CPUs: {os.cpu_count()}")
    naive_n = args.naive_n or min(args.n, 5000)
    runs: list[tuple[dict[str, float], dict[str, float]]] = []
    big: dict[str, float] | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="digest-bench-send-") as td:
            tmp = Path(td)
            for r in range(args.runs):
                # alternate which goes first: the machine's speed drifts within a run
                order = ("ours", "naive") if r % 2 == 0 else ("naive", "ours")
                got: dict[str, dict[str, float]] = {}
                for what in order:
                    d = tmp / f"{what}{r}"
                    d.mkdir()
                    if what == "ours":
                        got[what] = measure_ours(d, db_for(args.db_url, d, f"ours{r}"), port, args.pool, args.n,
                                                 args.copies)
                    else:
                        got[what] = measure_naive(d, db_for(args.db_url, d, f"naive{r}"), port, naive_n, naive_n,
                                                  args.copies)
                ours, naive = got["ours"], got["naive"]
                runs.append((ours, naive))
                print(f"run {r + 1}: digest send (whole command) {ours['sent']:.0f} in {ours['wall']:.2f}s = "
                      f"{ours['rate']:.0f}/s, peak RSS {ours['rss_mb']:.1f} MB; naive {naive['sent']:.0f} in "
                      f"{naive['wall']:.2f}s = {naive['rate']:.0f}/s; digest / naive = "
                      f"{ours['rate'] / naive['rate']:.1f}x (target >= 5x)")
                if ours["other"]:
                    print(f"  WARNING: ledger rows not sent: {ours['other']:.0f}")
                print(f"  digest says: {ours['summary']}")
            if args.big:
                d = tmp / "big"
                d.mkdir()
                big = measure_ours(d, db_for(args.db_url, d, "big"), port, args.pool, args.big, args.copies)
                print(f"digest send at N={args.big}: {big['sent']:.0f} in {big['wall']:.2f}s = {big['rate']:.0f}/s, "
                      f"peak RSS {big['rss_mb']:.1f} MB")
            source = measure_smtp_source(port, args.n, size)
    finally:
        stop_sink(sink)

    ratios = [o["rate"] / n["rate"] for o, n in runs]
    print()
    if ratios:
        print(f"digest send / naive over {len(runs)} runs: " + ", ".join(f"{x:.1f}x" for x in ratios)
              + f" (lowest {min(ratios):.1f}x; target >= 5x in each)")
    if source:
        best = max(o["rate"] for o, _n in runs) if runs else 0.0
        print(f"smtp-source (16 sessions) into the same sink: {source['n']:.0f} in {source['wall']:.2f}s = "
              f"{source['rate']:.0f}/s; digest's best run is {best / source['rate']:.2f} of it")
    if big is not None and runs:
        print(f"peak RSS at N={args.n}: {max(o['rss_mb'] for o, _n in runs):.1f} MB; at N={args.big}: "
              f"{big['rss_mb']:.1f} MB")


if __name__ == "__main__":
    main()
