"""Same-story evaluation on real news: labelled pairs of ``../shared`` articles, stored by reference.

``tests/data/realnews/story_pairs.jsonl`` holds one labelled pair a line,
``{"a": key, "b": key, "same": bool, "split": "dev"|"test", "kind": ...}``, where a key names an
article of the shared corpus without copying it (nothing of ``../shared`` may be copied into the
project):

* ``ndh:<id>`` — a row of ``corpus/news/newsdatahub-cyber-3000.csv`` (title and a ~180-character
  description, Aug 2025 - Feb 2026);
* ``feed:<file stem>:<guid or link>`` — an entry of ``corpus/feeds/<stem>.xml`` (the guid when the
  entry has one, else its link);
* ``csn:<link>`` — an entry of ``corpus/feeds/cybersecnews.json``.

The split is by date: a pair is ``dev`` when both articles are published up to :data:`DEV_CUT_NDH`
(2025-11-15) for the news set, or up to :data:`DEV_CUT_JULY` (2025-07-15) for the July feeds, and
``test`` otherwise. The same-story model is tuned and trained on ``dev`` only.

Two measurements per split, beside the plain TF-IDF threshold measured in the same run:

* **pairs alone**: each pair clustered as a two-article batch;
* **with distractors**: the pair articles clustered as one batch together with every other article
  of those corpora published within a day of any of them, as in production where a day's articles
  arrive together.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from digest.eval.content import PairResult, default_shared_dir, parse_published
from digest.intel.cluster import ClusterDoc, cluster
from digest.intel.text import html_to_text

__all__ = [
    "DEV_CUT_JULY",
    "DEV_CUT_NDH",
    "RealItem",
    "default_real_pairs_path",
    "evaluate_real_pairs",
    "load_real_items",
    "load_real_pairs",
    "real_pairs_report",
    "split_for",
]

DEV_CUT_NDH = datetime(2025, 11, 16, tzinfo=UTC)  # dev: published before this (up to 2025-11-15)
DEV_CUT_JULY = datetime(2025, 7, 16, tzinfo=UTC)  # dev: July feeds published up to 2025-07-15
_JULY_END = datetime(2025, 8, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RealItem:
    """One shared-corpus article as the evaluation sees it."""

    key: str
    title: str
    text: str
    source: str
    published: datetime | None
    link: str = ""

    def doc(self) -> ClusterDoc:
        return ClusterDoc(id=self.key, title=self.title, text=self.text, source=self.source,
                          published=self.published)


def default_real_pairs_path() -> Path:
    """``tests/data/realnews/story_pairs.jsonl`` of the source checkout."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "realnews" / "story_pairs.jsonl"


def _host(link: str) -> str:
    parts = link.split("/")
    return re.sub(r"^(?:www|go)\.", "", parts[2]) if len(parts) > 2 else ""


def load_real_items(shared: Path | None = None) -> dict[str, RealItem]:
    """Every article of the news CSV and the July feeds, by key (empty when ``../shared`` is absent)."""
    root = (shared or default_shared_dir()) / "corpus"
    items: dict[str, RealItem] = {}
    ndh = root / "news" / "newsdatahub-cyber-3000.csv"
    if ndh.is_file():
        with ndh.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                key = f"ndh:{row['id']}"
                items[key] = RealItem(key, row["title"].strip(), (row.get("description") or "").strip(),
                                      row.get("source_title") or _host(row.get("article_link", "")),
                                      parse_published(row.get("pub_date")), row.get("article_link", ""))
    feeds = root / "feeds"
    csn = feeds / "cybersecnews.json"
    if csn.is_file():
        for x in json.loads(csn.read_text(encoding="utf-8")):
            link = x.get("link", "")
            key = f"csn:{link}"
            items[key] = RealItem(key, html_to_text(x.get("title", "")), html_to_text(x.get("summary", "")),
                                  _host(link), parse_published(x.get("published")), link)
    if feeds.is_dir():
        import feedparser

        for path in sorted(feeds.glob("*.xml")):
            parsed = feedparser.parse(str(path))
            name = parsed.feed.get("title") or path.stem
            for e in parsed.entries:
                ref = e.get("id") or e.get("link", "")
                if not ref:
                    continue
                body = (e.get("content") or [{}])[0].get("value") or e.get("summary", "")
                published = datetime(*e.published_parsed[:6], tzinfo=UTC) if e.get("published_parsed") else None
                key = f"feed:{path.stem}:{ref}"
                items[key] = RealItem(key, html_to_text(e.get("title", "")), html_to_text(body), name, published,
                                      e.get("link", ""))
    return items


def split_for(a: RealItem, b: RealItem) -> str:
    """``dev`` when both articles are on the dev side of their corpus's date cut, else ``test``."""
    def dev(it: RealItem) -> bool:
        if it.published is None:
            return False
        cut = DEV_CUT_JULY if it.published < _JULY_END else DEV_CUT_NDH
        return it.published < cut

    return "dev" if dev(a) and dev(b) else "test"


def load_real_pairs(path: Path | None = None) -> list[dict[str, Any]]:
    """The labelled pairs, one JSON object a line."""
    p = path or default_real_pairs_path()
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


ClusterFn = Callable[[Sequence[ClusterDoc]], list[list[str]]]


def _score(pairs: Iterable[dict[str, Any]], same: Callable[[str, str], bool]) -> PairResult:
    result = PairResult()
    for p in pairs:
        decided = same(p["a"], p["b"])
        tag = f"{p['a']} / {p['b']} ({p.get('kind', '')})"
        if p["same"] and decided:
            result.tp += 1
        elif p["same"]:
            result.fn += 1
            result.errors.append(f"missed  {tag}")
        elif decided:
            result.fp += 1
            result.errors.append(f"merged  {tag}")
        else:
            result.tn += 1
    return result


def distractors(keys: Iterable[str], items: dict[str, RealItem], *, hours: float = 24) -> list[str]:
    """Keys of every other article published within ``hours`` of one of ``keys``."""
    stamps = sorted(items[k].published for k in keys if items[k].published is not None)
    if not stamps:
        return []
    import bisect

    span = timedelta(hours=hours)
    out = []
    wanted = set(keys)
    for k, it in items.items():
        if k in wanted or it.published is None:
            continue
        i = bisect.bisect_left(stamps, it.published - span)
        if i < len(stamps) and stamps[i] <= it.published + span:
            out.append(k)
    return out


def evaluate_real_pairs(pairs: Sequence[dict[str, Any]], items: dict[str, RealItem], *,
                        cluster_fn: ClusterFn | None = None, batch: bool = True) -> tuple[PairResult, int]:
    """Score a clustering on labelled pairs: alone, or in one batch with a day's other articles.

    Returns the counts and the batch size (2 when each pair is clustered alone).
    """
    fn = cluster_fn or (lambda docs: cluster(docs))
    pairs = [p for p in pairs if p["a"] in items and p["b"] in items]
    if not batch:
        return _score(pairs, lambda a, b: len(fn([items[a].doc(), items[b].doc()])) == 1), 2
    keys = sorted({k for p in pairs for k in (p["a"], p["b"])})
    batch_keys = keys + distractors(keys, items)
    where: dict[str, int] = {}
    for n, members in enumerate(fn([items[k].doc() for k in batch_keys])):
        for m in members:
            where[m] = n
    return _score(pairs, lambda a, b: where[a] == where[b]), len(batch_keys)


def real_pairs_report(*, shared: Path | None = None, pairs_path: Path | None = None,
                      methods: Sequence[tuple[str, ClusterFn]] = (), show_errors: bool = False) -> list[str]:
    """Lines of the real-news pair evaluation (dev and test, alone and with distractors, per method)."""
    items = load_real_items(shared)
    pairs = load_real_pairs(pairs_path)
    if not items:
        return [f"Real-news pairs: {(shared or default_shared_dir())} not found; skipped."]
    missing = [p for p in pairs if p["a"] not in items or p["b"] not in items]
    lines = [f"Same-story decision on {len(pairs)} labelled pairs of real news "
             f"({sum(p['same'] for p in pairs)} same; dev up to 2025-11-15 and 2025-07-15, test after)"
             + (f"; {len(missing)} pairs name articles not found" if missing else "") + ":"]
    if not methods:
        from digest.intel.story_features import MODEL_PATH

        base = float(json.loads(MODEL_PATH.read_text(encoding="utf-8"))["baseline_tfidf_threshold"])
        methods = [("learned model", lambda docs: cluster(docs)),
                   (f"TF-IDF cosine >= {base:.2f}", lambda docs: cluster(docs, tfidf_threshold=base))]
    for split in ("dev", "test"):
        chosen = [p for p in pairs if p["split"] == split]
        npos = sum(p["same"] for p in chosen)
        lines.append(f"  {split}: {len(chosen)} pairs ({npos} same, {len(chosen) - npos} different)")
        for label, fn in methods:
            for batch in (False, True):
                r, size = evaluate_real_pairs(chosen, items, cluster_fn=fn, batch=batch)
                where = f"with a day's articles ({size})" if batch else "pairs alone"
                lines.append(f"    {label:24} {where:28} precision {r.precision:.3f}  recall {r.recall:.3f}  "
                             f"(tp {r.tp}, fp {r.fp}, fn {r.fn}, tn {r.tn})")
                if show_errors:
                    lines.extend(f"      {e}" for e in r.errors)
    return lines
