"""Compare designs of the same-story decision on the DEV half only (date-blocked cross-validation).

The dev pairs are cut by date into three folds; each design (a feature subset, a penalty) is
trained on two folds and scored on the third, with the whole dev batch (pairs plus every article
within a day of them) clustered at once, as in production. Only the held-out fold's labels are
counted, so a design is judged on pairs it was not fitted on. The test half is never read.
Run: ``.venv/bin/python bench/story_designs.py [design ...] [-v]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_stories import WINDOW, best_setting, cross_validate, date_folds

from digest.eval.pairs import distractors, load_real_items, load_real_pairs
from digest.intel.story_features import FEATURES, PairScorer, prepare

NEW = {"emb_cross", "same_source_title", "template", "both_miss", "same_source_both_miss"}
BASE = [f for f in FEATURES if f not in NEW]
DESIGNS: dict[str, tuple[list[str], float]] = {
    "earlier features, L2 1": (BASE, 1.0),
    "+ cross embedding": (BASE + ["emb_cross"], 1.0),
    "+ same outlet x headline": (BASE + ["same_source_title"], 1.0),
    "+ template": (BASE + ["template"], 1.0),
    "all, L2 1": (list(FEATURES), 1.0),
    "all, L2 0.1": (list(FEATURES), 0.1),
    "all, L2 10": (list(FEATURES), 10.0),
    "all but both_miss, L2 0.1": ([f for f in FEATURES if f not in ("both_miss", "same_source_both_miss")], 0.1),
}


def main() -> None:
    items = load_real_items()
    dev = [p for p in load_real_pairs() if p["split"] == "dev"]
    keys = sorted({k for p in dev for k in (p["a"], p["b"])})
    docs = [items[k].doc() for k in keys + distractors(keys, items)]
    t0 = time.perf_counter()
    prepared = prepare(docs, use_embedding=True)
    print(f"{len(dev)} dev pairs, batch of {len(docs)} prepared in {time.perf_counter() - t0:.1f} s")
    index = {p.id: n for n, p in enumerate(prepared)}
    x = PairScorer(prepared, WINDOW).features([index[p["a"]] for p in dev], [index[p["b"]] for p in dev])
    y = np.array([1.0 if p["same"] else 0.0 for p in dev])
    folds = date_folds(dev, items)
    only = {a for a in sys.argv[1:] if not a.startswith("-")}
    for name, (cols, l2) in DESIGNS.items():
        if only and name not in only:
            continue
        mask = np.array([f in cols for f in FEATURES])
        counts = cross_validate(dev, docs, prepared, x, y, folds, cols=mask, l2=l2)
        (th, link, *guard), pr, rc = best_setting(counts)
        print(f"{name:28} best threshold {th} link {link} guards {guard}: precision {pr:.3f} recall {rc:.3f}")
        if "-v" in sys.argv:
            for g, (tp, fp, fn, _tn) in counts.items():
                print(f"    {g}: tp {tp} fp {fp} fn {fn}")


if __name__ == "__main__":
    main()
