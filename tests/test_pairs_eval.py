"""The real-news same-story pairs: stored by reference, split by date, every key found in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.intel.pairs_eval import load_real_items, load_real_pairs, split_for

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_pairs_are_references_only_and_balanced() -> None:
    pairs = load_real_pairs()
    assert len(pairs) >= 400
    assert {tuple(sorted(p)) for p in pairs} == {("a", "b", "kind", "same", "split")}
    share = sum(p["same"] for p in pairs) / len(pairs)
    assert 0.55 <= share <= 0.65
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
