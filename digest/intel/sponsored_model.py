"""Sponsored items by a small logistic regression over words, with the rules of :mod:`digest.intel.sponsored` as features.

Features: hashed word unigrams and bigrams of the headline, hashed words of the text's opening and
closing and the outlet's name (sub-linear counts, each block L2-normalised), and the rules: which of them fired, their
total weight and whether the headline reports an incident. The weights ship as JSON in
``data/sponsored_model.json`` and are fitted on the dev half of the real-news labels by
``bench/sponsored_model.py --install``, which compares the designs by time-ordered cross-validation
on dev. Without the file the rules alone decide, as before.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from digest.intel.sponsored import _THREAT_TITLE, RULES, fired_rules

__all__ = ["MODEL_PATH", "decide", "features", "probability", "train"]

MODEL_PATH = Path(__file__).with_name("data") / "sponsored_model.json"
DIM = 1024
_WORD = re.compile(r"[a-z][a-z0-9'$%-]+|\d+%?|[$£€]")
OUTLETS = 256  # hashed one-hot slots for the outlet's name
DENSE = RULES + 3 + OUTLETS  # one per rule, the rules' total weight (capped at 2), an incident headline, the outlet


def _block(tokens: Sequence[str]) -> dict[int, float]:
    counts: dict[int, float] = {}
    for t in tokens:
        k = zlib.crc32(t.encode("utf-8")) % DIM
        counts[k] = counts.get(k, 0.0) + 1.0
    vec = {k: 1.0 + math.log(v) for k, v in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {k: v / norm for k, v in vec.items()}


def features(title: str, text: str, source: str = "") -> np.ndarray:
    """[headline words | text words and the outlet | rules] of one item."""
    tw = _WORD.findall(title.lower())
    words = text.split()
    body = words[:120] + (words[-60:] if len(words) > 180 else words[120:])
    bw = _WORD.findall(" ".join(body).lower())
    vec = np.zeros(2 * DIM + DENSE)
    for k, v in _block([f"t:{w}" for w in tw] + [f"t:{a} {b}" for a, b in itertools.pairwise(tw)]).items():
        vec[k] = v
    for k, v in _block([f"b:{w}" for w in bw]).items():
        vec[DIM + k] = v
    if source.strip():  # the outlet, one-hot in its own slots (a wire service or a stock site says a lot)
        vec[2 * DIM + RULES + 3 + zlib.crc32(source.strip().lower().encode("utf-8")) % OUTLETS] = 1.0
    total = 0.0
    for n, weight, _match in fired_rules(title, text):
        vec[2 * DIM + n] = 1.0
        total += weight
    vec[2 * DIM + RULES] = min(total, 2.0)
    vec[2 * DIM + RULES + 1] = 1.0 if _THREAT_TITLE.search(title) else 0.0
    vec[2 * DIM + RULES + 2] = 1.0 if total >= 1.0 else 0.0
    return vec


def train(xs: np.ndarray, ys: Sequence[bool], *, l2: float = 1e-3, threshold: float = 0.5,
          pos_weight: float = 1.0, epochs: int = 500, combine: str = "model") -> dict[str, Any]:
    """Fit a logistic regression (weighted log loss + ``l2`` / 2 * |w|^2) by L-BFGS.

    ``pos_weight`` weighs each sponsored item's loss (the class is rare); ``epochs`` caps the
    iterations; ``combine`` is how :func:`decide` uses it ("model": its decision; "or": the rules'
    or its). Returns the model as the JSON object :func:`probability` reads (``threshold``: the
    decision's cut).
    """
    from scipy.optimize import minimize

    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    sw = np.where(y > 0, pos_weight, 1.0)
    sw = sw / sw.mean()
    n, d = x.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        # log(1 + e^z) - y z, computed stably
        lo = np.logaddexp(0.0, z) - y * z
        p = 1.0 / (1.0 + np.exp(-z))
        g = (p - y) * sw / n
        value = float((lo * sw).sum() / n + 0.5 * l2 * (w @ w))
        return value, np.concatenate([x.T @ g + l2 * w, [g.sum()]])

    res = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": epochs})
    w, b = res.x[:d], res.x[d]
    return {"dim": DIM, "dense": DENSE, "threshold": threshold, "combine": combine,
            "weights": np.round(w, 5).tolist(), "bias": round(float(b), 5)}


def score(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """The model's probability for each row of ``x``."""
    z = np.asarray(x) @ np.asarray(model["weights"]) + float(model["bias"])
    return 1.0 / (1.0 + np.exp(-z))


@lru_cache(maxsize=1)
def _model() -> dict[str, Any] | None:
    try:
        data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
        ok = data["dim"] == DIM and data["dense"] == DENSE and len(data["weights"]) == 2 * DIM + DENSE
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data if ok else None


def probability(title: str, text: str, source: str = "") -> tuple[float, float] | None:
    """(the model's probability that an item is sponsored, its threshold); None without an installed model."""
    model = _model()
    if model is None:
        return None
    return float(score(model, features(title, text, source)[None, :])[0]), float(model["threshold"])


def decide(title: str, text: str, source: str, rules_say: bool) -> tuple[bool, str | None]:
    """Whether an item is sponsored, given what the rules say, and the model's reason (None without a model)."""
    model = _model()
    if model is None:
        return rules_say, None
    p = float(score(model, features(title, text, source)[None, :])[0])
    says = p >= float(model["threshold"])
    verdict = (rules_say or says) if model.get("combine") == "or" else says
    return verdict, f"sponsored model: p={p:.2f} (cut {float(model['threshold']):g}, {model.get('combine', 'model')})"
