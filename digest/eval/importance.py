"""Fitting the importance weights on the dev half (``digest eval-editorial --train``).

Importance is a weighted sum of features (:func:`digest.intel.editorial.importance_features`):
attribution, exploitation, source kind, advisories, scale, recency, the number of outlets, the
article's section, and the embedding's reading of the headline and lede. The target is the
annotators' importance label (1-3), plus one for an article of a week's hand-picked top story.

Two stages, so the embedding's 256 weights cannot learn the labels they are scored on:

1. a ridge regression from the embedding block to the label, its strength chosen by week-blocked
   cross-validation; its out-of-fold predictions become the ``embedding`` feature;
2. a ridge regression of the label on all features with signs held: what the issue names as
   raising importance (attribution, exploitation, outlets, advisories, scale, victims of note) may
   not count against an article, nor staleness for it; the section and the source kinds are free.

The embedding ridge is then refitted on all of dev and shipped beside the weights.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

_FREE_SIGN = {"vendor", "research", "long_text"}
EMB_L2 = (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def _folds(weeks: Sequence[str], folds: int = 5) -> Any:
    import numpy as np

    order = sorted(set(weeks))
    return np.array([order.index(w) % folds for w in weeks])


def _emb_ridge(e: Any, y: Any, lam: float) -> tuple[Any, float]:
    """Weights and bias of a ridge from embedding rows to y (label scale: the bias absorbs the means)."""
    import numpy as np

    mu, ym = e.mean(axis=0), y.mean()
    ec = e - mu
    w = np.linalg.solve(ec.T @ ec + lam * np.eye(e.shape[1]), ec.T @ (y - ym))
    return w, float(ym - mu @ w)


def _oof_embedding(e: Any, y: Any, fold: Any, lam: float) -> Any:
    import numpy as np

    out = np.zeros(len(y))
    for f in sorted(set(fold.tolist())):
        tr, te = fold != f, fold == f
        w, b = _emb_ridge(e[tr], y[tr], lam)
        out[te] = e[te] @ w + b
    return out


def _signed_ridge(x: Any, y: Any, names: Sequence[str], lam: float) -> Any:
    """Ridge on standardised features with the sign bounds above; the weights on the raw features."""
    import numpy as np
    from scipy.optimize import lsq_linear

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mu) / sd
    free = [k in _FREE_SIGN or k.startswith("topic_") for k in names]
    lower = [-np.inf if f or k == "recency_days" else 0.0 for k, f in zip(names, free)]
    upper = [0.0 if k == "recency_days" else np.inf for k in names]
    a_mat = np.vstack([z, math.sqrt(lam) * np.eye(len(names))])
    b_vec = np.concatenate([y - y.mean(), np.zeros(len(names))])
    coef = lsq_linear(a_mat, b_vec, bounds=(lower, upper)).x
    w = coef / sd
    return w, float(y.mean() - (w * mu).sum())


def concordance(score: Sequence[float], label: Sequence[float], weeks: Sequence[str]) -> float:
    """Of the pairs of one week with different labels, the share the score orders the same way (ties half)."""
    import numpy as np

    s_all, y_all, w_all = np.asarray(score), np.asarray(label), np.asarray(weeks)
    num = den = 0.0
    for w in sorted(set(weeks)):
        m = w_all == w
        s, t = s_all[m], y_all[m]
        dy = np.sign(t[:, None] - t[None, :])
        ds = np.sign(s[:, None] - s[None, :])
        mask = dy != 0
        num += float(((ds * dy)[mask] > 0).sum() + 0.5 * ((ds[mask]) == 0).sum())
        den += float(mask.sum())
    return num / den if den else 0.0


def fit_importance(feats: Sequence[dict[str, float]], embs: Any, labels: Sequence[float], weeks: Sequence[str],
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """The importance model (the JSON object data/importance_weights.json holds) fitted on dev rows.

    ``feats`` are :func:`importance_features` (with ``outlets``; topic one-hots set, ``embedding``
    ignored), ``embs`` the embedding blocks, ``labels`` the targets, ``weeks`` the CV blocks.
    """
    import numpy as np

    from digest.intel.editorial import DEFAULT_WEIGHTS

    names = [k for k in DEFAULT_WEIGHTS if k != "bias"]
    y = np.asarray(labels, dtype=np.float64)
    e = np.asarray(embs, dtype=np.float64)
    fold = _folds(weeks)
    lam_rows = 0.1 * len(y)
    emb_cv = {lam: float(np.mean((_oof_embedding(e, y, fold, lam) - y) ** 2)) for lam in EMB_L2}
    lam_e = min(emb_cv, key=lambda k: emb_cv[k])
    oof = _oof_embedding(e, y, fold, lam_e)
    x = np.array([[oof[i] if k == "embedding" else f.get(k, 0.0) for k in names] for i, f in enumerate(feats)])

    def cv_score(cols: Sequence[str]) -> float:
        idx = [names.index(c) for c in cols]
        pred = np.zeros(len(y))
        for f in sorted(set(fold.tolist())):
            tr, te = fold != f, fold == f
            w, b = _signed_ridge(x[tr][:, idx], y[tr], cols, lam_rows)
            pred[te] = x[te][:, idx] @ w + b
        return concordance(pred, y, weeks)

    plain = [k for k in names if not k.startswith("topic_") and k != "embedding"]
    designs = {"features": plain, "features + section": [*plain, *(k for k in names if k.startswith("topic_"))],
               "features + section + embedding": names}
    cv = {name: round(cv_score(cols), 4) for name, cols in designs.items()}
    for name, value in cv.items():
        echo(f"  importance design {name!r}: dev cross-validated concordance {value:.3f}")
    w, bias = _signed_ridge(x, y, names, lam_rows)
    weights = {"bias": round(bias, 4)}
    for n_, k in enumerate(names):
        # a feature never seen on dev keeps its default weight
        weights[k] = round(float(w[n_]), 4) if x[:, n_].std() > 1e-6 else DEFAULT_WEIGHTS[k]
    ew, eb = _emb_ridge(e, y, lam_e)
    return {"fitted_on": f"dev half, {len(y)} articles", "cv_concordance": cv, "embedding_l2": lam_e,
            "weights": weights,
            "embedding_model": {"weights": [round(float(v), 5) for v in ew], "bias": round(eb, 5)}}


def write_model(path: Any, model: dict[str, Any]) -> None:
    path.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
