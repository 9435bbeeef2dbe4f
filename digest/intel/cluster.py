"""Story clustering: articles from different feeds about the same event become one story.

Whether two articles tell one story is a learned decision (:mod:`digest.intel.story_features`):
logistic regression over TF-IDF cosines of headline, lede and both, cosines of a packaged static
embedding (headline, headline + lede, and one's headline against the other's headline + lede),
shared and conflicting CVEs and actors, shared capitalised names and figures, headline templates
with different names in them, the time gap and whether both come from one outlet (and whether that
outlet's two headlines name different subjects). It was trained on the dev half of 656 labelled
pairs of real news (``tests/data/realnews/story_pairs.jsonl``), its thresholds chosen by
date-blocked cross-validation on dev, and is measured on the test half (``digest eval-content``).
Fixed rules stay around it:

* articles further apart in time than the window (default 72 h) are never one story, and a story
  never spans more than the window;
* a roundup ("This Week in ...", "The Week in Ransomware", "weekly recap", "Infosec In Brief", a
  markets live blog, a morning newsletter, "X, Y, More", a listicle: "7 settlements to claim ...") is a
  story of its own: it mentions many events and must not swallow a specific one;
* one outlet's two articles whose headlines each name a subject the other never mentions are two
  stories (the same outlet's follow-up keeps its subject's name);
* clusters grow by average linkage over the pair probabilities (two groups merge only when the mean
  probability over all their cross pairs clears ``link``), so one loose pair cannot chain unrelated
  stories together; with the shipped model, two groups whose headlines agree on different amounts
  stay apart, and two groups of two or more articles merge only through ``bridges`` cross pairs of
  probability ``bridge_level`` or more (the stricter guards of issue 14's second round).

Candidate pairs come from an inverted index of each article's strongest terms, names, CVEs and
actors, and from each article's nearest neighbours by embedding; only those are scored.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from digest.intel.story_features import (
    FEATURES,
    PAIR_CHUNK,
    PairScorer,
    StoryModel,
    cos,
    features,
    load_model,
    prepare,
)
from digest.intel.text import words

__all__ = ["ClusterDoc", "best_source", "cluster", "cluster_prepared", "same_story", "similarity", "story_probability"]

_TOP_TERMS = 12  # per document, for candidate generation
_NEIGHBOURS = 20  # nearest neighbours by embedding, for candidate generation
_NEIGHBOUR_MIN = 0.5
_SPAN_FACTOR = 3  # a story grows through follow-ups, but never spans more than three windows


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


def _timestamp(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def similarity(a: ClusterDoc, b: ClusterDoc) -> float:
    """TF-IDF cosine of headline (twice) and lede of two articles (with a two-document batch)."""
    pa, pb = prepare([a, b], use_embedding=False)
    return cos(pa.vec_all, pb.vec_all)


def story_probability(a: ClusterDoc, b: ClusterDoc, *, window_hours: int = 72, model: StoryModel | None = None) -> float:
    """The model's probability that two articles, on their own, tell one story (0 outside the window)."""
    m = model or load_model()
    pa, pb = prepare([a, b], use_embedding=m.uses_embedding)
    window = window_hours * 3600.0
    if pa.ts is not None and pb.ts is not None and abs(pa.ts - pb.ts) > window:
        return 0.0
    return m.probability(features(pa, pb, window))


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


def _candidate_arrays(prepared: list, use_embedding: bool) -> tuple[Any, Any]:
    """Pairs worth scoring, sharing a distinctive term, name, CVE or actor, or near by embedding: two
    arrays (i < j) in sorted order, without a Python object per pair (a big window of near-duplicates
    has millions of candidate pairs)."""
    import numpy as np

    n = len(prepared)
    index: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(prepared):
        top = sorted(p.vec_all.items(), key=lambda kv: -kv[1])[:_TOP_TERMS]
        keys = [f"t:{t}" for t, _ in top] + [f"n:{k}" for k in p.title_names] + [f"c:{c}" for c in p.cves]
        keys += [f"a:{a}" for a in p.actors]
        for k in keys:
            index[k].append(i)
    codes: list[Any] = []
    cap = min(max(50, n // 4), 300)  # a term in a quarter of the batch (or in 300 articles) is no evidence
    for members in index.values():
        if 2 <= len(members) <= cap:
            m = np.asarray(members, dtype=np.int64)
            a, b = np.triu_indices(len(m), 1)
            lo, hi = np.minimum(m[a], m[b]), np.maximum(m[a], m[b])
            codes.append(lo * n + hi)
    if use_embedding and n > 1 and prepared[0].emb is not None:
        mat = np.stack([p.emb for p in prepared])
        k = min(_NEIGHBOURS, n - 1)
        for start in range(0, n, 512):
            sims = mat[start:start + 512] @ mat.T
            rows = np.arange(sims.shape[0])
            sims[rows, rows + start] = -1.0
            near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            ok = np.take_along_axis(sims, near, axis=1) >= _NEIGHBOUR_MIN
            i_idx = np.broadcast_to((rows + start)[:, None], near.shape)[ok]
            j_idx = near[ok].astype(np.int64)
            codes.append(np.minimum(i_idx, j_idx) * n + np.maximum(i_idx, j_idx))
    if not codes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    unique = np.unique(np.concatenate(codes))
    return unique // n, unique % n


def cluster(docs: Sequence[ClusterDoc], *, window_hours: int = 72, model: StoryModel | None = None,
            tfidf_threshold: float | None = None) -> list[list[str]]:
    """Group articles into stories; every id in exactly one, stories by earliest member, best source first.

    ``tfidf_threshold`` replaces the learned decision by a plain TF-IDF cosine threshold (the
    baseline the evaluation prints beside it); the rules around the decision stay the same.
    """
    m = model or load_model()
    use_embedding = m.uses_embedding and tfidf_threshold is None
    prepared = prepare(docs, use_embedding=use_embedding)
    return cluster_prepared(docs, prepared, window_hours=window_hours, model=m, tfidf_threshold=tfidf_threshold)


def cluster_prepared(docs: Sequence[ClusterDoc], prepared: list, *, window_hours: int = 72,
                     model: StoryModel | None = None, tfidf_threshold: float | None = None) -> list[list[str]]:
    """:func:`cluster` over a batch already reduced by :func:`prepare` (the training script scores
    many models on one batch this way)."""
    import numpy as np

    m = model or load_model()
    use_embedding = bool(prepared) and prepared[0].emb is not None and tfidf_threshold is None
    originals = {p.id: docs[p.order] for p in prepared}
    window = window_hours * 3600.0
    n = len(prepared)

    # score the candidate pairs (all at once); pairs never scored count as probability 0
    ii, jj = _candidate_arrays(prepared, use_embedding)
    ts = np.array([np.nan if p.ts is None else p.ts for p in prepared])
    roundup = np.array([p.roundup for p in prepared], dtype=bool)
    gap = np.abs(ts[ii] - ts[jj])
    keep = ~(gap > window) & ~roundup[ii] & ~roundup[jj]  # NaN gap (unknown date) is kept
    ii, jj = ii[keep], jj[keep]
    scorer = PairScorer(prepared, window)

    def score(x: Any) -> Any:
        if tfidf_threshold is not None:
            return (x[:, FEATURES.index("cos_all")] >= tfidf_threshold).astype(float)
        p = m.probabilities(x)
        # one outlet's two headlines naming different subjects: two victims in one template (a law
        # firm's or a wire's), never one story, however alike the rest of the wording is
        p[x[:, FEATURES.index("same_source_both_miss")] > 0] = 0.0
        return p

    # in slices: a big window has millions of candidate pairs, and only their probabilities are kept
    probs = np.concatenate([score(scorer.features(ii[k:k + PAIR_CHUNK], jj[k:k + PAIR_CHUNK]))
                            for k in range(0, len(ii), PAIR_CHUNK)]) if len(ii) else np.zeros(0)
    need, link = (0.5, 0.5) if tfidf_threshold is not None else (m.threshold, m.link)
    figure_guard = m.figure_guard and tfidf_threshold is None
    bridges = m.bridges if tfidf_threshold is None else 0
    bridge_level = m.bridge_level or need
    # each article's scored neighbours as one sorted array (CSR rows: by article, then by neighbour),
    # not a dict per article: a big window has close to a million scored pairs
    scored = probs > 0
    rows = np.concatenate([ii[scored], jj[scored]])
    cols = np.concatenate([jj[scored], ii[scored]])
    vals = np.concatenate([probs[scored], probs[scored]])
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.searchsorted(rows, np.arange(n + 1))

    def neighbours_of(a: int) -> Any:
        s, e = indptr[a], indptr[a + 1]
        return zip(cols[s:e].tolist(), vals[s:e].tolist(), strict=True)
    edges = sorted(((p, i, j) for i, j, p in zip(ii.tolist(), jj.tolist(), probs.tolist(), strict=True)
                    if p >= need), key=lambda e: (-e[0], e[1], e[2]))

    parent = list(range(n))
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    span = _SPAN_FACTOR * window

    def span_ok(ga: list[int], gb: list[int]) -> bool:
        stamps = [prepared[k].ts for k in ga + gb if prepared[k].ts is not None]
        return not stamps or max(stamps) - min(stamps) <= span

    def amounts_differ(ga: list[int], gb: list[int]) -> bool:
        # each group's headlines agree on an amount (two or more carry it) and neither group's
        # articles mention the other's: two seizures, two fines, two breaches of different sizes
        def agreed(g: list[int]) -> set[str]:
            counts = Counter(f for k in g for f in prepared[k].title_figures)
            return {f for f, c in counts.items() if c >= 2}

        fa, fb = agreed(ga), agreed(gb)
        if not fa or not fb:
            return False
        return not any(fa & prepared[k].figures for k in gb) and not any(fb & prepared[k].figures for k in ga)

    # two groups that may not merge stay so while neither grows: a group only changes by merging, so
    # (root, size) names its members, and the many edges between two big groups are judged once
    rejected: set[tuple[int, int, int, int]] = set()
    for _p, i, j in edges:
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        ga, gb = groups[ri], groups[rj]
        key = (ri, len(ga), rj, len(gb)) if ri < rj else (rj, len(gb), ri, len(ga))
        if key in rejected:
            continue
        if not span_ok(ga, gb) or (figure_guard and amounts_differ(ga, gb)):
            rejected.add(key)
            continue
        if len(ga) * len(gb) > 1:
            small, other = (ga, rj) if len(ga) <= len(gb) else (gb, ri)
            cross = [p for a in small for b, p in neighbours_of(a) if find(b) == other]
            # the mean probability over all cross pairs must clear the link; and two groups of two or
            # more joined by fewer strong pairs than ``bridges`` are a chain, not a story
            if sum(cross) < link * len(ga) * len(gb) or (
                    bridges and min(len(ga), len(gb)) >= 2 and sum(1 for p in cross if p >= bridge_level) < bridges):
                rejected.add(key)
                continue
        parent[rj] = ri
        groups[ri] = ga + gb
        del groups[rj]

    stories: list[tuple[float, int, list[str]]] = []
    for members in groups.values():
        ordered = sorted(members, key=lambda k: _best_key(originals[prepared[k].id], prepared[k].order))
        stamps = [prepared[k].ts for k in members if prepared[k].ts is not None]
        first = min(stamps) if stamps else math.inf
        stories.append((first, min(prepared[k].order for k in members), [prepared[k].id for k in ordered]))
    stories.sort(key=lambda s: (s[0], s[1]))
    return [ids for _, _, ids in stories]
