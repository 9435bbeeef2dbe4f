#!/usr/bin/env python3
"""Poll benchmark (prints figures; not a test).

Builds a local farm of N feeds x M article pages (../shared/tools/feedfarm.py where present, else
a generator of the project's own), serves it on 127.0.0.1 and measures, in the same run and in
rounds (the order rotates, the machine is shared and its speed drifts):

1. the peer a user would script instead (issue 18): feedparser for the feeds plus newspaper4k
   downloading and parsing each page, with two processes; it does less (no summary, no actors,
   no storage);
2. trafilatura alone extracting the same pages from disk with both cores (the bound of the one
   stage digest shares with the peer);
3. `digest poll`, the whole command (interpreter start-up, imports, pool start and shutdown
   included), with its analysis on, into a fresh SQLite database;

and prints the ratios of each round and CPU per article for each process. Then (``--extra``) the
older figures of issue 7: the same poll with analysis off, a second poll with nothing new (every
feed answers 304: CPU per feed in a fresh process and in a running worker), and the polling step
alone beside the ``reader`` library.

    python bench/poll.py [--feeds 50] [--items 20] [--rounds 3] [--extra]
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
# ../shared beside the checkout (a helper's worktree sits one level deeper: ../../shared)
SHARED = Path(os.environ.get("DIGEST_SHARED_DIR") or next(
    (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()), ROOT.parent / "shared"))
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


PEER = """
import json, resource, sys, time
t_import = time.perf_counter()
from multiprocessing import Pool
import feedparser
from newspaper import Article

def feed_links(url):
    return [e.link for e in feedparser.parse(url).entries]

def page(url):
    a = Article(url)
    try:
        a.download()
        a.parse()
    except Exception:  # what a script would do: skip the page
        return -1
    return len(a.text)

if __name__ == "__main__":
    t0 = time.perf_counter()
    urls = open({feeds_txt!r}).read().split()
    with Pool(2) as pool:
        links = [lk for found in pool.map(feed_links, urls) for lk in found]
        sizes = list(pool.imap_unordered(page, links, chunksize=4))
    wall = time.perf_counter() - t0
    ru_s, ru_c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({{"wall": wall, "import": t0 - t_import, "pages": sum(1 for n in sizes if n >= 0),
                      "failed": sum(1 for n in sizes if n < 0), "chars": sum(n for n in sizes if n > 0),
                      "self_cpu": ru_s.ru_utime + ru_s.ru_stime, "kids_cpu": ru_c.ru_utime + ru_c.ru_stime}}))
"""

# `digest poll` as the console script runs it (digest.cli.main:main), reporting its CPU and that of
# the processes it waited for (the extraction workers) to a file when it exits.
DIGEST_CLI = """
import json, resource, sys
sys.argv = ["digest", "--config", {cfg!r}, "poll"]
from digest.cli.main import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
ru_s, ru_c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
with open({out!r}, "w") as fh:
    json.dump({{"code": code, "self_cpu": ru_s.ru_utime + ru_s.ru_stime, "kids_cpu": ru_c.ru_utime + ru_c.ru_stime,
               "rss_mb": ru_s.ru_maxrss / 1024, "child_rss_mb": ru_c.ru_maxrss / 1024}}, fh)
sys.exit(code)
"""


def run_script(code: str, tmp: Path, name: str) -> tuple[float, str]:
    """Run ``code`` as a script file in a fresh interpreter: (wall seconds of the whole process, stdout)."""
    path = tmp / f"{name}.py"
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    t0 = time.perf_counter()
    out = subprocess.run([PY, str(path)], check=True, capture_output=True, text=True, cwd=tmp)
    return time.perf_counter() - t0, out.stdout


def measure_peer(tmp: Path, feeds_txt: str) -> dict[str, float]:
    wall, out = run_script(PEER.format(feeds_txt=feeds_txt), tmp, "peer")
    data: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    data["whole"] = wall
    return data


def measure_trafilatura(tmp: Path, farm: Path) -> dict[str, float]:
    wall, out = run_script(TRAFILATURA.format(pattern=str(farm / "a" / "*.html"), fast=False), tmp, "traf")
    data: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    data["whole"] = wall
    return data


def measure_digest(tmp: Path, feeds_txt: str, name: str, server_pid: int) -> dict[str, float]:
    """`digest poll`, whole command, into a fresh database; CPU of the poll process, its workers, the farm."""
    feeds = [u for u in Path(feeds_txt).read_text().split() if u]
    (tmp / f"{name}-feeds.toml").write_text("".join(f'[[feed]]\nurl = "{u}"\n' for u in feeds), encoding="utf-8")
    cfg = write_cfg(tmp / f"{name}.toml", tmp / f"{name}.db", fetch_pages=True)
    cfg.write_text(cfg.read_text() + f'file = "{tmp / (name + "-feeds.toml")}"\n', encoding="utf-8")
    out_json = tmp / f"{name}.json"
    served0 = proc_cpu(server_pid)
    wall, out = run_script(DIGEST_CLI.format(cfg=str(cfg), out=str(out_json)), tmp, name)
    served = proc_cpu(server_pid) - served0
    data: dict[str, float] = json.loads(out_json.read_text())
    import re

    m = re.search(r"(\d+) new articles", out)
    data.update(whole=wall, new=float(m.group(1)) if m else 0.0, served_cpu=served)
    return data


def issue18(tmp: Path, farm: Path, feeds_txt: str, server: subprocess.Popen[bytes], rounds: int) -> None:
    """Peer, bound and `digest poll` side by side, ``rounds`` times with the order rotated."""
    print("issue 18: the peer (feedparser + newspaper4k, 2 processes), trafilatura alone (2 processes, pages "
          "from disk) and `digest poll` (whole command, analysis on), side by side")
    order = ["peer", "traf", "digest"]
    rows: list[tuple[float, float]] = []
    cpu_rows: list[tuple[float, float]] = []
    for r in range(rounds):
        got: dict[str, dict[str, float]] = {}
        for what in order[r % 3:] + order[:r % 3]:
            if what == "peer":
                served0 = proc_cpu(server.pid)
                got[what] = measure_peer(tmp, feeds_txt)
                got[what]["served_cpu"] = proc_cpu(server.pid) - served0
            elif what == "traf":
                got[what] = measure_trafilatura(tmp, farm)
            else:
                got[what] = measure_digest(tmp, feeds_txt, f"digest{r}", server.pid)
        p, t, d = got["peer"], got["traf"], got["digest"]
        n = d["new"]
        d_rate = n / d["whole"]
        p_rate, p_rate_whole = p["pages"] / p["wall"], p["pages"] / p["whole"]
        t_rate, t_rate_whole = t["pages"] / t["wall"], t["pages"] / t["whole"]
        rows.append((d_rate / p_rate, d_rate / t_rate))
        print(f"round {r + 1}: digest poll {n:.0f} articles in {d['whole']:.2f}s = {d_rate:.0f}/s | peer "
              f"{p['pages']:.0f} pages ({p['failed']:.0f} failed) in {p['wall']:.2f}s after its imports "
              f"({p['whole']:.2f}s whole script) = {p_rate:.0f}/s | trafilatura {t['pages']:.0f} pages in "
              f"{t['wall']:.2f}s ({t['whole']:.2f}s whole script) = {t_rate:.0f}/s")
        print(f"  digest / peer = {d_rate / p_rate:.2f}x ({d_rate / p_rate_whole:.2f}x against the peer's whole "
              f"script; target >= 2.5x); digest / trafilatura alone = {d_rate / t_rate:.2f} "
              f"({d_rate / t_rate_whole:.2f} against its whole script; target >= 0.50)")
        per_d, per_p, per_t = 1000 / max(1, n), 1000 / max(1, p["pages"]), 1000 / max(1, t["pages"])
        print(f"  CPU per article: digest poll process {d['self_cpu'] * per_d:.1f} ms + workers "
              f"{d['kids_cpu'] * per_d:.1f} ms (+ farm server {d['served_cpu'] * per_d:.1f} ms); peer parent "
              f"{p['self_cpu'] * per_p:.1f} ms + workers {p['kids_cpu'] * per_p:.1f} ms; trafilatura workers "
              f"{t['cpu'] * per_t:.1f} ms; peak RSS digest {d['rss_mb']:.0f} MB, largest worker "
              f"{d['child_rss_mb']:.0f} MB")
        # the same comparison in CPU (all processes, the farm's server left out for both): on a shared,
        # loaded machine the wall-clock ratios swing with what else runs, the CPU ones much less
        cpu_d = (d["self_cpu"] + d["kids_cpu"]) * per_d
        cpu_p = (p["self_cpu"] + p["kids_cpu"]) * per_p
        cpu_t = t["cpu"] * per_t
        cpu_rows.append((cpu_p / cpu_d, cpu_t / cpu_d))
        print(f"  in CPU per article: digest {cpu_d:.1f} ms, peer {cpu_p:.1f} ms (farm server {p['served_cpu'] * per_p:.1f} "
              f"ms), trafilatura {cpu_t:.1f} ms: digest is {cpu_p / cpu_d:.2f}x the peer and {cpu_t / cpu_d:.2f} of "
              f"trafilatura alone")
    lo = [min(x) for x in zip(*rows, strict=True)]
    hi = [max(x) for x in zip(*rows, strict=True)]
    print(f"over {rounds} rounds: digest / peer {lo[0]:.2f}-{hi[0]:.2f}x, digest / trafilatura alone "
          f"{lo[1]:.2f}-{hi[1]:.2f} (wall clock); in CPU per article {min(c[0] for c in cpu_rows):.2f}-"
          f"{max(c[0] for c in cpu_rows):.2f}x and {min(c[1] for c in cpu_rows):.2f}-{max(c[1] for c in cpu_rows):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--extra", action="store_true", help="also the issue 7 figures (analysis off, 304 poll, reader)")
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
        if a.rounds:
            issue18(tmp, farm, feeds_txt, server, a.rounds)
        if a.extra:
            extra(tmp, farm, feeds_txt, server)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def extra(tmp: Path, farm: Path, feeds_txt: str, server: subprocess.Popen[bytes]) -> None:
    """The issue 7 figures: digest poll in-process with its stages, analysis off, the 304 poll, reader."""
    if True:
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


if __name__ == "__main__":
    main()
