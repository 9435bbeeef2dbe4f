"""The real-news editorial labels: every key resolves to an item of ../shared and every field is valid."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from digest.eval.realnews import (
    TOPICS,
    default_labels_path,
    default_weeks_path,
    load_items,
    load_labels,
    load_weeks,
    shared_dir,
)

CVE = re.compile(r"^CVE-\d{4}-\d{4,7}$")


@pytest.fixture(scope="module")
def items():
    root = shared_dir()
    if not (root / "corpus" / "news" / "newsdatahub-cyber-3000.csv").is_file():
        pytest.skip(f"{root}/corpus is absent (the shared corpus is not on this machine)")
    return load_items(root)


def test_loader_keys_are_stable_and_items_are_plain_text(items) -> None:
    assert items == load_items(shared_dir())  # keys do not depend on a run
    prefixes = {k.split(":", 1)[0] for k in items}
    assert prefixes == {"ndh", "feed", "csn"}
    for item in items.values():
        assert item.published.tzinfo is not None, item.key
        assert item.title, item.key
        assert "<p>" not in item.text and "<a " not in item.text, item.key


def test_every_feed_snapshot_entry_is_loaded(items) -> None:
    """Each RSS entry becomes an item, CrowdStrike's "Jul 23, 2025 00:00:00-0500" dates included."""
    import feedparser

    for path in sorted((shared_dir() / "corpus" / "feeds").glob("*.xml")):
        entries = feedparser.parse(str(path)).entries
        loaded = [k for k in items if k.startswith(f"feed:{path.stem}:")]
        assert len(loaded) == len(entries), path.name
    crowdstrike = [it for k, it in items.items() if k.startswith("feed:crowdstrike:")]
    assert {it.published.isoformat() for it in crowdstrike} >= {"2025-07-23T05:00:00+00:00"}


def test_absent_shared_dir_gives_no_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_items(tmp_path) == {}
    monkeypatch.setenv("DIGEST_SHARED_DIR", str(tmp_path / "elsewhere"))
    assert shared_dir() == tmp_path / "elsewhere"
    assert load_items() == {}


def test_every_label_resolves_and_is_valid(items) -> None:
    labels = load_labels()
    assert len(labels) >= 360
    keys = [lab["key"] for lab in labels]
    assert len(keys) == len(set(keys)), "a key is labelled twice"
    for lab in labels:
        key = lab["key"]
        assert key in items, f"{key} is not an item of ../shared"
        item = items[key]
        assert datetime.fromisoformat(lab["published"]) == item.published, key
        assert lab["split"] in ("dev", "test"), key
        assert lab["topic"] in TOPICS, key
        assert lab["importance"] in (1, 2, 3), key
        assert isinstance(lab["sponsored"], bool), key
        assert lab["primary"] is None or lab["primary"] in lab["actors"], key
        assert not set(lab["actors"]) & set(lab["incidental"]), key
        text = f"{item.title} {item.text}"
        for cve in lab["cves"]:
            assert CVE.match(cve["id"]) and isinstance(cve["exploited"], bool), key
            assert cve["id"].lower() in text.lower(), f"{key}: {cve['id']} is not in the item"


def test_split_follows_the_cut_dates(items) -> None:
    for lab in load_labels():
        day = lab["published"][:10]
        cut = "2025-11-15" if lab["key"].startswith("ndh:") else "2025-07-21"
        assert lab["split"] == ("dev" if day <= cut else "test"), lab["key"]


def test_weeks_reference_labelled_items(items) -> None:
    if not default_weeks_path().is_file():
        pytest.skip("weeks.jsonl is not written yet")
    labelled = {lab["key"]: lab for lab in load_labels(default_labels_path())}
    for week in load_weeks():
        start = datetime.fromisoformat(week["week_start"]).date()
        assert start.weekday() == 0, week["week_start"]
        assert week["split"] in ("dev", "test")
        assert 3 <= len(week["top"]) <= 6, week["week_start"]
        for key in [*week["top"], *week.get("same", [])]:
            assert key in items, key
            assert 0 <= (items[key].published.date() - start).days < 7, key
        for key in week["top"]:
            assert key in labelled, f"top story {key} is not labelled"
        if week.get("full"):
            in_week = [k for k, it in items.items() if k.startswith("ndh:")
                       and 0 <= (it.published.date() - start).days < 7]
            missing = [k for k in in_week if k not in labelled]
            assert not missing, f"{len(missing)} items of the full week are unlabelled"


def test_load_gold_also_reads_editorial_cves_and_skips_a_key_seen(items, tmp_path: Path) -> None:
    from digest.eval.editorial import load_gold

    first, second = sorted(items)[:2]
    row = {"published": "2025-08-01T00:00:00+00:00", "split": "dev", "primary": None, "actors": [],
           "incidental": [], "topic": "other", "cves": [], "sponsored": False, "importance": 1}
    (tmp_path / "editorial.jsonl").write_text(json.dumps({"key": first, **row}) + "\n", encoding="utf-8")
    gold, _tops = load_gold(tmp_path)
    assert [g.key for g in gold] == [first]
    extra = [{"key": first, **row, "topic": "policy"}, {"key": second, **row}]
    (tmp_path / "editorial_cves.jsonl").write_text("".join(json.dumps(r) + "\n" for r in extra), encoding="utf-8")
    gold, _tops = load_gold(tmp_path)
    assert [(g.key, g.section) for g in gold] == [(first, "other"), (second, "other")]
