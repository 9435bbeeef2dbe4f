"""Benchmark: summarize and cluster 1,000 articles on one core (target: under 5 s).

The articles are built from real text in ``../shared/corpus`` (AnnoCTR train reports, the feed
snapshots): each has a real headline and 15-40 real sentences in paragraphs, with a boilerplate
line or two, published over ten days, and about one in four is a rewrite of another article by a
second outlet (so clustering has real work to do). Run: ``.venv/bin/python bench/content.py [N]``.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.eval.content import load_corpus
from digest.intel.cluster import ClusterDoc, cluster
from digest.intel.story_features import embedder, load_model
from digest.intel.summarize import extractive_summary
from digest.intel.text import split_sentences

SHARED = ROOT.parent / "shared"
BOILERPLATE = ["Subscribe to our newsletter", "Share on X", "Advertisement", "Related articles",
               "Image: Getty Images", "Copyright 2025 Example Media. All rights reserved."]


def build_articles(n: int, seed: int = 7) -> list[tuple[str, str, str, datetime]]:
    """(id, title, text, published) for ``n`` articles made of real corpus sentences."""
    rng = random.Random(seed)
    sentences: list[str] = []
    for path in sorted((SHARED / "corpus" / "annoctr" / "text" / "train").glob("*.txt")):
        sentences.extend(s for s in split_sentences(path.read_text(encoding="utf-8")) if len(s.split()) > 6)
    items = load_corpus(SHARED)
    titles = [it.title for it in items if it.title]
    for it in items:
        sentences.extend(s for s in split_sentences(it.text) if len(s.split()) > 6)
    start = datetime(2025, 7, 14, tzinfo=UTC)
    out: list[tuple[str, str, str, datetime]] = []
    for i in range(n):
        when = start + timedelta(minutes=rng.randrange(10 * 24 * 60))
        if out and rng.random() < 0.25:
            _id, title, text, base = rng.choice(out)
            paras = text.split("\n\n")
            rng.shuffle(paras[1:])
            out.append((f"a{i}", title + " (update)", "\n\n".join(paras), base + timedelta(hours=rng.randrange(30))))
            continue
        body = rng.sample(sentences, rng.randrange(15, 40))
        paras = [" ".join(body[k:k + 4]) for k in range(0, len(body), 4)]
        if rng.random() < 0.5:
            paras.insert(rng.randrange(len(paras)), rng.choice(BOILERPLATE))
        out.append((f"a{i}", rng.choice(titles), "\n\n".join(paras), when))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    if not (SHARED / "corpus").is_dir():
        print(f"bench/content.py: {SHARED} not found; nothing to measure")
        return
    articles = build_articles(n)
    words = sum(len(t.split()) for _i, _ti, t, _w in articles)
    tl = time.perf_counter()
    load_model()
    embedder()  # loading the embedding model happens once per process
    t0 = time.perf_counter()
    summaries = [extractive_summary(title, text) for _i, title, text, _w in articles]
    t1 = time.perf_counter()
    docs = [ClusterDoc(i, title, text, f"src{k % 12}", when) for k, (i, title, text, when) in enumerate(articles)]
    stories = cluster(docs)
    t2 = time.perf_counter()
    print(f"{n} articles ({words // n} words on average), one process:")
    print(f"  summarize  {t1 - t0:6.2f} s  ({1000 * (t1 - t0) / n:.2f} ms/article, "
          f"{sum(1 for s in summaries if s)} summaries)")
    print(f"  cluster    {t2 - t1:6.2f} s  ({len(stories)} stories; "
          f"{'with' if embedder() is not None else 'without'} the embedding)")
    print(f"  total      {t2 - t0:6.2f} s  (target < 5 s)")
    print(f"  (once per process: loading the story model and embedding {t0 - tl:.2f} s)")


if __name__ == "__main__":
    main()
