"""Train the same-story model on the dev half of the real-news pairs; write digest/intel/data/story_model.json.

Features are computed as clustering computes them: the dev pair articles and every other article
published within a day of them form one batch (the IDF comes from it). Logistic regression with a
light L2 penalty is fitted by Newton's method (numpy only). The pair threshold, the linkage and
the stricter chaining guards (the amounts of two groups, the number of bridges between two groups)
are chosen by date-blocked cross-validation on dev: the dev pairs are cut by date into three folds,
a model fitted on two folds clusters the whole dev batch and is scored on the third fold's pairs;
the most precise setting that keeps the cross-validated recall of the first round's setting
(``FIRST_ROUND``) wins, among the settings that keep the project's own 56 pairs at the bar the tests
set (``OWN_PAIRS_BAR``, with and without actor ids). (The first round took the setting closest to both targets, precision 0.97 and recall 0.95;
best F1 had picked threshold 0.6, precision 0.886, recall 0.950.) The final weights are then fitted on all dev pairs. The test
half is never read here. The plain TF-IDF baseline's threshold
is chosen the same way (best F1 on dev pairs alone) and stored beside the model, so that the
evaluation prints a baseline tuned as fairly. Run: ``.venv/bin/python bench/train_stories.py``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digest.eval.content import evaluate_pairs, load_pairs
from digest.eval.pairs import (
    _JULY_END,
    DEV_CUT_JULY,
    DEV_CUT_NDH,
    distractors,
    load_real_items,
    load_real_pairs,
)
from digest.intel.cluster import cluster_prepared
from digest.intel.story_features import FEATURES, MODEL_PATH, PairScorer, StoryModel, cos, prepare

WINDOW = 72 * 3600.0
# Entities the dev pairs cannot teach (general-press items name no CVE, and no actor ids are given):
# weights set by hand, as the earlier rules did (a shared CVE is strong evidence, different CVEs
# or different actors are strong evidence against). The shared-actor weight sits between what the
# project's own pairs allow (APT28, two operations two days apart, stay apart: < 1.7) and what the
# demo needs (one group under two vendors' names, little shared wording: > 1.4).
PRIORS = {"shared_cve": 3.0, "conflicting_cve": -4.0, "shared_actor": 1.55, "conflicting_actor": -2.5}


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton's method; the bias is not penalised."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    pen = np.full(xb.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        grad = xb.T @ (p - y) + pen * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def prf(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


# The outlet on its own is not fitted: the labelled same-outlet pairs are mostly rewrites (same story)
# and random pairs rarely share an outlet, so its weight came out positive (+1.7), and one feed's two
# unrelated items of a day (different headlines, a generic lede) were put together. The outlet acts
# only through its interactions: with the headline embedding and with headlines naming different
# subjects.
NOT_FITTED = ("same_source",)
L2 = 0.1  # the penalty; 1.0 and 10 measured worse in cross-validation (bench/story_designs.py)
# Issue 14, second round: only precision was short, so the setting is the most precise one that keeps
# the cross-validated recall of the first round's setting (threshold 0.5, link 0.05, no further guard),
# measured in the same run; without a floor, the setting closest to both targets (the first round's rule).
FIRST_ROUND = (0.5, 0.05, False, 0, 0.0)
FIRST_ROUND_NO_EMBEDDING = (0.4, 0.05, False, 0, 0.0)  # the first round's setting of the fallback model
# (pair threshold, link, amounts guard, bridges, bridge level): see bench/story_guards.py for the guards
GRID = (FIRST_ROUND, FIRST_ROUND_NO_EMBEDDING) + tuple(
    (th, link, True, bridges, level) for th in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7) for link in (0.05, 0.1)
    for bridges, level in ((0, 0.0), (2, 0.0), (3, 0.0), (2, 0.3), (3, 0.3), (4, 0.3)))


def with_priors(w: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
    """Full weight vector: fitted weights in ``cols`` (all when None), the hand-set priors on top."""
    full = np.zeros(len(FEATURES))
    if cols is None:
        full[:] = w
    else:
        full[cols] = w
    for name, value in PRIORS.items():
        full[FEATURES.index(name)] = value
    return full


def date_folds(dev: list[dict], items: dict, k: int = 3) -> np.ndarray:
    when = np.array([min(items[p["a"]].published.timestamp(), items[p["b"]].published.timestamp()) for p in dev])
    folds = np.zeros(len(dev), dtype=int)
    for n, chunk in enumerate(np.array_split(np.argsort(when), k)):
        folds[chunk] = n
    return folds


RANDOM_NEGATIVES = 600


def _dev_time(ts: float | None) -> bool:
    if ts is None:
        return False
    july = ts < _JULY_END.timestamp()
    return ts < (DEV_CUT_JULY if july else DEV_CUT_NDH).timestamp()


def random_negatives(prepared: list, n: int = RANDOM_NEGATIVES, seed: int = 14) -> tuple[list, list]:
    """Random pairs of dev-batch articles within the window, taken as different stories.

    The labelled pairs were picked by similarity, so they never show the model what most pairs of a
    batch look like: two cyber articles with a headline embedding cosine of 0.3-0.5 and a few words
    in common ("Hackers breach city water utility" and "Hackers breach regional airline"). Two random
    articles of a day are one story rarely (about 1 in 100 here, JLR and the airports being the big
    stories), so the label noise is small.
    """
    rng = np.random.default_rng(seed)
    idx = [k for k, p in enumerate(prepared) if _dev_time(p.ts)]  # dev side of both date cuts only
    ii: list[int] = []
    jj: list[int] = []
    while len(ii) < n:
        a, b = (int(v) for v in rng.choice(idx, 2, replace=False))
        if abs(prepared[a].ts - prepared[b].ts) <= WINDOW and not (prepared[a].roundup or prepared[b].roundup):
            ii.append(a)
            jj.append(b)
    return ii, jj


def cross_validate(dev: list[dict], docs: list, prepared: list, x: np.ndarray, y: np.ndarray, folds: np.ndarray, *,
                   cols: np.ndarray | None = None, l2: float = L2, use_embedding: bool = True,
                   grid: tuple = GRID, extra: np.ndarray | None = None,
                   errors: dict[tuple, list[str]] | None = None) -> dict[tuple[float, float], np.ndarray]:
    """Counts (tp, fp, fn, tn) per (threshold, link) on held-out folds, the whole dev batch clustered.

    ``errors``, when given, gets each setting's wrong pairs ("merged a / b (kind)", "missed ...")."""
    counts = {g: np.zeros(4, dtype=int) for g in grid}
    for k in sorted(set(folds.tolist())):
        train = folds != k
        xt, yt = x[train], y[train]
        if extra is not None:  # random negatives: trained on, never scored
            xt, yt = np.vstack([xt, extra]), np.concatenate([yt, np.zeros(len(extra))])
        xs = xt if cols is None else xt[:, cols]
        w, b = fit(xs, yt, l2=l2)
        full = with_priors(w, cols)
        for g in grid:
            th, link, *guard = g
            figs, bridges, level = guard or (False, 0, 0.0)
            model = StoryModel(tuple(full), b, th, link, use_embedding, figure_guard=figs, bridges=bridges,
                               bridge_level=level)
            where: dict[str, int] = {}
            for n, members in enumerate(cluster_prepared(docs, prepared, model=model)):
                for m in members:
                    where[m] = n
            for p, f in zip(dev, folds, strict=True):
                if f == k:
                    same = where[p["a"]] == where[p["b"]]
                    cell = 0 if p["same"] and same else 1 if same else 2 if p["same"] else 3
                    counts[g][cell] += 1
                    if errors is not None and cell in (1, 2):
                        errors.setdefault(g, []).append(
                            f"{'merged' if cell == 1 else 'missed'} {p['a']} / {p['b']} ({p['kind']})")
    return counts


TARGET = (0.97, 0.95)  # the precision and recall targets
OWN_PAIRS_BAR = (0.95, 0.9)  # the project's own 56 pairs (tests/data/story_pairs.jsonl) keep what the tests ask


def own_pairs_hold(model: StoryModel) -> bool:
    """Whether a setting keeps the project's own labelled pairs (paraphrases of July 2025 coverage, with
    and without actor ids) at the bar ``tests/test_cluster.py`` sets: a setting is chosen only among
    those (a lower threshold let the hand-set shared-actor prior merge APT28's two operations)."""
    pairs = load_pairs()
    for with_actors in (True, False):
        r = evaluate_pairs(pairs, with_actors=with_actors, model=model)
        if r.precision < OWN_PAIRS_BAR[0] or r.recall < OWN_PAIRS_BAR[1]:
            return False
    return True


def best_setting(counts: dict[tuple, np.ndarray], floor: float | None = None,
                 allowed: set[tuple] | None = None) -> tuple[tuple, float, float]:
    best = None
    for g, (tp, fp, fn, _tn) in counts.items():
        if allowed is not None and g not in allowed:
            continue
        pr = tp / (tp + fp) if tp + fp else 1.0
        rc = tp / (tp + fn) if tp + fn else 1.0
        if floor is None:
            key: tuple = (pr >= TARGET[0] and rc >= TARGET[1], min(pr / TARGET[0], rc / TARGET[1]), pr)
        else:
            key = (True, pr, rc) if rc >= floor - 1e-9 else (False, rc, pr)
        if best is None or key > best[0]:
            best = (key, g, pr, rc)
    assert best is not None
    return best[1], best[2], best[3]


def main() -> None:
    items = load_real_items()
    if not items:
        sys.exit("bench/train_stories.py: ../shared not found")
    dev = [p for p in load_real_pairs() if p["split"] == "dev"]
    keys = sorted({k for p in dev for k in (p["a"], p["b"])})
    batch = keys + distractors(keys, items)
    docs = [items[k].doc() for k in batch]
    y = np.array([1.0 if p["same"] else 0.0 for p in dev])
    folds = date_folds(dev, items)
    out: dict[str, object] = {}
    for variant, use_emb in (("with_embedding", True), ("without_embedding", False)):
        t0 = time.perf_counter()
        prepared = prepare(docs, use_embedding=use_emb)
        index = {p.id: n for n, p in enumerate(prepared)}
        scorer = PairScorer(prepared, WINDOW)
        x = scorer.features([index[p["a"]] for p in dev], [index[p["b"]] for p in dev])
        extra = scorer.features(*random_negatives(prepared))
        for name in PRIORS:
            assert not x[:, FEATURES.index(name)].any(), f"{name} has data now: learn it instead of the prior"
        for name in NOT_FITTED:
            x[:, FEATURES.index(name)] = 0.0
            extra[:, FEATURES.index(name)] = 0.0
        counts = cross_validate(dev, docs, prepared, x, y, folds, use_embedding=use_emb, extra=extra)
        tp0, _fp0, fn0, _tn0 = counts[FIRST_ROUND if use_emb else FIRST_ROUND_NO_EMBEDDING]
        floor = tp0 / (tp0 + fn0)
        w, b = fit(np.vstack([x, extra]), np.concatenate([y, np.zeros(len(extra))]), l2=L2)
        w = with_priors(w)
        allowed = {g for g in GRID if own_pairs_hold(StoryModel(tuple(w), b, g[0], g[1], use_emb, figure_guard=g[2],
                                                                bridges=g[3], bridge_level=g[4]))}
        (th, link, figs, bridges, level), pr, rc = best_setting(counts, floor, allowed)
        print(f"{variant}: weights " + ", ".join(f"{f} {v:+.2f}" for f, v in zip(FEATURES, w, strict=True))
              + f", bias {b:+.2f}")
        print(f"  {len(allowed)} of {len(GRID)} settings keep the project's own pairs at {OWN_PAIRS_BAR}")
        print(f"  cross-validated on dev: threshold {th}, link {link}, amounts guard {figs}, bridges {bridges} "
              f"at {level or th}: precision {pr:.3f} recall {rc:.3f} (first round's setting: recall {floor:.3f}) "
              f"({time.perf_counter() - t0:.0f} s)")
        out[variant] = StoryModel(tuple(round(float(v), 4) for v in w), round(b, 4), th, link, use_emb,
                                  figure_guard=figs, bridges=bridges, bridge_level=level,
                                  note=f"trained on {len(dev)} dev pairs ({int(y.sum())} same) and "
                                       f"{len(extra)} random dev-batch pairs as different; threshold and "
                                       f"guards by 3-fold date-blocked cross-validation on dev "
                                       f"(precision {pr:.3f}, recall {rc:.3f})").to_json()
    # the plain TF-IDF baseline: best F1 on dev pairs alone
    prepared_map = {p.id: p for p in prepare(docs, use_embedding=False)}
    s = np.array([cos(prepared_map[p["a"]].vec_all, prepared_map[p["b"]].vec_all) for p in dev])
    best_f1, best_t = -1.0, 0.3
    for t in np.arange(0.05, 0.9, 0.01):
        pr, rc = prf(s >= t, y)
        f1 = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
        if f1 > best_f1:
            best_f1, best_t = f1, round(float(t), 2)
    out["baseline_tfidf_threshold"] = best_t
    print(f"baseline TF-IDF threshold {best_t} (dev F1 {best_f1:.3f})")
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    MODEL_PATH.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {MODEL_PATH}")


if __name__ == "__main__":
    main()
