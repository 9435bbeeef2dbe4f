"""Train the same-story model on the dev half of the real-news pairs; write digest/intel/data/story_model.json.

Features are computed as clustering computes them: the dev pair articles and every other article
published within a day of them form one batch (the IDF comes from it). Logistic regression with a
light L2 penalty is fitted by Newton's method (numpy only). The pair threshold and the linkage
(chaining guard) are then chosen on dev, clustered with its distractors: the best F1 whose
precision is at least 0.95. The test half is never read here. The plain TF-IDF baseline's threshold
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

from digest.eval.pairs import distractors, evaluate_real_pairs, load_real_items, load_real_pairs
from digest.intel.cluster import cluster
from digest.intel.story_features import FEATURES, MODEL_PATH, StoryModel, cos, features, prepare

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


def main() -> None:
    items = load_real_items()
    if not items:
        sys.exit("bench/train_stories.py: ../shared not found")
    dev = [p for p in load_real_pairs() if p["split"] == "dev"]
    keys = sorted({k for p in dev for k in (p["a"], p["b"])})
    batch = keys + distractors(keys, items)
    docs = [items[k].doc() for k in batch]
    y = np.array([1.0 if p["same"] else 0.0 for p in dev])
    out: dict[str, object] = {}
    for variant, use_emb in (("with_embedding", True), ("without_embedding", False)):
        prepared = {p.id: p for p in prepare(docs, use_embedding=use_emb)}
        x = np.array([features(prepared[p["a"]], prepared[p["b"]], WINDOW) for p in dev])
        if not use_emb:
            x[:, FEATURES.index("embedding")] = 0.0
            x[:, FEATURES.index("embedding_title")] = 0.0
        w, b = fit(x, y)
        for name, value in PRIORS.items():
            assert not x[:, FEATURES.index(name)].any(), f"{name} has data now: learn it instead of the prior"
            w[FEATURES.index(name)] = value
        probs = 1 / (1 + np.exp(-(x @ w + b)))
        print(f"{variant}: weights " + ", ".join(f"{f} {v:+.2f}" for f, v in zip(FEATURES, w, strict=True))
              + f", bias {b:+.2f}")
        best: tuple[float, float, float, float] | None = None
        for th in (0.3, 0.4, 0.5, 0.6, 0.7):
            pr, rc = prf(probs >= th, y)
            print(f"  pairs alone, threshold {th}: precision {pr:.3f} recall {rc:.3f}")
        for th in (0.7, 0.8, 0.85, 0.9):
            for link in (0.05, 0.1, 0.2):
                model = StoryModel(tuple(float(v) for v in w), b, th, link, use_emb)
                t0 = time.perf_counter()
                r, _n = evaluate_real_pairs(dev, items, cluster_fn=lambda d, m=model: cluster(d, model=m))
                print(f"  with distractors, threshold {th} link {link}: precision {r.precision:.3f} "
                      f"recall {r.recall:.3f} ({time.perf_counter() - t0:.1f} s)")
                f1 = 2 * r.precision * r.recall / (r.precision + r.recall) if r.tp else 0.0
                score = (r.precision >= 0.95, f1, r.precision)
                if best is None or score > best[:3]:
                    best = (*score, th, link)  # type: ignore[assignment]
        assert best is not None
        th, link = best[3], best[4]
        out[variant] = StoryModel(tuple(round(float(v), 4) for v in w), round(b, 4), th, link, use_emb,
                                  note=f"trained on {len(dev)} dev pairs ({int(y.sum())} same)").to_json()
        print(f"  chosen: threshold {th}, link {link}")
    # the plain TF-IDF baseline: best F1 on dev pairs alone
    prepared = {p.id: p for p in prepare(docs, use_embedding=False)}
    s = np.array([cos(prepared[p["a"]].vec_all, prepared[p["b"]].vec_all) for p in dev])
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
