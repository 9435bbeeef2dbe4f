"""Issue 14, precision: compare chaining guards and pair features on the DEV half only.

The same date-blocked 3-fold cross-validation as ``bench/train_stories.py`` (fit on two folds with
the 600 random dev-batch pairs as different, cluster the whole dev batch with its day's articles,
score the third fold's pairs), over a grid of pair threshold x linkage x stricter guard:

* ``support``: a share of the cross pairs of two groups must reach a probability level;
* ``diameter``: every cross pair's embedding cosine must reach a floor (complete linkage on the
  embedding).

Each design row prints the setting the training script would pick (closest to precision 0.97 and
recall 0.95) and, with ``-v``, the held-out errors. The test half is never read.
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
    L2,
    NOT_FITTED,
    WINDOW,
    best_setting,
    date_folds,
    fit,
    random_negatives,
    with_priors,
)

from digest.eval.pairs import distractors, load_real_items, load_real_pairs
from digest.intel.cluster import cluster_prepared
from digest.intel.story_features import FEATURES, PairScorer, StoryModel, prepare

THRESHOLDS = (0.4, 0.5, 0.6, 0.7)
LINKS = (0.05, 0.1, 0.2)
GUARDS = {  # name: (support, support_level, diameter, figure guard)
    "none": ((0.0, 0.0, 0.0, False),),
    "support": tuple((f, lv, 0.0, False) for f in (0.3, 0.5) for lv in (0.2, 0.5)),
    "diameter": tuple((0.0, 0.0, d, False) for d in (0.3, 0.4, 0.5)),
    "figures": ((0.0, 0.0, 0.0, True),),
    "figures+support": tuple((f, lv, 0.0, True) for f in (0.2, 0.3) for lv in (0.1, 0.2)),
    "figures+bridges": tuple((0.0, 0.0, 0.0, True, k) for k in (2, 3)),
    "bridges-wide": tuple((0.0, 0.0, 0.0, True, k, lv) for k in (2, 3, 4) for lv in (0.0, 0.3, 0.2)),
    "b3": ((0.0, 0.0, 0.0, True, 3, 0.0),),
    "b3-03": ((0.0, 0.0, 0.0, True, 3, 0.3),),
    "bridges-fine": tuple((0.0, 0.0, 0.0, True, k, lv) for k in (3,) for lv in (0.35, 0.4, 0.45)),
}
NEWER = ("figure_conflict_lede", "event_conflict", "emb_x_cos", "gap_x_emb")  # this round's features
DESIGNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # name: (features left out, guards)
    "shipped features, link only": (NEWER, ("none",)),
    "shipped features, + support": (NEWER, ("none", "support")),
    "shipped features, + diameter": (NEWER, ("none", "diameter")),
    **{f"+ {f}": (tuple(g for g in NEWER if g != f), ("none",)) for f in NEWER},
    "+ all four": ((), ("none",)),
    "shipped features + figure guard": (NEWER, ("figures",)),
    "all four + figure guard": ((), ("figures",)),
    **{f"+ {f} + figure guard": (tuple(g for g in NEWER if g != f), ("figures",)) for f in NEWER},
    "figure guard + support": (NEWER, ("figures", "figures+support")),
    "figure guard + bridges": (NEWER, ("figures", "figures+bridges")),
    "figure guard + bridges, wide": (NEWER, ("bridges-wide",)),
    "figure guard + bridges, fine": (NEWER, ("bridges-fine",)),
    "fig + 3 bridges, one": (NEWER, ("b3",)),
    "fig + 3 bridges at 0.3, one": (NEWER, ("b3-03",)),
    "fig + bridges, wide": (NEWER, ("figures", "bridges-wide")),
    "all four, fig + 3 bridges at 0.3, one": ((), ("b3-03",)),
    **{f"+ {f}, fig + 3 bridges at 0.3, one": (tuple(g for g in NEWER if g != f), ("b3-03",)) for f in NEWER},
}


def cross_validate(dev, docs, prepared, x, y, folds, extra, cols, grid):
    counts = {g: np.zeros(4, dtype=int) for g in grid}
    errors: dict[tuple, list[str]] = {g: [] for g in grid}
    for k in sorted(set(folds.tolist())):
        train = folds != k
        xt = np.vstack([x[train], extra])[:, cols]
        yt = np.concatenate([y[train], np.zeros(len(extra))])
        w, b = fit(xt, yt, l2=L2)
        full = with_priors(w, cols)
        for g in grid:
            th, link, sup, lvl, dia, figs, *rest = g
            model = StoryModel(tuple(full), b, th, link, True, support=sup, support_level=lvl, diameter=dia,
                               figure_guard=figs, bridges=rest[0] if rest else 0,
                               bridge_level=rest[1] if len(rest) > 1 else 0.0)
            where: dict[str, int] = {}
            for n, members in enumerate(cluster_prepared(docs, prepared, model=model)):
                for m in members:
                    where[m] = n
            for p, f in zip(dev, folds, strict=True):
                if f == k:
                    same = where[p["a"]] == where[p["b"]]
                    cell = 0 if p["same"] and same else 1 if same else 2 if p["same"] else 3
                    counts[g][cell] += 1
                    if cell in (1, 2):
                        errors[g].append(f"{'merged' if cell == 1 else 'missed'} {p['a']} / {p['b']} ({p['kind']})")
    return counts, errors


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
    for name, (left_out, guards) in DESIGNS.items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        cols = np.array([f not in left_out for f in FEATURES])
        ths, links = ((0.5,), (0.05,)) if "one" in name else ((0.45, 0.5), (0.05,)) if "fine" in name else ((0.35, 0.4, 0.45, 0.5, 0.55), (0.05,)) if "wide" in name else (THRESHOLDS, LINKS)
        grid = [(th, link, *gd) for th, link in itertools.product(ths, links)
                for gname in guards for gd in GUARDS[gname]]
        counts, errors = cross_validate(dev, docs, prepared, x, y, folds, extra, cols, grid)
        g, pr, rc = best_setting(counts)
        tp, fp, fn, _tn = counts[g]
        print(f"{name:40} {g}: precision {pr:.3f} recall {rc:.3f} (fp {fp}, fn {fn}) "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)
        if "-v" in sys.argv:
            for e in errors[g]:
                a, _, b = e.split(" ", 1)[1].split(" (")[0].partition(" / ")
                print(f"    {e}\n      {items[a].title}\n      {items[b].title}")
        if "-a" in sys.argv:
            for gg, (tp, fp, fn, _tn) in counts.items():
                print(f"    {gg}: P {tp / max(1, tp + fp):.3f} R {tp / max(1, tp + fn):.3f} fp {fp} fn {fn}")


if __name__ == "__main__":
    main()
