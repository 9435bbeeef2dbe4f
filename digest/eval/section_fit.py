"""Fitting the section model on the dev half (``digest eval-editorial --train``).

Designs (rules only, hashed words only, both, both + embedding), L2 strengths and class weights are
compared by **forward** cross-validation on dev: the dev weeks in date order cut into five blocks,
blocks 2, 3 and 4 each scored by a model fitted on the blocks before them (earlier months train,
later months are scored, as the test half is). Every prediction goes through the installed decision
(:func:`digest.intel.section_model.decide`: ads under other or industry, the clear exploited and
legal-headline cases), so the folds score what ``digest analyse`` prints. The date-blocked figure
(each block scored by a model fitted on the four others) is printed beside it. The best design is
fitted on all of dev and installed in ``digest/intel/data/section_model.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["DESIGNS", "class_weights", "cv_accuracy", "date_folds", "fit_section"]

DESIGNS = {
    "rules only": "dense",
    "words only": "words",
    "words + rules": "all",
    "words + rules + embedding": "all+emb",
}
L2 = (3e-4, 1e-3, 3e-3)
CLASS_POWER = (0.0, 0.5)  # class weights (n / k n_c)^power: 0.5 leans half-way from the dev mix to equal classes


def date_folds(weeks: Sequence[str], folds: int = 5) -> list[int]:
    """A fold per row: the dev weeks in date order cut into ``folds`` blocks of about equal size."""
    order = sorted(set(weeks))
    per_week = {w: 0 for w in order}
    for w in weeks:
        per_week[w] += 1
    fold_of_week, seen = {}, 0
    for w in order:
        fold_of_week[w] = min(folds - 1, seen * folds // max(len(weeks), 1))
        seen += per_week[w]
    return [fold_of_week[w] for w in weeks]


def class_weights(ys: Sequence[str], power: float) -> Any:
    """(n / (k n_c))^power per row (mean-normalised by the trainer); ones for power 0."""
    import numpy as np

    counts = {c: list(ys).count(c) for c in set(ys)}
    return np.array([(len(ys) / (len(counts) * counts[y])) ** power for y in ys])


def cv_accuracy(xs: Any, ys: Sequence[str], l2: float, fold_of: Sequence[int], folds: int = 5, *,
                forward: bool = False, power: float = 0.0,
                rules: Sequence[tuple[bool, bool, bool]] | None = None) -> float:
    """Accuracy of the date-blocked folds, each scored by a model fitted on the others; ``forward``: blocks
    2 .. folds-1 only, each scored by a model fitted on the earlier blocks (train on earlier months).
    ``rules``: per row (sponsored, clear exploited, legal headline) for the installed decision; none:
    the model's best class."""
    import numpy as np

    from digest.intel import section_model

    n = len(ys)
    right = scored = 0
    for f in range(2 if forward else 0, folds):
        test_idx = [i for i in range(n) if fold_of[i] == f]
        train_idx = [i for i in range(n) if (fold_of[i] < f if forward else fold_of[i] != f)]
        if not test_idx or not train_idx:
            continue
        tys = [ys[i] for i in train_idx]
        model = section_model.train(xs[train_idx], tys, l2=l2, sample_weight=class_weights(tys, power))
        w, b, classes = np.asarray(model["weights"]), np.asarray(model["bias"]), model["classes"]
        logits = xs[test_idx] @ w + b
        for i, row in zip(test_idx, logits):
            if rules is None:
                pred = classes[int(np.argmax(row))]
            else:
                ad, exploited, policy = rules[i]
                pred = section_model.decide(row, classes, sponsored=ad, exploited=exploited, policy=policy)
            right += pred == ys[i]
        scored += len(test_idx)
    return right / scored if scored else 0.0


def _mask(xs: Any, design: str) -> Any:
    """The columns a design uses: the embedding block is cut off where a design has none, the others zeroed."""
    from digest.intel.section_model import BASE, DIM

    out = xs.copy() if design == "all+emb" else xs[:, :BASE].copy()
    if design == "dense":
        out[:, : 2 * DIM] = 0.0
    elif design == "words":
        out[:, 2 * DIM:] = 0.0
    return out


def fit_section(rows: Sequence[Any], echo: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Choose and install the section model from the dev rows (``editorial._DevRow``, labelled ones);
    returns every design's model fitted on all of dev."""
    import numpy as np

    from digest.intel import section_model
    from digest.intel.sponsored import sponsored

    xs = np.vstack([r.x for r in rows])
    ys = [r.gold.section or "other" for r in rows]
    fold_of = date_folds([r.gold.week for r in rows])
    rules = [(sponsored(r.gold.title, r.gold.text),
              section_model.clear_exploited(r.gold.title, r.info, r.cve_exploited, r.has_actor),
              section_model.clear_policy(r.gold.title)) for r in rows]
    models: dict[str, dict[str, Any]] = {}
    best: tuple[float, str] = (-1.0, "")
    for name, design in DESIGNS.items():
        xd = _mask(xs, design)
        scores = {(l2, p): cv_accuracy(xd, ys, l2, fold_of, forward=True, power=p, rules=rules)
                  for l2 in L2 for p in CLASS_POWER}
        l2, power = max(scores, key=lambda k: (scores[k], -k[1]))  # ties: no class weights
        blocked = cv_accuracy(xd, ys, l2, fold_of, power=power, rules=rules)
        echo(f"  section design {name!r}: dev forward CV {scores[l2, power]:.3f}, date-blocked {blocked:.3f} "
             f"(l2={l2:g}, class weights^{power:g}; forward "
             + ", ".join(f"{a:g}/{b:g}: {v:.3f}" for (a, b), v in scores.items()) + ")")
        model = section_model.train(xd, ys, l2=l2, sample_weight=class_weights(ys, power))
        model.update(design=name, l2=l2, class_power=power, dev_cv_accuracy=round(blocked, 4),
                     dev_forward_cv_accuracy=round(scores[l2, power], 4))
        models[name] = model
        best = max(best, (scores[l2, power], name))
    section_model.MODEL_PATH.write_text(json.dumps(models[best[1]], separators=(",", ":")), encoding="utf-8")
    section_model._model.cache_clear()
    echo(f"  installed section design {best[1]!r} ({len(ys)} dev articles) in {section_model.MODEL_PATH}")
    return models
