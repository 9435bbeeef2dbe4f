"""Evaluation of the content stage: same-story precision/recall, corpus clusters, summary rules.

* **Pairs**: ``tests/data/story_pairs.jsonl`` holds article pairs the project wrote itself
  (paraphrases of real July 2025 coverage), each labelled same story or not. All pair articles are
  clustered as one batch (as in production, where IDF comes from the batch) and a pair counts as
  "same" when both land in one cluster. Reported with and without the actor ids the actor stage
  would supply.
* **Corpus**: the items of ``shared/corpus/feeds/cybersecnews.json`` and the RSS snapshots are
  clustered; clusters with more than one source are printed.
* **Summaries**: for every corpus item, the summary's length, whether it breaks a rule
  (:func:`digest.intel.summarize.check_summary`), and whether it names the article's actor when
  the text names one (a light name list here; the real actor stage lives elsewhere).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from digest.eval.tally import PR
from digest.intel.cluster import ClusterDoc, cluster
from digest.intel.summarize import check_summary, extractive_summary
from digest.intel.text import html_to_text, words

__all__ = [
    "CorpusItem",
    "PairResult",
    "corpus_clusters",
    "default_pairs_path",
    "default_shared_dir",
    "evaluate_pairs",
    "load_corpus",
    "load_pairs",
    "parse_published",
    "summary_report",
]


def default_pairs_path() -> Path:
    """``tests/data/story_pairs.jsonl`` of the source checkout."""
    return Path(__file__).resolve().parents[2] / "tests" / "data" / "story_pairs.jsonl"


def default_shared_dir() -> Path:
    """``../shared`` beside the project root."""
    return Path(__file__).resolve().parents[3] / "shared"


def parse_published(value: Any) -> datetime | None:
    """An ISO date or datetime (string) as an aware datetime (UTC when no zone); None when absent/bad."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str):
        return None
    s = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        try:
            d = date.fromisoformat(s[:10])
        except ValueError:
            return None
        dt = datetime(d.year, d.month, d.day)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def doc_from_json(obj: dict[str, Any], *, with_actors: bool = True) -> ClusterDoc:
    """A :class:`ClusterDoc` from a JSON object (``id``, ``title``, ``text``, ``source``, ``published``...)."""
    return ClusterDoc(
        id=str(obj["id"]),
        title=str(obj.get("title") or ""),
        text=str(obj.get("text") or ""),
        source=str(obj.get("source") or ""),
        published=parse_published(obj.get("published")),
        source_kind=str(obj.get("source_kind") or "news"),
        actors=frozenset(obj.get("actors") or ()) if with_actors else frozenset(),
        cves=frozenset(obj.get("cves") or ()),
    )


# --------------------------------------------------------------------------- pairs


@dataclass
class PairResult(PR):
    """Confusion counts of the same-story decision over labelled pairs (:class:`digest.eval.tally.PR`)."""

    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.n


def load_pairs(path: Path | None = None) -> list[dict[str, Any]]:
    """The labelled pairs: ``{"pair", "same", "note", "a": {...}, "b": {...}}`` per line."""
    p = path or default_pairs_path()
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_pairs(pairs: Sequence[dict[str, Any]], *, window_hours: int = 72, with_actors: bool = True,
                   batch: bool = True, model: Any = None) -> PairResult:
    """Cluster the pair articles (as one batch, or each pair alone) and score the same-story decision
    (of ``model``, a :class:`~digest.intel.story_features.StoryModel`; the shipped one when None)."""
    result = PairResult()
    docs: dict[str, ClusterDoc] = {}
    for p in pairs:
        for side in ("a", "b"):
            docs.setdefault(p[side]["id"], doc_from_json(p[side], with_actors=with_actors))
    where: dict[str, int] = {}
    if batch:
        for k, members in enumerate(cluster(list(docs.values()), window_hours=window_hours, model=model)):
            for m in members:
                where[m] = k
    for p in pairs:
        a, b = p["a"]["id"], p["b"]["id"]
        if batch:
            decided = where[a] == where[b]
        else:
            decided = len(cluster([docs[a], docs[b]], window_hours=window_hours, model=model)) == 1
        if p["same"] and decided:
            result.tp += 1
        elif p["same"]:
            result.fn += 1
            result.errors.append(f"missed  {p['pair']}: {a} / {b} ({p.get('note', '')})")
        elif decided:
            result.fp += 1
            result.errors.append(f"merged  {p['pair']}: {a} / {b} ({p.get('note', '')})")
        else:
            result.tn += 1
    return result


# --------------------------------------------------------------------------- corpus

_VENDOR_HOSTS = ("unit42.", "securelist.", "malwarebytes.", "security.googleblog.", "microsoft.", "crowdstrike.",
                 "proofpoint.", "malware-traffic-analysis.", "symantec", "mandiant", "talosintelligence")


@dataclass(frozen=True)
class CorpusItem:
    """One corpus article: id, title, plain text, source name and kind, published."""

    id: str
    title: str
    text: str
    source: str
    source_kind: str
    published: datetime | None
    link: str = ""


def _kind_of(source: str, link: str) -> str:
    low = f"{source} {link}".lower()
    if "cisa" in low or ".gov" in low:
        return "government"
    if any(h in low for h in _VENDOR_HOSTS):
        return "vendor"
    return "news"


def load_corpus(shared: Path | None = None) -> list[CorpusItem]:
    """Items of ``corpus/feeds/cybersecnews.json`` and the ``corpus/feeds/*.xml`` snapshots."""
    import feedparser

    feeds = (shared or default_shared_dir()) / "corpus" / "feeds"
    items: list[CorpusItem] = []
    for i, x in enumerate(json.loads((feeds / "cybersecnews.json").read_text(encoding="utf-8"))):
        link = x.get("link", "")
        host = re.sub(r"^www\.|^go\.", "", link.split("/")[2]) if link.count("/") >= 2 else "cybersecnews"
        items.append(CorpusItem(f"csn-{i}", html_to_text(x.get("title", "")), html_to_text(x.get("summary", "")),
                                host, _kind_of(host, link), parse_published(x.get("published")), link))
    for path in sorted(feeds.glob("*.xml")):
        parsed = feedparser.parse(str(path))
        name = parsed.feed.get("title") or path.stem
        for j, e in enumerate(parsed.entries):
            body = (e.get("content") or [{}])[0].get("value") or e.get("summary", "")
            published = None
            if e.get("published_parsed"):
                published = datetime(*e.published_parsed[:6], tzinfo=UTC)
            items.append(CorpusItem(f"{path.stem}-{j}", html_to_text(e.get("title", "")), html_to_text(body),
                                    name, _kind_of(name, e.get("link", "")), published, e.get("link", "")))
    return items


def corpus_clusters(items: Sequence[CorpusItem], *, window_hours: int = 72) -> list[list[CorpusItem]]:
    """Stories of the corpus that more than one source covered."""
    by_id = {it.id: it for it in items}
    docs = [ClusterDoc(it.id, it.title, it.text, it.source, it.published, it.source_kind) for it in items]
    out = []
    for members in cluster(docs, window_hours=window_hours):
        if len({by_id[m].source for m in members}) > 1:
            out.append([by_id[m] for m in members])
    return out


# a light list of actor names for the "summary names the actor" share (the actor stage does this properly)
_ACTOR_NAMES = re.compile(
    r"\b(?:APT\s?\d+|UNC\d{3,5}|Storm-\d{3,4}|TA\d{3,4}|FIN\d+|[A-Z][a-z]+ (?:Typhoon|Blizzard|Sandstorm|Sleet|"
    r"Tempest|Panda|Bear|Kitten|Chollima|Spider)|Lazarus(?: Group)?|Kimsuky|Turla|Sandworm|Gamaredon|"
    r"Scattered Spider|Jewelbug|NoName057\(16\)|UNG0002|EncryptHub|PoisonSeed|Fire Ant|Mimo|World Leaks|"
    r"BlackSuit|LockBit|Akira|Qilin|Medusa|Play|Interlock|Volt Typhoon|Salt Typhoon|Linen Typhoon|Violet Typhoon)\b"
)


def actor_in(text: str) -> str | None:
    """The first actor name of the light list found in ``text`` (None when none)."""
    m = _ACTOR_NAMES.search(text)
    return m.group(0) if m else None


@dataclass
class SummaryReport:
    """Summary statistics over a corpus."""

    total: int = 0
    with_text: int = 0
    empty: int = 0
    lengths: Counter[str] = field(default_factory=Counter)
    max_words: int = 0
    broken: list[tuple[str, list[str]]] = field(default_factory=list)
    rules: Counter[str] = field(default_factory=Counter)
    actor_total: int = 0
    actor_named: int = 0


_BUCKETS = ((0, 0), (1, 19), (20, 39), (40, 59), (60, 70))


def summary_report(items: Iterable[CorpusItem], *, max_words: int = 70) -> SummaryReport:
    """Summarize each item extractively and check the rules, the length and the actor share."""
    rep = SummaryReport()
    for it in items:
        rep.total += 1
        actor = actor_in(it.text)
        # the pipeline passes the actor stage's mentions as key terms; the light list stands in here
        summary = extractive_summary(it.title, it.text, max_words=max_words, key_terms=(actor,) if actor else ())
        n = len(words(summary))
        if it.text.strip():
            rep.with_text += 1
        if not summary:
            rep.empty += 1
        rep.max_words = max(rep.max_words, n)
        label = next((f"{lo}-{hi}" if hi else "0 (none)" for lo, hi in _BUCKETS if lo <= n <= hi), f">{max_words}")
        rep.lengths[label] += 1
        problems = check_summary(summary, it.text, max_words=max_words)
        if problems:
            rep.broken.append((it.id, problems))
            rep.rules.update(p.split(":")[0] for p in problems)
        if actor and summary:
            rep.actor_total += 1
            if actor.lower() in summary.lower():
                rep.actor_named += 1
    return rep


def replace_doc(doc: ClusterDoc, **changes: Any) -> ClusterDoc:
    """A copy of ``doc`` with fields replaced (tests use it to move dates and sources)."""
    return replace(doc, **changes)
