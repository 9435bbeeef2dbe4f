"""Real news from ``../shared`` and the hand labels the editorial evaluation scores against.

The texts stay in ``../shared`` (they may not be copied into the project); the label files under
``tests/data/realnews/`` hold only a stable key per item, its published time and the labels. This
module turns the shared corpus into :class:`RealItem` objects under those keys, so an evaluation
can join the two at run time and skip, with a reason, where the corpus is absent.

Keys (stable across runs, independent of file order):

* ``ndh:<id>`` - a row of ``corpus/news/newsdatahub-cyber-3000.csv`` (its ``id`` column);
* ``feed:<file stem>:<guid or link>`` - an entry of one of the ``corpus/feeds/*.xml`` snapshots;
* ``csn:<link>`` - an entry of ``corpus/feeds/cybersecnews.json``.

See ``docs/realnews-eval.md`` for how the labels were made.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.intel.text import html_to_text

__all__ = [
    "TOPICS",
    "RealItem",
    "default_labels_path",
    "default_weeks_path",
    "load_items",
    "load_labels",
    "load_weeks",
    "shared_dir",
]

TOPICS = ("exploited", "ransomware", "breach", "malware", "policy", "industry", "other")


@dataclass(frozen=True)
class RealItem:
    """One real news item: its key, title, plain text, outlet, published time (aware) and link."""

    key: str
    title: str
    text: str
    source: str
    published: datetime
    link: str


def shared_dir() -> Path:
    """``$DIGEST_SHARED_DIR`` when set, else ``../shared`` beside the project root."""
    env = os.environ.get("DIGEST_SHARED_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


def default_labels_path() -> Path:
    """``tests/data/realnews/editorial.jsonl`` of the source checkout."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "realnews" / "editorial.jsonl"


def default_weeks_path() -> Path:
    """``tests/data/realnews/weeks.jsonl`` of the source checkout."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "realnews" / "weeks.jsonl"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _parse_time(value: str) -> datetime | None:
    s = (value or "").strip().replace("Z", "+00:00")
    if not s:
        return None
    try:
        return _aware(datetime.fromisoformat(s))
    except ValueError:
        return None


def _newsdatahub(path: Path) -> Iterator[RealItem]:
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            published = _parse_time(row.get("pub_date", ""))
            if not row.get("id") or published is None:
                continue
            yield RealItem(f"ndh:{row['id']}", html_to_text(row.get("title", "")),
                           html_to_text(row.get("description", "")), row.get("source_title", "").strip(),
                           published, row.get("article_link", "").strip())


def _cybersecnews(path: Path) -> Iterator[RealItem]:
    for x in json.loads(path.read_text(encoding="utf-8")):
        link = (x.get("link") or "").strip()
        published = _parse_time(str(x.get("published") or ""))
        if not link or published is None:
            continue
        host = link.split("/")[2] if link.count("/") >= 2 else "cybersecnews"
        host = host.removeprefix("www.")
        yield RealItem(f"csn:{link}", html_to_text(x.get("title", "")), html_to_text(x.get("summary", "")),
                       host, published, link)


# dates feedparser does not parse: CrowdStrike's feed writes "Jul 23, 2025 00:00:00-0500"
_FEED_DATE_FORMATS = ("%b %d, %Y %H:%M:%S%z", "%B %d, %Y %H:%M:%S%z")


def _entry_time(entry: Any) -> datetime | None:
    struct = entry.get("published_parsed") or entry.get("updated_parsed")
    if struct:
        return datetime(*struct[:6], tzinfo=UTC)
    raw = (entry.get("published") or entry.get("updated") or "").strip()
    for fmt in _FEED_DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).astimezone(UTC)
        except ValueError:
            continue
    return None


def _feed(path: Path) -> Iterator[RealItem]:
    import feedparser

    parsed = feedparser.parse(str(path))
    name = parsed.feed.get("title") or path.stem
    for e in parsed.entries:
        ident = (e.get("id") or e.get("link") or "").strip()
        published = _entry_time(e)
        if not ident or published is None:
            continue
        body = (e.get("content") or [{}])[0].get("value") or e.get("summary", "")
        yield RealItem(f"feed:{path.stem}:{ident}", html_to_text(e.get("title", "")), html_to_text(body),
                       name, published, (e.get("link") or "").strip())


def load_items(shared: Path | None = None) -> dict[str, RealItem]:
    """Every item of the shared real-news corpus by key; empty when the corpus is absent."""
    root = (shared or shared_dir()) / "corpus"
    items: dict[str, RealItem] = {}
    ndh = root / "news" / "newsdatahub-cyber-3000.csv"
    sources: list[Iterator[RealItem]] = []
    if ndh.is_file():
        sources.append(_newsdatahub(ndh))
    feeds = root / "feeds"
    if (feeds / "cybersecnews.json").is_file():
        sources.append(_cybersecnews(feeds / "cybersecnews.json"))
    if feeds.is_dir():
        sources.extend(_feed(p) for p in sorted(feeds.glob("*.xml")))
    for source in sources:
        for item in source:
            items.setdefault(item.key, item)
    return items


def _jsonl(path: Path) -> list[dict[str, Any]]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path.name} line {n}: not JSON ({exc.msg})") from None
    return out


def load_labels(path: Path | None = None) -> list[dict[str, Any]]:
    """The editorial labels, one dict per line of ``editorial.jsonl`` (see the docs for the fields)."""
    return _jsonl(path or default_labels_path())


def load_weeks(path: Path | None = None) -> list[dict[str, Any]]:
    """The hand-picked top stories per week, one dict per line of ``weeks.jsonl``."""
    return _jsonl(path or default_weeks_path())
