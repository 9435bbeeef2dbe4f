#!/usr/bin/env python3
"""Peak memory and the no-change poll with many articles stored (issue 18; prints figures, not a test).

Builds a farm of F feeds x M pages (default 50 x 200 = 10,000 articles: feedfarm + AnnoCTR
texts), polls it into a fresh SQLite database in one process, as the worker runs, then polls
again with nothing new (every feed answers 304) and reports CPU per feed of that poll and the
peak RSS of the process and of its extraction workers; then composes an issue over everything
stored (`digest send --dry-run --since 2d`, a fresh process) and reports its time and peak RSS.

    python bench/poll_memory.py [--feeds 50] [--items 200] [--distinct]

``--distinct`` serves a farm of the project's own making instead, every page a different article
(bench/content.py's articles of real corpus sentences, 10 days of dates): feedfarm's farm holds
6,000 distinct items however many pages it is asked for, and the poll keeps each item once.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import poll as bench  # bench/poll.py: the farm, its server, the config

WORKER = """
import json, resource, sys, time
from pathlib import Path
from digest.config import load_config
from digest.ingest.feedlist import FeedSpec
from digest.ingest.poll import poll
from digest.store import Store
cfg = load_config({cfg!r}, env={{}})
specs = [FeedSpec(u.strip()) for u in Path({feeds_txt!r}).read_text().split() if u.strip()]
store = Store.open(cfg)
t0 = time.perf_counter()
first = poll(store, cfg, feed_specs=specs)
wall = time.perf_counter() - t0
rss_after_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
c0, t1 = time.process_time(), time.perf_counter()
second = poll(store, cfg, feed_specs=specs)
cpu2, wall2 = time.process_time() - c0, time.perf_counter() - t1
print(json.dumps({{"new": first.new_articles, "wall": wall, "feeds": second.feeds,
                  "not_modified": second.not_modified, "new2": second.new_articles, "cpu2": cpu2, "wall2": wall2,
                  "rss_first": rss_after_first, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "kids_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
"""


def distinct_farm(farm: Path, feeds: int, items: int, port: int) -> None:
    """feeds x items pages, each a different article, and an RSS feed per feed listing its pages."""
    import html
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from content import build_articles  # bench/content.py

    arts = build_articles(feeds * items, seed=11)
    base = f"http://127.0.0.1:{port}"
    (farm / "feeds").mkdir(parents=True)
    (farm / "a").mkdir()
    now = datetime.now(UTC)
    for f in range(feeds):
        entries = []
        for k in range(items):
            n = f * items + k
            _id, title, text, _when = arts[n]
            title = f"{title} ({n})"  # one headline is reused across pages: each page is its own article
            paras = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
            (farm / "a" / f"{n}.html").write_text(
                f"<html><head><title>{html.escape(title)}</title></head><body><article><h1>{html.escape(title)}"
                f"</h1>{paras}</article></body></html>", encoding="utf-8")
            when = format_datetime(now - timedelta(minutes=n % 2000))
            entries.append(f"<item><title>{html.escape(title)}</title><link>{base}/a/{n}.html</link>"
                           f"<guid>{base}/a/{n}.html</guid><pubDate>{when}</pubDate>"
                           f"<description>{html.escape(text.split(chr(10))[0][:300])}</description></item>")
        (farm / "feeds" / f"f{f:03d}.xml").write_text(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Distinct {f}</title><link>{base}/</link>'
            + "".join(entries) + "</channel></rss>", encoding="utf-8")
    (farm / "feeds.txt").write_text("\n".join(f"{base}/feeds/f{f:03d}.xml" for f in range(feeds)) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--distinct", action="store_true", help="every page a different article (see above)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="digest-bench-mem-"))
    port = bench.free_port()
    farm = tmp / "farm"
    if a.distinct:
        distinct_farm(farm, a.feeds, a.items, port)
        server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                   "--directory", str(farm)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    else:
        bench.build_farm(farm, a.feeds, a.items, port)
        server = bench.serve(farm, port)
    try:
        cfg = bench.write_cfg(tmp / "c.toml", tmp / "c.db", fetch_pages=True)
        cfg.write_text(cfg.read_text().replace("max_entries_per_feed = 1000", f"max_entries_per_feed = {a.items}")
                       + f'[outbox]\ndir = "{tmp / "outbox"}"\n', encoding="utf-8")
        out = bench.run_child(WORKER.format(cfg=str(cfg), feeds_txt=str(farm / "feeds.txt")))
        print(f"{a.feeds} feeds x {a.items} pages: first poll stored {out['new']:.0f} articles in {out['wall']:.0f} s; "
              f"peak RSS {out['rss_first']:.0f} MB (poll process), {out['kids_rss']:.0f} MB (largest worker)")
        print(f"second poll in the same process, {out['new2']:.0f} new, {out['not_modified']:.0f}/{out['feeds']:.0f} "
              f"not modified: {out['cpu2'] * 1000 / max(1, out['feeds']):.2f} ms of CPU per feed "
              f"(wall {out['wall2'] * 1000:.0f} ms); peak RSS of the process after both {out['rss']:.0f} MB "
              f"(target: under 2 ms per feed, under 500 MB)")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "digest", "--config", str(cfg), "send", "--dry-run", "--no-poll",
                        "--since", "2d", "--out", str(tmp / "out")], check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"send --dry-run --since 2d over the {out['new']:.0f} stored articles: {wall:.1f} s, "
              f"peak RSS {rss:.0f} MB (the largest process the bench started)")
        print(json.dumps({"poll": out, "dry_run_seconds": round(wall, 2), "dry_run_rss_mb": round(rss)}))
    finally:
        server.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
