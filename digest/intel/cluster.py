"""Story clustering: articles from different feeds about the same event become one story.

Decided by TF-IDF cosine over the headline (counted twice) and the opening of the text, together
with shared entities:

* articles further apart in time than the window (default 72 h) are never one story, and a story
  never spans more than the window;
* a shared CVE ID lowers the similarity needed; two articles about *different* CVEs need near-identical
  text;
* a shared threat actor lowers it less (the same actor is often in the news for different
  operations); different actors need near-identical text;
* two articles from the same source need near-identical text (an outlet rarely writes one event twice).

Clusters grow by average linkage (two clusters merge only when most of their cross pairs are the
same story), so one loose pair cannot chain unrelated stories together. The IDF mixes the batch
with a pseudo-corpus of unseen documents, so small batches (two articles on the command line)
behave like large ones. TF-IDF over pure-Python dicts is fast enough here (1,000 articles in well
under a second) and, unlike MinHash over shingles, matches paraphrases that share words but not
word sequences.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .text import content_tokens, first_words, words
from .topics import extract_cves

__all__ = ["ClusterDoc", "Thresholds", "best_source", "cluster", "same_story", "similarity"]

_LEDE_WORDS = 120
_PSEUDO_DOCS = 50  # unseen documents mixed into the IDF
_TOP_TERMS = 12  # per document, for candidate generation


@dataclass(frozen=True)
class ClusterDoc:
    """One article as clustering sees it."""

    id: str
    title: str
    text: str
    source: str
    published: datetime | None
    source_kind: str = "news"  # "vendor" | "news" | "government"
    actors: frozenset[str] = frozenset()  # actor ids
    cves: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Thresholds:
    """Cosine needed for "same story" in each situation (tuned on tests/data/story_pairs.jsonl)."""

    plain: float = 0.30
    shared_cve: float = 0.12
    shared_actor: float = 0.22
    conflicting: float = 0.55  # different CVEs, or different actors
    same_source: float = 0.60


DEFAULT_THRESHOLDS = Thresholds()


@dataclass
class _Doc:
    doc: ClusterDoc
    order: int
    ts: float | None
    tf: Counter[str]
    cves: frozenset[str]
    vec: dict[str, float] = field(default_factory=dict)


def _timestamp(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _prepare(docs: Sequence[ClusterDoc]) -> list[_Doc]:
    prepared: list[_Doc] = []
    seen: set[str] = set()
    for i, d in enumerate(docs):
        if d.id in seen:
            continue
        seen.add(d.id)
        lede = first_words(d.text, _LEDE_WORDS)
        tf = Counter(content_tokens(d.title))
        for k in tf:
            tf[k] *= 2
        tf.update(content_tokens(lede))
        cves = frozenset(d.cves) | frozenset(extract_cves(f"{d.title}\n{d.text[:20000]}"))
        prepared.append(_Doc(d, i, _timestamp(d.published), tf, cves))
    df: Counter[str] = Counter()
    for p in prepared:
        df.update(p.tf.keys())
    n = len(prepared) + _PSEUDO_DOCS
    for p in prepared:
        vec = {t: (1.0 + math.log(c)) * math.log((n + 1) / (df[t] + 0.5)) for t, c in p.tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        p.vec = {t: v / norm for t, v in vec.items()}
    return prepared


def _cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def _within(a: _Doc, b: _Doc, window: float) -> bool:
    return a.ts is None or b.ts is None or abs(a.ts - b.ts) <= window


def _needed(a: _Doc, b: _Doc, th: Thresholds) -> float:
    need = th.plain
    if a.cves & b.cves:
        need = th.shared_cve
    elif a.cves and b.cves:
        need = th.conflicting
    actors_a, actors_b = a.doc.actors, b.doc.actors
    if actors_a and actors_b:
        if actors_a & actors_b:
            need = min(need, th.shared_actor) if not (a.cves and b.cves and not a.cves & b.cves) else need
        else:
            need = max(need, th.conflicting)
    if a.doc.source and a.doc.source == b.doc.source:
        need = max(need, th.same_source)
    return need


def similarity(a: ClusterDoc, b: ClusterDoc) -> float:
    """TF-IDF cosine of two articles as :func:`cluster` measures it (with a two-document batch)."""
    pa, pb = _prepare([a, b])
    return _cos(pa.vec, pb.vec)


def same_story(a: ClusterDoc, b: ClusterDoc, *, window_hours: int = 72) -> bool:
    """Whether two articles, on their own, would be put in one story."""
    return len(cluster([a, b], window_hours=window_hours)) == 1


def _completeness(d: ClusterDoc) -> int:
    return min(len(words(d.text)), 5000) + 40 * (len(d.cves) + len(d.actors))


def _best_key(d: ClusterDoc, order: int) -> tuple[int, int, float, int]:
    ts = _timestamp(d.published)
    return (0 if d.source_kind == "vendor" else 1, -_completeness(d), ts if ts is not None else math.inf, order)


def best_source(docs: Sequence[ClusterDoc]) -> ClusterDoc:
    """The article to lead a story with: vendor research first, then the most complete article."""
    if not docs:
        raise ValueError("best_source() needs at least one document")
    return min(((d, i) for i, d in enumerate(docs)), key=lambda di: _best_key(*di))[0]


def cluster(docs: Sequence[ClusterDoc], *, window_hours: int = 72,
            thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[list[str]]:
    """Group articles into stories; every id in exactly one, stories by earliest member, best source first."""
    prepared = _prepare(docs)
    window = window_hours * 3600.0
    n = len(prepared)

    # candidate pairs: sharing a distinctive term, a CVE or an actor
    index: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(prepared):
        top = sorted(p.vec.items(), key=lambda kv: -kv[1])[:_TOP_TERMS]
        keys = [f"t:{t}" for t, _ in top] + [f"c:{c}" for c in p.cves] + [f"a:{a}" for a in p.doc.actors]
        for k in keys:
            index[k].append(i)
    cache: dict[tuple[int, int], bool] = {}
    scores: dict[tuple[int, int], float] = {}

    def same(i: int, j: int) -> bool:
        key = (i, j) if i < j else (j, i)
        if key not in cache:
            a, b = prepared[key[0]], prepared[key[1]]
            if not _within(a, b, window):
                cache[key] = False
            else:
                s = _cos(a.vec, b.vec)
                scores[key] = s
                cache[key] = s >= _needed(a, b, thresholds)
        return cache[key]

    edges: set[tuple[int, int]] = set()
    for members in index.values():
        if len(members) < 2 or len(members) > max(50, n // 4):
            continue  # a term in a quarter of the batch is no evidence
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if i != j and same(i, j):
                    edges.add((i, j) if i < j else (j, i))

    # average-linkage merging, strongest pairs first
    parent = list(range(n))
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def span_ok(ga: list[int], gb: list[int]) -> bool:
        stamps = [prepared[k].ts for k in ga + gb if prepared[k].ts is not None]
        return not stamps or max(stamps) - min(stamps) <= window

    for i, j in sorted(edges, key=lambda e: -scores.get(e, 0.0)):
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        ga, gb = groups[ri], groups[rj]
        if not span_ok(ga, gb):
            continue
        if len(ga) * len(gb) > 1:
            agree = sum(1 for a in ga for b in gb if same(a, b))
            if agree * 2 < len(ga) * len(gb):
                continue
        parent[rj] = ri
        groups[ri] = ga + gb
        del groups[rj]

    stories: list[tuple[float, int, list[str]]] = []
    for members in groups.values():
        ordered = sorted(members, key=lambda k: _best_key(prepared[k].doc, prepared[k].order))
        stamps = [prepared[k].ts for k in members if prepared[k].ts is not None]
        first = min(stamps) if stamps else math.inf
        stories.append((first, min(prepared[k].order for k in members), [prepared[k].doc.id for k in ordered]))
    stories.sort(key=lambda s: (s[0], s[1]))
    return [ids for _, _, ids in stories]
