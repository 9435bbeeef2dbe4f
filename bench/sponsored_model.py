"""Compare sponsored designs (rules, a learned model over words, both) on the DEV half only.

Time-ordered cross-validation: the dev items in date order cut into six blocks of consecutive ISO
weeks; block k (k = 1..5) is scored by a model fitted on blocks 0..k-1 only (forward chaining, as the
test half is later months than dev); the pooled precision, recall and F1 over blocks 1..5 are
printed, and date-blocked 5-fold figures beside them ("blocked": each block scored by a model fitted
on the other four). The rules were written from the dev misses, so their dev figures are in-sample
in every fold; the model's extra hits are not.

``--install NAME`` fits NAME on all of dev and writes ``digest/intel/data/sponsored_model.json``.
``--test NAME`` prints NAME's test figures (one look at test: count it). Features are cached in /tmp.
Run: ``.venv/bin/python bench/sponsored_model.py [-v] [--install NAME] [--test NAME]``.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.eval.editorial import load_gold
from digest.intel import sponsored_model as sm
from digest.intel.sponsored import sponsored

CACHE = Path("/tmp") / f"sponsored_model_{ROOT.name}.pkl"
RULE_COLS = slice(2 * sm.DIM, 2 * sm.DIM + sm.RULES + 3)


def _word_cols(x: np.ndarray) -> np.ndarray:
    """The words and the outlet, without the rules."""
    return np.hstack([x[:, : 2 * sm.DIM], x[:, 2 * sm.DIM + sm.RULES + 3:]])

# name -> (columns, l2, threshold, combine, positive weight, iterations): combine "or" = the rules OR the model
DESIGNS: dict[str, tuple[str, float, float, str, float, int]] = {}
for _l2 in (1e-4, 1e-3):
    for _pw in (1.0, 4.0):
        for _t in (0.5, 0.7):
            DESIGNS[f"words l2={_l2:g} pw={_pw:g} t={_t}"] = ("words", _l2, _t, "model", _pw, 500)
            DESIGNS[f"rules OR words l2={_l2:g} pw={_pw:g} t={_t}"] = ("words", _l2, _t, "or", _pw, 500)
            DESIGNS[f"words+rules l2={_l2:g} pw={_pw:g} t={_t}"] = ("all", _l2, _t, "model", _pw, 500)


def _load(rebuild: bool) -> dict[str, tuple[list, np.ndarray, np.ndarray, np.ndarray]]:
    if CACHE.is_file() and not rebuild:
        return pickle.loads(CACHE.read_bytes())
    gold, _ = load_gold()
    out = {}
    for split in ("dev", "test"):
        gs = sorted((g for g in gold if g.split == split and g.sponsored is not None),
                    key=lambda g: (g.published, g.key))
        x = np.vstack([sm.features(g.title, g.text, g.source) for g in gs])
        y = np.array([bool(g.sponsored) for g in gs])
        rules = np.array([sponsored(g.title, g.text) for g in gs])
        out[split] = ([(g.key, g.week, g.title) for g in gs], x, y, rules)
    CACHE.write_bytes(pickle.dumps(out))
    return out


def _cols(x: np.ndarray, which: str) -> np.ndarray:
    if which == "words":
        return _word_cols(x)
    if which == "rules":
        return x[:, RULE_COLS]
    return x


def blocks(weeks: list[str], k: int) -> np.ndarray:
    """A block per item (items in date order): consecutive weeks cut into ``k`` blocks of near-equal size."""
    order = list(dict.fromkeys(weeks))
    per = {w: weeks.count(w) for w in order}
    fold, seen = {}, 0
    for w in order:
        fold[w] = min(k - 1, seen * k // len(weeks))
        seen += per[w]
    return np.array([fold[w] for w in weeks])


def predict(design: str, xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, rte: np.ndarray) -> np.ndarray:
    cols, l2, t, combine, pw, epochs = DESIGNS[design]
    model = sm.train(_cols(xtr, cols), ytr, l2=l2, pos_weight=pw, epochs=epochs)
    p = sm.score(model, _cols(xte, cols)) >= t
    return (p | rte) if combine == "or" else p


def prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float, float, int, int, int]:
    tp, fp, fn = int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum())
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return p, r, 2 * p * r / max(p + r, 1e-9), tp, fp, fn


def cv(design: str | None, x: np.ndarray, y: np.ndarray, rules: np.ndarray, weeks: list[str]) -> tuple[str, str]:
    fwd = blocks(weeks, 6)
    mask = fwd > 0
    pred = np.zeros_like(y)
    for k in range(1, 6):
        te, tr = fwd == k, fwd < k
        pred[te] = rules[te] if design is None else predict(design, x[tr], y[tr], x[te], rules[te])
    a = prf(pred[mask], y[mask])
    blk = blocks(weeks, 5)
    pred2 = np.zeros_like(y)
    for k in range(5):
        te = blk == k
        pred2[te] = rules[te] if design is None else predict(design, x[~te], y[~te], x[te], rules[te])
    b = prf(pred2, y)
    fmt = "P {:.3f} R {:.3f} F1 {:.3f} ({}/{}/{})"
    return fmt.format(*a), fmt.format(*b)


def main() -> None:
    data = _load("--rebuild" in sys.argv)
    meta, x, y, rules = data["dev"]
    weeks = [w for _k, w, _t in meta]
    print(f"dev: {len(y)} items, {int(y.sum())} sponsored; forward-chaining over 6 time blocks (scored 1..5) "
          "| date-blocked 5-fold (all); figures P R F1 (tp/fp/fn)")
    if "--install" in sys.argv or "--test" in sys.argv:
        flag = "--install" if "--install" in sys.argv else "--test"
        name = sys.argv[sys.argv.index(flag) + 1]
        cols, l2, t, combine, pw, epochs = DESIGNS[name]
        if cols == "rules":
            raise SystemExit("a rules-only design is not installable")
        xm = x.copy()
        if cols == "words":  # the runtime reads every column: the rules' get zero weight
            xm[:, RULE_COLS] = 0.0
        model = sm.train(xm, y, l2=l2, threshold=t, pos_weight=pw, epochs=epochs, combine=combine)
        model["design"] = name
        if flag == "--install":
            sm.MODEL_PATH.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
            print(f"installed {name} -> {sm.MODEL_PATH}")
        else:
            _m, xt, yt, rt = data["test"]
            print("TEST rules alone: P {:.3f} R {:.3f} F1 {:.3f} ({}/{}/{})".format(*prf(rt, yt)))
            pred = sm.score(model, xt) >= t
            pred = (pred | rt) if combine == "or" else pred
            print(f"TEST {name}: " + "P {:.3f} R {:.3f} F1 {:.3f} ({}/{}/{})".format(*prf(pred, yt)))
        return
    print(f"{'rules alone':42} fwd {cv(None, x, y, rules, weeks)[0]} | blocked {cv(None, x, y, rules, weeks)[1]}")
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
    names = [a for a in sys.argv[1:] if a in DESIGNS] or [d for d in DESIGNS if only in d]
    for name in names:
        a, b = cv(name, x, y, rules, weeks)
        print(f"{name:42} fwd {a} | blocked {b}", flush=True)


if __name__ == "__main__":
    main()
