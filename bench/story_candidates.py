"""Candidate pairs for labelling same-story pairs of real news (prints them; labelling is by reading).

Pairs of articles of ``../shared`` within a week of each other, ranked by TF-IDF cosine of title
and description, plus pairs that share a CVE or a rare capitalised name at lower cosine (the hard
negatives: same product or victim, different event). Run:
``.venv/bin/python bench/story_candidates.py [--min 0.15] [--days 7] [--corpus ndh|july]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.eval.pairs import load_real_items, split_for
from digest.intel.text import content_tokens


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min", type=float, default=0.15)
    ap.add_argument("--days", type=float, default=7)
    ap.add_argument("--corpus", default="ndh")
    args = ap.parse_args()
    items = [it for k, it in load_real_items().items()
             if (k.startswith("ndh:") if args.corpus == "ndh" else not k.startswith("ndh:")) and it.published]
    items.sort(key=lambda it: it.published)
    toks = [Counter(content_tokens(f"{it.title} {it.title} {it.text[:600]}")) for it in items]
    df: Counter[str] = Counter()
    for t in toks:
        df.update(t.keys())
    n = len(items)
    vecs = []
    for t in toks:
        v = {w: (1 + math.log(c)) * math.log((n + 1) / (df[w] + 0.5)) for w, c in t.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vecs.append({w: x / norm for w, x in v.items()})
    out = []
    for i in range(n):
        for j in range(i + 1, n):
            if (items[j].published - items[i].published).total_seconds() > args.days * 86400:
                break
            a, b = vecs[i], vecs[j]
            s = sum(x * b.get(w, 0.0) for w, x in a.items())
            if s >= args.min:
                out.append((s, i, j))
    out.sort(reverse=True)
    for s, i, j in out:
        a, b = items[i], items[j]
        gap = (b.published - a.published).total_seconds() / 3600
        print(f"{s:.2f} {split_for(a, b)} gap {gap:.0f}h  {a.key} | {b.key}")
        for it in (a, b):
            desc = "" if it.text[:60] == it.title[:60] else " || " + it.text[:160].replace("\n", " ")
            print(f"   [{it.source[:18]}] {it.title[:150]}{desc}")


if __name__ == "__main__":
    main()
