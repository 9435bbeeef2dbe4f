"""Issue 14, precision: compare chaining guards and pair features on the DEV half only.

The same date-blocked 3-fold cross-validation as ``bench/train_stories.py`` (fit on two folds with
the 600 random dev-batch pairs as different, cluster the whole dev batch with its day's articles,
score the third fold's pairs), over a grid of pair threshold x linkage x stricter guard:

* amounts: two groups whose headlines each agree on an amount (two or more headlines carry it) and
  whose articles never mention the other's amount stay apart;
* bridges: two groups of two or more articles merge only through several cross pairs above a
  probability level (one strong pair between two groups is a chain).

Each row prints the setting the training script would pick (the best precision among settings
that keep the recall of the first round's setting) and, with ``-v``, the held-out errors, with ``-a`` every
setting. ``RANDOM_NEGATIVES=n`` changes the number of random pairs. (Also measured in this round,
at commit 46ce986 of the harness: a share of strong cross pairs, an embedding diameter and four
more pair features; docs/content.md has the figures.) The test half is never read.
Run: ``.venv/bin/python bench/story_guards.py [design ...] [-v]``.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_stories import (
    FIRST_ROUND,
    NOT_FITTED,
    WINDOW,
    best_setting,
    cross_validate,
    date_folds,
    random_negatives,
)

from digest.eval.pairs import distractors, load_real_items, load_real_pairs
from digest.intel.story_features import FEATURES, PairScorer, prepare

THRESHOLDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
LINKS = (0.05, 0.1)
GUARDS = {  # name: ((figure guard, bridges, bridge level), ...)
    "average linkage only": ((False, 0, 0.0),),
    "+ amounts of two groups": ((True, 0, 0.0),),
    "+ amounts + bridges": tuple((True, k, lv) for k in (2, 3, 4) for lv in (0.0, 0.3, 0.2)),
    "bridges alone": tuple((False, k, lv) for k in (2, 3, 4) for lv in (0.0, 0.3, 0.2)),
}


def main() -> None:
    items = load_real_items()
    dev = [p for p in load_real_pairs() if p["split"] == "dev"]
    keys = sorted({k for p in dev for k in (p["a"], p["b"])})
    docs = [items[k].doc() for k in keys + distractors(keys, items)]
    prepared = prepare(docs, use_embedding=True)
    index = {p.id: n for n, p in enumerate(prepared)}
    scorer = PairScorer(prepared, WINDOW)
    x = scorer.features([index[p["a"]] for p in dev], [index[p["b"]] for p in dev])
    extra = scorer.features(*random_negatives(prepared, n=int(os.environ.get("RANDOM_NEGATIVES", "600"))))
    for name in NOT_FITTED:
        x[:, FEATURES.index(name)] = 0.0
        extra[:, FEATURES.index(name)] = 0.0
    y = np.array([1.0 if p["same"] else 0.0 for p in dev])
    folds = date_folds(dev, items)
    only = {a for a in sys.argv[1:] if not a.startswith("-")}
    for name, guards in GUARDS.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        cols = np.ones(len(FEATURES), dtype=bool)
        grid = [FIRST_ROUND] + [(th, link, *gd) for th, link in itertools.product(THRESHOLDS, LINKS) for gd in guards]
        grid = list(dict.fromkeys(grid))
        errors: dict[tuple, list[str]] = {}
        counts = cross_validate(dev, docs, prepared, x, y, folds, cols=cols, grid=grid, extra=extra,
                                errors=errors)
        tp0, _fp0, fn0, _tn0 = counts[FIRST_ROUND]
        g, pr, rc = best_setting(counts, tp0 / (tp0 + fn0))
        tp, fp, fn, _tn = counts[g]
        print(f"{name:40} {g}: precision {pr:.3f} recall {rc:.3f} (fp {fp}, fn {fn}) "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)
        if "-v" in sys.argv:
            for e in errors.get(g, []):
                a, _, b = e.split(" ", 1)[1].split(" (")[0].partition(" / ")
                print(f"    {e}\n      {items[a].title}\n      {items[b].title}")
        if "-a" in sys.argv:
            for gg, (tp, fp, fn, _tn) in counts.items():
                print(f"    {gg}: P {tp / max(1, tp + fp):.3f} R {tp / max(1, tp + fn):.3f} fp {fp} fn {fn}")


if __name__ == "__main__":
    main()
