"""The content evaluation: labelled pairs file, pair scoring and the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.eval.content import (
    CorpusItem,
    evaluate_pairs,
    load_pairs,
    parse_published,
    summary_report,
)
from digest.eval.content_report import run_eval

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_pairs_file_is_large_enough_and_balanced() -> None:
    pairs = load_pairs()
    assert len(pairs) >= 40
    assert sum(p["same"] for p in pairs) >= 15 and sum(not p["same"] for p in pairs) >= 15
    for p in pairs:
        for side in ("a", "b"):
            assert {"id", "title", "text", "source", "published"} <= p[side].keys()
        assert p["a"]["id"] != p["b"]["id"]


def test_pair_texts_are_not_copied_from_shared() -> None:
    csn = SHARED / "corpus" / "feeds" / "cybersecnews.json"
    if not csn.is_file():
        pytest.skip(f"{csn} absent (../shared is absent)")
    corpus = csn.read_text(encoding="utf-8")
    for p in load_pairs():
        for side in ("a", "b"):
            for sentence in p[side]["text"].split(". "):
                if len(sentence) > 60:
                    assert sentence not in corpus, sentence


def test_evaluate_pairs_counts_errors() -> None:
    a = {"id": "a", "title": "Koske malware hides in panda images", "source": "X", "published": "2025-07-24",
         "text": "Koske Linux malware hides payloads in panda images and mines cryptocurrency, Aqua says."}
    b = dict(a, id="b", source="Y")
    c = {"id": "c", "title": "Dior customer data stolen", "source": "Z", "published": "2025-07-24",
         "text": "Christian Dior is notifying customers that names and contact details were stolen."}
    result = evaluate_pairs([{"pair": "1", "same": True, "a": a, "b": b},
                             {"pair": "2", "same": True, "a": a, "b": c},
                             {"pair": "3", "same": False, "a": b, "b": c}])
    assert (result.tp, result.fn, result.fp, result.tn) == (1, 1, 0, 1)
    assert result.precision == 1.0 and result.recall == 0.5
    assert "missed" in result.errors[0]


def test_parse_published_forms() -> None:
    assert parse_published("2025-07-24") == datetime(2025, 7, 24, tzinfo=UTC)
    assert parse_published("2025-07-24T10:00:00Z") == datetime(2025, 7, 24, 10, tzinfo=UTC)
    assert parse_published("yesterday") is None and parse_published(None) is None


def test_summary_report_counts_actor_and_lengths() -> None:
    items = [
        CorpusItem("1", "APT28 phishing", "Ukraine says APT28 sent phishing emails to ministries in July. "
                   "CERT-UA published indicators on Friday.", "X", "news", None),
        CorpusItem("2", "Empty", "", "Y", "news", None),
    ]
    rep = summary_report(items)
    assert rep.total == 2 and rep.empty == 1 and rep.broken == []
    assert rep.actor_total == 1 and rep.actor_named == 1
    assert rep.lengths["0 (none)"] == 1


def test_run_eval_without_shared_reports_pairs_and_skips_corpus(tmp_path: Path) -> None:
    lines = run_eval(shared=tmp_path)
    assert lines[0].startswith("Same-story decision on")
    assert "precision" in lines[1]
    assert any("not found" in line for line in lines)
