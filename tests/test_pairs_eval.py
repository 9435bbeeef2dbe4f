"""The real-news same-story pairs: stored by reference, split by date, every key found in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.eval.pairs import load_real_items, load_real_pairs, split_for

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_pairs_are_references_only_and_balanced() -> None:
    pairs = load_real_pairs()
    assert len(pairs) >= 400
    assert {tuple(sorted(p)) for p in pairs} == {("a", "b", "kind", "same", "split")}
    share = sum(p["same"] for p in pairs) / len(pairs)
    assert 0.55 <= share <= 0.70
    assert {p["split"] for p in pairs} == {"dev", "test"}
    assert all(p["a"].split(":")[0] in {"ndh", "feed", "csn"} for p in pairs)
    assert len({(p["a"], p["b"]) for p in pairs}) == len(pairs)


def test_every_key_resolves_and_split_follows_the_date_cut() -> None:
    if not (SHARED / "corpus" / "news").is_dir():
        pytest.skip(f"{SHARED} absent")
    items = load_real_items(SHARED)
    for p in load_real_pairs():
        a, b = items[p["a"]], items[p["b"]]
        assert split_for(a, b) == p["split"], p


def test_held_out_pairs_with_a_days_articles() -> None:
    # the learned decision on the test half (never used in training), clustered with every article
    # published within a day of the pairs; the old rules reached recall 0.56 here, the first learned
    # model 0.972 / 0.831, the one trained on 379 dev pairs (issue 14) 0.959 / 0.976
    if not (SHARED / "corpus" / "news").is_dir():
        pytest.skip(f"{SHARED} absent")
    from digest.eval.pairs import evaluate_real_pairs

    items = load_real_items(SHARED)
    test = [p for p in load_real_pairs() if p["split"] == "test"]
    result, size = evaluate_real_pairs(test, items)
    assert size > 1000
    assert result.precision >= 0.94 and result.recall >= 0.95, (result.precision, result.recall)


def test_report_prints_dev_and_test_beside_the_baseline() -> None:
    if not (SHARED / "corpus" / "news").is_dir():
        pytest.skip(f"{SHARED} absent")
    from digest.eval.pairs import real_pairs_report

    lines = real_pairs_report(shared=SHARED)
    text = "\n".join(lines)
    assert "  dev: " in text and "  test: " in text
    assert sum("TF-IDF cosine" in ln for ln in lines) == 4 and sum("learned model" in ln for ln in lines) == 4
