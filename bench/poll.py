#!/usr/bin/env python3
"""Poll benchmark (prints figures; not a test).

Builds a local farm of N feeds x M article pages (../shared/tools/feedfarm.py where present, else
a generator of the project's own), serves it on 127.0.0.1 and measures, in the same run:

1. `digest poll` end to end into a fresh SQLite database: feeds/s, articles/s, time per stage,
   peak memory (RSS of the poll process and of its extraction workers); and the same poll with
   analysis off (fetch, extract, store), the ceiling that analysis works under;
2. trafilatura alone extracting the same pages with both cores (the bound for extraction);
3. the polling step alone (fetch, parse, store; no page fetch/extraction) for digest and for the
   `reader` library's `update_feeds` on the same feeds;
4. a second `digest poll` with nothing new (every feed answers 304): CPU per feed.

    python bench/poll.py [--feeds 100] [--items 20]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_farm(farm: Path, feeds: int, items: int, port: int) -> None:
    tool = SHARED / "tools" / "feedfarm.py"
    texts = [p for p in (SHARED / "corpus" / "annoctr" / "text").glob("*/*.txt")] if SHARED.exists() else []
    if tool.exists() and texts:
        glob = str(SHARED / "corpus" / "annoctr" / "text" / "*" / "*.txt")
        subprocess.run([PY, str(tool), "build", str(farm), "--feeds", str(feeds), "--items", str(items),
                        "--texts", glob, "--port", str(port)], check=True, stdout=subprocess.DEVNULL)
        return
    # fallback: the project's own demo pages as texts
    import html as h

    rnd = random.Random(1)
    demo = sorted((ROOT / "config" / "demo" / "pages").glob("*.html"))
    bodies = [p.read_text(encoding="utf-8") for p in demo] or ["<html><body><article><p>" + "Lorem. " * 300
                                                                + "</p></article></body></html>"]
    (farm / "feeds").mkdir(parents=True, exist_ok=True)
    (farm / "a").mkdir(exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    for f in range(feeds):
        entries = []
        for m in range(items):
            name = f"f{f:03d}-{m:03d}.html"
            body = bodies[(f * items + m) % len(bodies)].replace("__BASE_URL__", base)
            (farm / "a" / name).write_text(body, encoding="utf-8")
            ts = time.time() - rnd.randint(0, 36 * 3600)
            entries.append(f"<item><title>Item {f}-{m}</title><link>{base}/a/{name}</link>"
                           f"<guid isPermaLink='false'>farm-{f}-{m}</guid>"
                           f"<pubDate>{time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(ts))}</pubDate>"
                           f"<description>{h.escape('Item description')}</description></item>")
        (farm / "feeds" / f"f{f:03d}.xml").write_text(
            "<?xml version='1.0'?><rss version='2.0'><channel><title>Farm</title><link>x</link>"
            + "".join(entries) + "</channel></rss>", encoding="utf-8")
    (farm / "feeds.txt").write_text("\n".join(f"{base}/feeds/f{f:03d}.xml" for f in range(feeds)) + "\n")


def serve(farm: Path, port: int) -> subprocess.Popen[bytes]:
    tool = SHARED / "tools" / "feedfarm.py"
    if tool.exists():
        cmd = [PY, str(tool), "serve", str(farm), "--port", str(port)]
    else:
        cmd = [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(farm)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    raise SystemExit("farm server did not start")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(code: str) -> dict[str, float]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line; add the children's peak RSS."""
    out = subprocess.run([PY, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True, cwd=ROOT)
    data: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


DIGEST_POLL = """
import json, resource, sys, time
from pathlib import Path
from digest.config import load_config
from digest.ingest.feedlist import FeedSpec
from digest.ingest.poll import poll
from digest.store import Store
cfg = load_config(sys.argv[1] if len(sys.argv) > 1 else {cfg!r}, env={{}})
specs = [FeedSpec(u.strip()) for u in Path({feeds_txt!r}).read_text().split() if u.strip()]
store = Store.open(cfg)
t0, c0 = time.perf_counter(), time.process_time()
report = poll(store, cfg, feed_specs=specs, analyse={analyse!r})
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
c1 = time.process_time()
warm = poll(store, cfg, feed_specs=specs) if {repeat!r} else None
warm_cpu = time.process_time() - c1
ru_s, ru_c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"self_cpu": ru_s.ru_utime + ru_s.ru_stime, "kids_cpu": ru_c.ru_utime + ru_c.ru_stime,
                  "warm_cpu": warm_cpu, "warm_not_modified": warm.not_modified if warm else 0, "wall": wall, "cpu": cpu, "new": report.new_articles, "feeds": report.feeds,
                  "not_modified": report.not_modified, "failed": report.failed,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "child_rss_mb": kids,
                  **{{"stage_" + k: v for k, v in report.stage_seconds.items()}}}}))
"""

TRAFILATURA = """
import json, time, glob
from concurrent.futures import ProcessPoolExecutor
import trafilatura
def ex(path):
    with open(path, "rb") as fh:
        return len(trafilatura.extract(fh.read(), fast={fast!r}) or "")
paths = sorted(glob.glob({pattern!r}))
t0 = time.perf_counter()
with ProcessPoolExecutor(2) as pool:
    total = sum(pool.map(ex, paths, chunksize=8))
import resource
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({{"wall": time.perf_counter() - t0, "pages": len(paths), "chars": total,
                  "cpu": ru.ru_utime + ru.ru_stime}}))
"""

READER = """
import json, time
from pathlib import Path
from reader import make_reader
r = make_reader({db!r})
for u in Path({feeds_txt!r}).read_text().split():
    r.add_feed(u, allow_invalid_url=True)
t0 = time.perf_counter()
r.update_feeds(workers=8)
wall = time.perf_counter() - t0
n = r.get_entry_counts().total
print(json.dumps({{"wall": wall, "entries": n}}))
"""


def write_cfg(path: Path, db: Path, *, fetch_pages: bool, workers: int = 2) -> Path:
    # Every farm feed is on one host; 4 at a time per host stands in for many polite hosts. More
    # overflows the farm server's listen backlog (Python's http.server: 5) and each dropped SYN costs
    # a 1 s retransmit, which measures the server, not the poller.
    path.write_text(f'[database]\nurl = "sqlite:///{db}"\n[feeds]\nallow_private_networks = true\n'
                    f'fetch_pages = {"true" if fetch_pages else "false"}\nextract_workers = {workers}\n'
                    f'per_host_concurrency = 4\nconcurrency = 32\nmax_entries_per_feed = 1000\n')
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--items", type=int, default=20)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="digest-bench-poll-"))
    port = free_port()
    farm = tmp / "farm"
    build_farm(farm, a.feeds, a.items, port)
    server = serve(farm, port)
    feeds_txt = str(farm / "feeds.txt")
    n_pages = a.feeds * a.items
    try:
        print(f"farm: {a.feeds} feeds x {a.items} pages = {n_pages} articles on 127.0.0.1:{port} "
              f"({'feedfarm + AnnoCTR texts' if (SHARED / 'tools').exists() else 'project generator'}); "
              f"{os.cpu_count()} CPUs")

        def trafilatura_rate() -> tuple[float, dict[str, float]]:
            t = run_child(TRAFILATURA.format(pattern=str(farm / "a" / "*.html"), fast=False))
            return t["pages"] / t["wall"], t

        # The machine's speed drifts over minutes, so trafilatura alone is measured next to each
        # digest run (before and after it) and each ratio uses the mean of its two neighbours.
        traf_rate, traf = trafilatura_rate()
        print(f"trafilatura alone, 2 processes: {traf['pages']} pages in {traf['wall']:.1f}s = {traf_rate:.0f} pages/s")
        quick = run_child(TRAFILATURA.format(pattern=str(farm / "a" / "*.html"), fast=True))
        quick_rate = quick["pages"] / quick["wall"]
        print(f"  (trafilatura alone with fast=True, as digest's first pass runs it: {quick_rate:.0f} pages/s)")

        cfg_full = write_cfg(tmp / "full.toml", tmp / "full.db", fetch_pages=True)
        served0 = proc_cpu(server.pid)
        full = run_child(DIGEST_POLL.format(cfg=str(cfg_full), feeds_txt=feeds_txt, repeat=False, analyse=True))
        served = proc_cpu(server.pid) - served0
        rate = full["new"] / full["wall"]
        traf_after, _ = trafilatura_rate()
        bound = (traf_rate + traf_after) / 2
        print(f"digest poll end to end: {full['new']:.0f} articles from {full['feeds']:.0f} feeds in "
              f"{full['wall']:.1f}s = {rate:.0f} articles/s, {full['feeds'] / full['wall']:.1f} feeds/s "
              f"({rate / bound:.0%} of trafilatura alone, measured at {traf_rate:.0f} and {traf_after:.0f} pages/s "
              f"before and after; {rate / quick_rate:.0%} of its fast mode)")
        stages = {k[6:]: v for k, v in full.items() if k.startswith("stage_")}
        print("  stage seconds (summed over concurrent tasks): "
              + ", ".join(f"{k} {v:.1f}" for k, v in sorted(stages.items())))
        per = 1000 / max(1, full["new"])
        print(f"  CPU per article: {full['cpu'] * per:.1f} ms in the poll process (fetch, parse, store), "
              f"{full['kids_cpu'] * per:.1f} ms in its extraction/analysis workers (start-up included), {served * per:.1f} ms in the "
              f"farm's web server; trafilatura alone: {traf['cpu'] * 1000 / traf['pages']:.1f} ms per page")
        print(f"  peak RSS: poll process {full['rss_mb']:.0f} MB, largest extraction worker {full['child_rss_mb']:.0f} MB")

        cfg_noan = write_cfg(tmp / "noan.toml", tmp / "noan.db", fetch_pages=True)
        noan = run_child(DIGEST_POLL.format(cfg=str(cfg_noan), feeds_txt=feeds_txt, repeat=False, analyse=False))
        rate_noan = noan["new"] / noan["wall"]
        traf_last, _ = trafilatura_rate()
        print(f"  the same poll without analysis (fetch, extract, store only): {rate_noan:.0f} articles/s "
              f"({rate_noan / ((traf_after + traf_last) / 2):.0%} of trafilatura alone at {traf_after:.0f} and "
              f"{traf_last:.0f} pages/s): the ceiling that page fetching and serving on the same 2 cores leave, "
              f"before any summary, topic or actor work")

        again = run_child(DIGEST_POLL.format(cfg=str(cfg_full), feeds_txt=feeds_txt, repeat=True, analyse=True))
        print(f"second poll, nothing new: {again['not_modified']:.0f}/{again['feeds']:.0f} feeds not modified, "
              f"{again['new']:.0f} new; CPU {again['cpu'] * 1000 / max(1, again['feeds']):.2f} ms per feed "
              f"in a fresh process (wall {again['wall'] * 1000:.0f} ms); "
              f"{again['warm_cpu'] * 1000 / max(1, again['feeds']):.2f} ms per feed on the next poll in the same "
              f"process, as the worker runs it ({again['warm_not_modified']:.0f} not modified)")

        cfg_feeds = write_cfg(tmp / "feedsonly.toml", tmp / "feedsonly.db", fetch_pages=False, workers=2)
        ours = run_child(DIGEST_POLL.format(cfg=str(cfg_feeds), feeds_txt=feeds_txt, repeat=False, analyse=False))
        cfg_an = write_cfg(tmp / "feedsan.toml", tmp / "feedsan.db", fetch_pages=False, workers=2)
        analysed = run_child(DIGEST_POLL.format(cfg=str(cfg_an), feeds_txt=feeds_txt, repeat=False, analyse=True))
        try:
            peer = run_child(READER.format(db=str(tmp / "reader.sqlite"), feeds_txt=feeds_txt))
            print(f"polling step only (fetch, parse, dedup, store; no page, no analysis): digest {ours['wall']:.2f}s "
                  f"for {ours['new']:.0f} entries; reader.update_feeds {peer['wall']:.2f}s for "
                  f"{peer['entries']:.0f} entries; digest is {peer['wall'] / ours['wall']:.1f}x reader")
            print(f"  the same poll with digest's summary/actor/topic analysis of each entry's feed text: "
                  f"{analysed['wall']:.2f}s = {peer['wall'] / analysed['wall']:.1f}x reader")
        except subprocess.CalledProcessError as exc:
            print(f"reader baseline failed: {exc.stderr.strip().splitlines()[-1] if exc.stderr else exc}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
