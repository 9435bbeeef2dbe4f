#!/usr/bin/env python3
"""Web load check (prints figures; not a test).

Starts `digest serve` (uvicorn, one process) on a free loopback port over a fresh SQLite database,
with an aiosmtpd sink on loopback catching the confirmation mail, then drives it from a second
process with an asyncio httpx client:

1. sign-ups: POST /subscribe with a fresh address each (after one GET per connection for the CSRF
   cookie and token); X-Forwarded-For spreads the requests over many client addresses, as a local
   proxy would, so the per-client rate limit is exercised but not hit;
2. one-click unsubscribes: POST /unsubscribe/<token> with the RFC 8058 body, no cookie, no CSRF.

Reports requests per second, latency percentiles and errors per phase, and whether every
confirmation mail arrived and every unsubscribe landed in the database. Bounded in count
(--signups, at most 5000) and in time (--seconds per phase).

    python bench/web.py [--signups 1000] [--concurrency 16] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SECRET = "bench-secret-key-" + "x" * 32


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the load generator (runs in a second process) ---------------------------------------------
async def _signups(base: str, n: int, concurrency: int, deadline: float) -> dict[str, object]:
    import httpx

    counter = iter(range(n))
    lat: list[float] = []
    codes: dict[str, int] = {}

    async def worker(w: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            r = await http.get("/subscribe")
            m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', r.text)
            token = m.group(1) if m else ""
            for i in counter:
                if time.monotonic() > deadline:
                    return
                ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
                t0 = time.perf_counter()
                try:
                    r = await http.post("/subscribe", data={"csrf_token": token, "email": f"bench{i}@example.org",
                                                            "website": ""}, headers={"x-forwarded-for": ip})
                    key = str(r.status_code)
                except Exception as exc:  # noqa: BLE001 - counted as an error
                    key = type(exc).__name__
                lat.append(time.perf_counter() - t0)
                codes[key] = codes.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return {"elapsed": time.perf_counter() - t0, "latencies": lat, "codes": codes}


async def _unsubscribes(base: str, tokens: list[str], concurrency: int, deadline: float) -> dict[str, object]:
    import httpx

    it = iter(tokens)
    lat: list[float] = []
    codes: dict[str, int] = {}

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for token in it:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                try:
                    r = await http.post(f"/unsubscribe/{token}", content=b"List-Unsubscribe=One-Click",
                                        headers={"content-type": "application/x-www-form-urlencoded"})
                    key = str(r.status_code)
                except Exception as exc:  # noqa: BLE001
                    key = type(exc).__name__
                lat.append(time.perf_counter() - t0)
                codes[key] = codes.get(key, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"elapsed": time.perf_counter() - t0, "latencies": lat, "codes": codes}


def client_main(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.seconds
    if args.client == "signup":
        out = asyncio.run(_signups(args.base, args.signups, args.concurrency, deadline))
    else:
        tokens = Path(args.tokens).read_text().split()
        out = asyncio.run(_unsubscribes(args.base, tokens, args.concurrency, deadline))
    print(json.dumps(out))


# ---- the driver ---------------------------------------------------------------------------------
def _server_cmd(config: Path) -> list[str]:
    digest = Path(PY).with_name("digest")
    if digest.exists():
        probe = subprocess.run([str(digest), "serve", "--help"], capture_output=True, cwd=ROOT, check=False)
        if probe.returncode == 0:
            return [str(digest), "--config", str(config), "serve"]
    return [PY, "-m", "digest.cli.web", "--config", str(config), "serve"]  # before `serve` is mounted


def _figures(name: str, res: dict[str, object], expect: str, n: int) -> dict[str, object]:
    lat = sorted(res["latencies"])  # type: ignore[arg-type]
    codes: dict[str, int] = res["codes"]  # type: ignore[assignment]
    done = len(lat)
    elapsed = float(res["elapsed"])  # type: ignore[arg-type]
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0] * 1.0] * 99 if lat else [0.0] * 99
    return {"phase": name, "requests": done, "planned": n, "seconds": round(elapsed, 2),
            "rps": round(done / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "max_ms": round(max(lat) * 1000, 1)
            if lat else 0.0, "errors": sum(v for k, v in codes.items() if k != expect), "codes": codes}


def _run_client(mode: str, base: str, args: argparse.Namespace, tokens: Path | None = None) -> dict[str, object]:
    cmd = [PY, str(Path(__file__).resolve()), "--client", mode, "--base", base, "--signups", str(args.signups),
           "--concurrency", str(args.concurrency), "--seconds", str(args.seconds)]
    if tokens:
        cmd += ["--tokens", str(tokens)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60, cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"load client failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--signups", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60.0, help="time limit per phase")
    ap.add_argument("--client", choices=["signup", "unsubscribe"], help=argparse.SUPPRESS)
    ap.add_argument("--base", help=argparse.SUPPRESS)
    ap.add_argument("--tokens", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    args.signups = max(1, min(args.signups, 5000))
    args.concurrency = max(1, min(args.concurrency, 64))
    if args.client:
        client_main(args)
        return

    sys.path.insert(0, str(ROOT))
    from aiosmtpd.controller import Controller

    from digest.config import load_config
    from digest.store import Store
    from digest.tokens import TokenSigner

    received: list[str] = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            received.extend(envelope.rcpt_tos)
            return "250 OK"

    tmp = Path(tempfile.mkdtemp(prefix="digest-bench-web-"))
    smtp_port, port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = tmp / "digest.toml"
    cfg.write_text(f"""[database]\nurl = "sqlite:///{tmp / 'bench.db'}"\n[newsletter]\nbase_url = "{base}"\n
[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\ntimeout_seconds = 10.0\n
[web]\nhost = "127.0.0.1"\nport = {port}\nsignup_rate_per_hour = 5\n[outbox]\ndir = "{tmp / 'outbox'}"\n""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_SECURITY_SECRET_KEY"] = SECRET
    sink = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    sink.start()
    server = subprocess.Popen(_server_cmd(cfg), cwd=ROOT, env=env, stdout=(tmp / "server.log").open("wb"),
                              stderr=subprocess.STDOUT)
    results: list[dict[str, object]] = []
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"digest serve did not start:\n{(tmp / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        res = _run_client("signup", base, args)
        results.append(_figures("sign-up POST /subscribe", res, "200", args.signups))
        accepted = res["codes"].get("200", 0)  # type: ignore[union-attr]
        t0 = time.monotonic()
        while len(received) < accepted and time.monotonic() - t0 < args.seconds:
            time.sleep(0.1)
        mail_wait = time.monotonic() - t0

        config = load_config(cfg, env=env, root=tmp)
        store = Store.open(config)
        try:
            signer = TokenSigner(store.secret_key(config.security.secret_key))
            subs = store.subscribers("pending")
            tokens = tmp / "tokens.txt"
            tokens.write_text("\n".join(signer.sign("unsubscribe", s.id, s.token_nonce) for s in subs))
            res2 = _run_client("unsubscribe", base, args, tokens)
            results.append(_figures("one-click POST /unsubscribe/<token>", res2, "200", len(subs)))
            counts = store.subscriber_counts()
        finally:
            store.close()
        rss = _rss_kb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        sink.stop()

    summary = {"phases": results, "confirmation_mails": len(received), "signups_accepted": accepted,
               "mail_drain_seconds": round(mail_wait, 2), "subscribers_by_status": counts,
               "server_rss_mb": round(rss / 1024, 1), "concurrency": args.concurrency, "cpus": os.cpu_count()}
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"digest serve on {base}, {args.concurrency} concurrent connections from a second process, "
          f"{os.cpu_count()} CPUs")
    for r in results:
        print(f"  {r['phase']:<38} {r['requests']:>5}/{r['planned']:<5} in {r['seconds']:>6}s  "
              f"{r['rps']:>7} req/s  p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  max {r['max_ms']} ms  "
              f"errors {r['errors']}  {r['codes']}")
    print(f"  confirmation mails caught: {len(received)} of {accepted} accepted sign-ups "
          f"(drained {mail_wait:.1f}s after the last answer)")
    print(f"  subscribers by status after the run: {counts}")
    print(f"  server RSS at the end: {summary['server_rss_mb']} MB")


if __name__ == "__main__":
    main()
