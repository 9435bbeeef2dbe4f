#!/usr/bin/env python3
"""Are `digest poll`'s outputs unchanged? (a check for speed work; prints, asserts nothing in tests)

Polls the local feed farm (../shared/tools/feedfarm.py over the AnnoCTR texts, or the project's
own generator; see bench/poll.py) into a fresh SQLite database with the code it is run with, and
writes what was stored, one JSON object per article in guid order: title, url, text, summary, extract note, topic, CVEs, exploited flag, actors with their mentions, and the
alias links learned (not the dates: the farm dates its entries from the time it is built). The
poll runs one page at a time in one process, so that the order of the articles is the same in
every run: links learned from one article apply to the later ones, and with a pool of workers
which worker saw what first varies from run to run. Run it before and after a change and compare:

    python bench/poll_outputs.py dump before.jsonl [--feeds 50] [--items 20]
    python bench/poll_outputs.py compare before.jsonl after.jsonl

(For "before", run the old tree: ``git worktree add /tmp/old main`` and ``PYTHONPATH=/tmp/old``.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import poll as bench  # bench/poll.py: the farm and its server


def dump(out: Path, feeds: int, items: int) -> None:
    from sqlalchemy import select

    from digest.config import load_config
    from digest.ingest.feedlist import FeedSpec
    from digest.ingest.poll import poll
    from digest.store import ActorLink, Article, ArticleActor, Store

    tmp = Path(tempfile.mkdtemp(prefix="digest-poll-outputs-"))
    port = bench.free_port()
    farm = tmp / "farm"
    bench.build_farm(farm, feeds, items, port)
    server = bench.serve(farm, port)
    try:
        # one page at a time into one process: the order of the articles, and so what the alias links
        # learned from earlier ones make of later ones, is the same in every run (with a pool it is not)
        path = bench.write_cfg(tmp / "c.toml", tmp / "c.db", fetch_pages=True, workers=1)
        path.write_text(path.read_text().replace("per_host_concurrency = 4", "per_host_concurrency = 1")
                        .replace("concurrency = 32", "concurrency = 1")
                        + '[summarizer]\nwhen = "poll"\n', encoding="utf-8")  # every summary, to compare them
        cfg = load_config(path, env={})
        store = Store.open(cfg)
        report = poll(store, cfg, feed_specs=[FeedSpec(u) for u in (farm / "feeds.txt").read_text().split()])
        print(report.summary(), file=sys.stderr)
        with store.session() as s:
            actors: dict[int, list[tuple[str, list[str]]]] = {}
            for aa in s.scalars(select(ArticleActor)):
                actors.setdefault(aa.article_id, []).append((aa.actor_id, list(aa.mentions)))
            guids = dict(s.execute(select(Article.id, Article.guid)).all())
            links = sorted(json.dumps([r.name_a, r.name_b, r.relation, r.vendor, guids.get(r.article_id), r.sentence])
                           for r in s.scalars(select(ActorLink)))
            with out.open("w", encoding="utf-8") as fh:
                for a in sorted(s.scalars(select(Article)), key=lambda a: a.guid):
                    fh.write(json.dumps({
                        "guid": a.guid, "url": a.url.replace(f":{port}/", ":PORT/"), "title": a.title,
                        "text": a.text, "summary": a.summary,
                        "note": a.extract_note, "topic": a.topic, "cves": a.cves, "exploited": a.exploited,
                        "actors": sorted(actors.get(a.id, []))}, sort_keys=True) + "\n")
                fh.write(json.dumps({"links": links}) + "\n")
        store.close()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def compare(a: Path, b: Path) -> int:
    left, right = a.read_text(encoding="utf-8").splitlines(), b.read_text(encoding="utf-8").splitlines()
    if len(left) != len(right):
        print(f"different article counts: {len(left) - 1} vs {len(right) - 1}")
    differ = 0
    for x, y in zip(left, right, strict=False):
        if x != y:
            differ += 1
            dx, dy = json.loads(x), json.loads(y)
            keys = [k for k in dx if dx.get(k) != dy.get(k)]
            if differ <= 5:
                print(f"{dx.get('guid', 'links')}: differs in {', '.join(keys)}")
    print(f"{len(left) - 1} articles compared: {differ} records differ")
    return 1 if differ or len(left) != len(right) else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump")
    d.add_argument("out", type=Path)
    d.add_argument("--feeds", type=int, default=50)
    d.add_argument("--items", type=int, default=20)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args()
    if args.cmd == "dump":
        dump(args.out, args.feeds, args.items)
    else:
        raise SystemExit(compare(args.a, args.b))


if __name__ == "__main__":
    main()
