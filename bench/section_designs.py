"""Compare designs of the section model on the DEV half only, by date-blocked cross-validation.

The dev articles are cut by date into five blocks of consecutive ISO weeks; each design is fitted
on four blocks and scored on the fifth, so a fold's articles are never from the weeks it was fitted
on (date-blocked, unlike ``digest eval-editorial --train``'s interleaved week folds). Prints each
design's accuracy and, with ``-v``, its confusion matrix (rows gold, columns predicted). The test
half is read only with ``--test NAME`` (fit NAME on all of dev, print its test accuracy and
confusion matrix): every such run is one look at test and must be reported.

The features are cached in /tmp, or the file $SECTION_CACHE names (``--rebuild`` recomputes them).
Run: ``.venv/bin/python bench/section_designs.py [design ...] [-v] [--test NAME] [--install]``.
``--install`` writes the second pass's design (l2 1e-3, no class weights); the installed model now
comes from ``digest eval-editorial --train`` (:mod:`digest.eval.section_fit`, chosen by forward CV),
and ``bench/section_shift.py`` compares designs by forward CV too.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from section_variants import DESIGNS, Data, fit_predict

from digest.config import load_config
from digest.eval.editorial import SECTIONS, _dev_rows, load_gold

CACHE = Path(os.environ.get("SECTION_CACHE") or Path("/tmp") / f"section_designs_{ROOT.name}.pkl")


def _load(rebuild: bool) -> tuple[Data, Data]:
    if CACHE.is_file() and not rebuild:
        return pickle.loads(CACHE.read_bytes())
    config = load_config(None, env={})
    gold, _tops = load_gold()
    out = []
    for split in ("dev", "test"):
        t0 = time.perf_counter()
        rows = [r for r in _dev_rows(config, [g for g in gold if g.split == split]) if r.gold.section in SECTIONS]
        out.append(Data([r.gold for r in rows], np.vstack([r.x for r in rows])))
        print(f"{split}: {len(rows)} articles' features in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    dev, test = out
    CACHE.write_bytes(pickle.dumps((dev, test)))
    return dev, test


def date_blocks(data: Data, folds: int = 5) -> list[int]:
    """A fold per article: the dev weeks in date order, cut into ``folds`` blocks of near-equal size."""
    order = sorted(range(len(data.golds)), key=lambda i: (data.golds[i].published or 0, data.golds[i].key))
    fold_of = [0] * len(order)
    weeks = []
    for i in order:
        w = data.golds[i].week
        if not weeks or weeks[-1] != w:
            weeks.append(w)
    week_fold: dict[str, int] = {}
    n, acc = len(order), 0
    per_week = {w: sum(1 for g in data.golds if g.week == w) for w in weeks}
    for w in weeks:
        week_fold[w] = min(folds - 1, int(acc * folds / n))
        acc += per_week[w]
    for i in order:
        fold_of[i] = week_fold[data.golds[i].week]
    return fold_of


def confusion(gold: list[str], pred: list[str]) -> str:
    head = "gold\\pred  " + " ".join(f"{s[:6]:>6}" for s in SECTIONS) + "  recall"
    lines = [head]
    for g in SECTIONS:
        row = [sum(1 for a, b in zip(gold, pred) if a == g and b == p) for p in SECTIONS]
        tot = sum(row)
        lines.append(f"{g:10} " + " ".join(f"{c:>6}" for c in row) + f"  {row[SECTIONS.index(g)] / max(tot, 1):.2f}")
    prec = []
    for p in SECTIONS:
        col = sum(1 for b in pred if b == p)
        prec.append(sum(1 for a, b in zip(gold, pred) if a == b == p) / max(col, 1))
    lines.append("precision  " + " ".join(f"{q:>6.2f}" for q in prec))
    return "\n".join(lines)


def cross_validate(name: str, dev: Data, fold_of: list[int]) -> list[str]:
    pred = [""] * len(dev.golds)
    for f in sorted(set(fold_of)):
        tr = [i for i, k in enumerate(fold_of) if k != f]
        te = [i for i, k in enumerate(fold_of) if k == f]
        for i, p in zip(te, fit_predict(name, dev.subset(tr), dev.subset(te))):
            pred[i] = p
    return pred


def main() -> None:
    args = sys.argv[1:]
    verbose = "-v" in args
    test_name = args[args.index("--test") + 1] if "--test" in args else None
    dev, test = _load("--rebuild" in args)
    ys = [g.section or "other" for g in dev.golds]
    fold_of = date_blocks(dev)
    if "--install" in args:
        # the installed design: words + rules + embedding, l2 1e-3, fitted on all of dev; the ad restriction
        # and the exploited override live in digest.intel.section_model.decide
        import json

        from digest.intel import section_model as sm

        name = "ads -> other/industry + both exploited overrides"
        acc = sum(a == b for a, b in zip(ys, cross_validate(name, dev, fold_of))) / len(ys)
        model = sm.train(dev.x, ys, l2=1e-3)
        model["design"] = f"words + rules + embedding (l2 0.001); {name}"
        model["dev_cv_accuracy"] = round(acc, 4)
        sm.MODEL_PATH.write_text(json.dumps(model, separators=(",", ":")), encoding="utf-8")
        print(f"installed {model['design']!r}, dev date-blocked CV {acc:.3f}, {len(ys)} dev articles")
        return
    if test_name:
        pred = fit_predict(test_name, dev, test)
        gold = [g.section or "other" for g in test.golds]
        acc = sum(a == b for a, b in zip(gold, pred)) / len(gold)
        print(f"TEST LOOK: design {test_name!r} fitted on all of dev: test accuracy {acc:.3f} ({len(gold)})")
        print(confusion(gold, pred))
        return
    only = [a for a in args if not a.startswith("-") and a in DESIGNS]
    for name in only or DESIGNS:
        t0 = time.perf_counter()
        pred = cross_validate(name, dev, fold_of)
        acc = sum(a == b for a, b in zip(ys, pred)) / len(ys)
        print(f"{name:40} dev date-blocked CV {acc:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if verbose:
            print(confusion(ys, pred))
            if "--errors" in args:
                for g, p in zip(dev.golds, pred):
                    if p != g.section:
                        print(f"  {g.key[:40]:40} gold {g.section:10} pred {p:10} {g.title[:90]}")


if __name__ == "__main__":
    main()
