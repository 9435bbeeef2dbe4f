"""The learned sponsored model: its features, its fit and how it combines with the rules (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from digest.intel import sponsored_model as sm
from digest.intel.sponsored import RULES, fired_rules, sponsored_reasons


def test_fired_rules_are_the_reasons() -> None:
    title = "Save 60% on a lifetime VPN subscription this Black Friday"
    fired = fired_rules(title, "")
    assert fired and all(0 <= n < RULES for n, _w, _m in fired)
    assert len(sponsored_reasons(title, "")) == len(fired)
    assert sponsored_reasons(title, "")[0].startswith("1 sponsored (title):")


def test_features_hold_words_rules_and_the_outlet() -> None:
    x = sm.features("Acme Launches New Cloud Firewall", "Acme today announced a firewall.", "Business Wire")
    assert x.shape == (2 * sm.DIM + sm.DENSE,)
    outlets = x[2 * sm.DIM + RULES + 3:]
    assert outlets.sum() == 1.0
    assert x[2 * sm.DIM: 2 * sm.DIM + RULES].sum() >= 1  # the press-release rule fired
    assert sm.features("Acme Launches New Cloud Firewall", "", "")[2 * sm.DIM + RULES + 3:].sum() == 0


def _toy() -> tuple[np.ndarray, np.ndarray]:
    ads = [("Best VPN deals of the week", "Use the code to save.", "Deal Site"),
           ("Acme Stock Jumps After Earnings Beat", "Shares rose on revenue.", "Stock Wire")] * 6
    news = [("Hospital hit by ransomware attack", "Patients were diverted.", "Daily News"),
            ("Police arrest hacker behind bank breach", "The suspect was charged.", "Daily News")] * 6
    x = np.vstack([sm.features(*a) for a in ads + news])
    return x, np.array([True] * len(ads) + [False] * len(news))


def test_train_separates_ads_from_news() -> None:
    x, y = _toy()
    model = sm.train(x, y, l2=1e-3)
    p = sm.score(model, x)
    assert (p[y] > 0.5).all() and (p[~y] < 0.5).all()


def test_decide_without_a_model_is_the_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sm, "MODEL_PATH", tmp_path / "absent.json")
    sm._model.cache_clear()
    try:
        assert sm.decide("Anything", "", "", True) == (True, None)
        assert sm.decide("Anything", "", "", False) == (False, None)
        assert sm.probability("Anything", "") is None
    finally:
        sm._model.cache_clear()


def test_decide_or_keeps_what_the_rules_flag(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    x, y = _toy()
    model = sm.train(x, y, l2=1e-3, threshold=0.5, combine="or")
    path = tmp_path / "sponsored_model.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    monkeypatch.setattr(sm, "MODEL_PATH", path)
    sm._model.cache_clear()
    try:
        flagged, why = sm.decide("Hospital hit by ransomware attack", "Patients were diverted.", "Daily News", True)
        assert flagged and why is not None and "or" in why
        assert sm.decide("Hospital hit by ransomware attack", "Patients were diverted.", "Daily News", False)[0] is False
        assert sm.decide("Best VPN deals of the week", "Use the code to save.", "Deal Site", False)[0] is True
    finally:
        sm._model.cache_clear()
