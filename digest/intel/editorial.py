"""Editorial judgment on one article: section, exploited flag per CVE, sponsored, importance.

One place for the judgments the digest prints (``digest analyse`` is its contract command): a
story is filed under its primary actor (:mod:`digest.intel.actors.salience`), in the section ``topic``
names, with the exploited flag per CVE; sponsored items stay out of the issue; importance orders
and selects the stories.

The section comes from a small linear model (:mod:`digest.intel.section_model`, weights shipped in
``data/section_model.json``, trained on the dev half of the real-news labels) over hashed words and
the keyword rules' scores; the exploited flag is bound per CVE to the sentence that says it
(:func:`digest.intel.topics.cve_flags`) or to CISA's KEV catalogue; sponsored items are found by
rules on the headline and the text (:mod:`digest.intel.sponsored`); importance is a weighted sum
of features (attribution, exploitation, scale, source kind, recency, the section, and a ridge
reading of the headline and lede's embedding), weighted on the dev half.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest.intel.actors.salience import primary_actor
from digest.intel.sponsored import is_sponsored as _is_sponsored
from digest.intel.sponsored import sponsored_reasons
from digest.intel.sponsored_model import decide as decide_sponsored
from digest.intel.topics import TOPICS, classify_scored, cve_flags
from digest.models import ActorHit

__all__ = ["CveFlag", "Judgment", "importance_features", "judge", "sponsored_reasons", "story_importance"]

DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class CveFlag:
    id: str
    exploited: bool


@dataclass(frozen=True)
class Judgment:
    topic: str  # a key of digest.intel.topics.TOPICS
    cves: tuple[CveFlag, ...] = ()
    sponsored: bool = False
    importance: float = 0.0  # higher matters more; comparable within a batch
    primary: str | None = None  # the primary actor's id
    why: tuple[str, ...] = ()  # what `digest analyse --explain` prints

    @property
    def exploited_cves(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.cves if c.exploited)


# --------------------------------------------------------------------------- importance

_SCALE = re.compile(
    r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(million|billion|m|bn|k|thousand)?\s+(?:\w+\s+){0,2}?"
    r"(records|customers|users|people|patients|individuals|accounts|victims|members|students|employees|"
    r"organi[sz]ations|companies|businesses|devices|servers|systems|instances|sites|websites|files|rows)\b",
    re.IGNORECASE,
)
_MONEY = re.compile(r"(?:[$€£]\s?(\d[\d,]*(?:\.\d+)?)\s*(million|billion|m|bn|k)?\b)|"
                    r"(\d[\d,]*(?:\.\d+)?)\s*(million|billion)\s+(?:dollars|euros|usd)\b", re.IGNORECASE)
_MULT = {"million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "k": 1e3, "thousand": 1e3}
_ADVISORY = re.compile(r"\b(?:cisa|ncsc|fbi|nsa|cert-\w+|europol|joint\ advisory|emergency\ directive|"
                       r"advisory|warns?|warning)\b", re.IGNORECASE | re.VERBOSE)
_RESEARCH = re.compile(r"\b(?:researchers?|research|report(?:ed)?\ by|analysis|discovered|uncovered|spotted|"
                       r"threat\ intelligence|unit\ 42|talos|mandiant|microsoft\ threat|google\ threat|"
                       r"check\ point|eset|kaspersky|sophos|trend\ micro|proofpoint|crowdstrike)\b",
                       re.IGNORECASE | re.VERBOSE)


def _number(raw: str, mult: str | None) -> float:
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        return 0.0
    return value * _MULT.get((mult or "").lower(), 1.0)


def _scale(text: str) -> float:
    """log10 of the largest count of affected records/people/systems or money stated (0 when none)."""
    best = 0.0
    for m in _SCALE.finditer(text):
        best = max(best, _number(m.group(1), m.group(2)))
    for m in _MONEY.finditer(text):
        best = max(best, _number(m.group(1) or m.group(3), m.group(2) or m.group(4)))
    return math.log10(best) if best >= 10 else 0.0


@lru_cache(maxsize=1)
def _notable() -> frozenset[str]:
    """Organisations whose being hit is news in itself (data/notable.txt, one name a line)."""
    path = DATA / "notable.txt"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(x.strip().lower() for x in lines if x.strip() and not x.startswith("#"))


def _notable_victim(title: str) -> bool:
    words = re.findall(r"[A-Za-z][\w&.'-]*(?:\s+[A-Z][\w&.'-]*)?", title)
    names = _notable()
    low = title.lower()
    return any(w.lower() in names for w in words) or any(f" {n} " in f" {low} " for n in names if " " in n)


SECTION_KEYS = tuple(TOPICS)  # the section keys: exploited, ransomware, breach, malware, policy, industry, other
DEFAULT_WEIGHTS: dict[str, float] = {
    "bias": 1.0, "primary_actor": 1.0, "exploited_cve": 1.0, "kev_cve": 0.5, "says_exploited": 0.3,
    "government": 0.6, "vendor": 0.4, "advisory": 0.3, "research": 0.2, "scale": 0.15, "notable_victim": 0.6,
    "recency_days": -0.05, "long_text": 0.2, "outlets": 0.5,
    # the section (one of these is 1) and the embedding's learned reading of the headline and lede
    **{f"topic_{t}": 0.0 for t in SECTION_KEYS}, "embedding": 0.0,
}


@lru_cache(maxsize=1)
def _importance_data() -> dict[str, Any]:
    try:
        data = json.loads((DATA / "importance_weights.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@lru_cache(maxsize=1)
def importance_weights() -> dict[str, float]:
    """The weights fitted on the dev half (data/importance_weights.json), or the defaults."""
    try:
        weights = {k: float(v) for k, v in _importance_data()["weights"].items()}
    except (KeyError, TypeError, AttributeError, ValueError):
        return dict(DEFAULT_WEIGHTS)
    return {**DEFAULT_WEIGHTS, **weights}


@lru_cache(maxsize=1)
def _embedding_reader() -> tuple[Any, float] | None:
    """The ridge weights that read importance off the embedding block (None: none shipped)."""
    import numpy as np

    try:
        block = _importance_data()["embedding_model"]
        w = np.asarray(block["weights"], dtype=np.float64)
        return w, float(block["bias"])
    except (KeyError, TypeError, ValueError):
        return None


def needs_embedding() -> bool:
    """Whether importance reads the embedding block (so judge() computes it when the caller did not)."""
    return _embedding_reader() is not None and importance_weights().get("embedding", 0.0) != 0.0


def embedding_importance(emb: Any) -> float:
    """The embedding's reading of importance (a label-scale number, centred on the dev mean; 0 without one)."""
    reader = _embedding_reader()
    if reader is None or emb is None:
        return 0.0
    w, b = reader
    if getattr(emb, "shape", None) != w.shape:
        return 0.0
    return float(emb @ w + b)


def clear_caches() -> None:
    """Forget the loaded weights (after training wrote new ones)."""
    _importance_data.cache_clear()
    importance_weights.cache_clear()
    _embedding_reader.cache_clear()


def importance_features(title: str, text: str, *, primary: bool, cves: Sequence[CveFlag], kev: frozenset[str],
                        says_exploited: bool, source_kind: str, published: datetime | None,
                        now: datetime | None, topic: str | None = None, emb: Any = None) -> dict[str, float]:
    """The features importance weighs (all but "outlets", which is the story's).

    ``topic`` is the article's section; ``emb`` its embedding block
    (:func:`digest.intel.section_model.embeddings`), which a ridge fitted on the dev half reads.
    """
    head = f"{title}\n{text[:3000]}"
    days = 0.0
    if published is not None and now is not None:
        p = published if published.tzinfo else published.replace(tzinfo=UTC)
        n = now if now.tzinfo else now.replace(tzinfo=UTC)
        days = max((n - p).total_seconds() / 86400.0, 0.0)
    return {
        "bias": 1.0,
        "primary_actor": 1.0 if primary else 0.0,
        "exploited_cve": 1.0 if any(c.exploited for c in cves) else 0.0,
        "kev_cve": 1.0 if any(c.id in kev for c in cves) else 0.0,
        "says_exploited": 1.0 if says_exploited else 0.0,
        "government": 1.0 if source_kind == "government" else 0.0,
        "vendor": 1.0 if source_kind == "vendor" else 0.0,
        "advisory": 1.0 if _ADVISORY.search(title) else 0.0,
        "research": 1.0 if _RESEARCH.search(head) else 0.0,
        "scale": _scale(head),
        "notable_victim": 1.0 if _notable_victim(title) else 0.0,
        "recency_days": min(days, 14.0),
        "long_text": 1.0 if len(text) > 1500 else 0.0,
        **{f"topic_{t}": 1.0 if topic == t else 0.0 for t in SECTION_KEYS},
        "embedding": embedding_importance(emb),
    }


def _weighted(features: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(k, 0.0) * v for k, v in features.items())


# --------------------------------------------------------------------------- judge

def judge(title: str, text: str, *, actors: Sequence[ActorHit] = (), source: str = "",
          source_kind: str = "news", published: datetime | None = None,
          kev: frozenset[str] = frozenset(), now: datetime | None = None, explain: bool = False,
          baseline: bool = False, emb: Any = None) -> Judgment:
    """The section, the CVE flags, sponsored and importance of one article.

    ``kev`` is CISA's catalogue (:func:`digest.intel.kev.load_kev`); ``now`` the time recency is
    measured from (none: recency does not count); ``explain`` fills ``why``. ``baseline`` gives
    the judgment of the keyword rules the model replaced (keyword topic, story-wide exploited
    flag, nothing sponsored), which ``make eval`` prints beside it.
    """
    info, scores = classify_scored(title, text)
    primary = primary_actor(title, text, actors)
    if baseline:
        importance = 1.0 + (1.0 if primary else 0.0) + (1.0 if info.exploited else 0.0)
        return Judgment(topic=info.topic, cves=tuple(CveFlag(c, info.exploited) for c in info.cves),
                        sponsored=False, importance=importance, primary=primary.id if primary else None)
    why: list[str] | None = [] if explain else None
    flags = tuple(CveFlag(c, e) for c, e in cve_flags(title, text, kev, why))
    from digest.intel import section_model
    from digest.intel.section_model import predict_section

    if emb is None and (section_model.needs_embedding() or needs_embedding()):
        emb = section_model.embedding(title, text)  # once, for the section and for importance
    reasons = sponsored_reasons(title, text)
    sponsored, model_reason = decide_sponsored(title, text, source, _is_sponsored(reasons))
    if model_reason:
        reasons.append(model_reason)
    topic = predict_section(title, text, info=info, cves=flags, has_actor=primary is not None, scores=scores,
                            source=source, why=why, emb=emb, sponsored=sponsored)
    if why is not None:
        why.extend(reasons)
    features = importance_features(title, text, primary=primary is not None, cves=flags, kev=kev,
                                   says_exploited=info.exploited, source_kind=source_kind, published=published,
                                   now=now, topic=topic, emb=emb)
    weights = importance_weights()
    importance = _weighted(features, weights)
    if sponsored:
        importance -= 2.0
    if why is not None:
        fired = [f"{k}={v:.3g}x{weights.get(k, 0.0):+g}" for k, v in features.items()
                 if v and k != "bias" and weights.get(k, 0.0)]
        why.append(f"importance {importance:.2f}: " + (", ".join(fired) or "no feature"))
    return Judgment(topic=topic, cves=flags, sponsored=sponsored, importance=round(importance, 4),
                    primary=primary.id if primary else None, why=tuple(why or ()))


# --------------------------------------------------------------------------- batch context

COVERAGE_SIMILARITY = 0.25  # headline+lede cosine at which two articles tell the same event
# the story model's probability a coverage link also needs: words alone link two different events
# that share a headline's vocabulary ("critical unpatched ... exploited" of two products)
COVERAGE_CONFIRM = 0.2
REPEAT_PENALTY = 1.0  # an article whose event another article of the batch tells with more weight


def coverage(titles: Sequence[str], texts: Sequence[str], published: Sequence[datetime | None], *,
             window_hours: float = 72.0, sources: Sequence[str] | None = None,
             confirm: float = COVERAGE_CONFIRM) -> list[set[int]]:
    """For each article, the others of the batch that tell the same event (loosely, by headline and lede).

    Looser than story clustering on purpose: it counts how widely an event is covered even where
    the clusters split it, and lets importance rank an event once (see :func:`batch_importance`).
    A link is a headline-and-lede TF-IDF cosine of :data:`COVERAGE_SIMILARITY` that the story model
    (:mod:`digest.intel.story_features`) also gives a probability of at least ``confirm`` (0: words alone).
    """
    out = _word_coverage(titles, texts, published, window_hours=window_hours)
    if confirm > 0:
        _confirm_links(out, titles, texts, published, sources, confirm, window_hours)
    return out


def _confirm_links(out: list[set[int]], titles: Sequence[str], texts: Sequence[str],
                   published: Sequence[datetime | None], sources: Sequence[str] | None, level: float,
                   window_hours: float) -> None:
    """Drop the links of ``out`` the story model scores below ``level`` (in place)."""
    from digest.intel.cluster import ClusterDoc
    from digest.intel.story_features import PairScorer, load_model, prepare

    linked = sorted({i for i, near in enumerate(out) if near})
    if not linked:
        return
    model = load_model()
    docs = [ClusterDoc(id=str(i), title=titles[i], text=texts[i], source=(sources[i] if sources else "") or f"#{i}",
                       published=published[i]) for i in linked]
    at = {i: n for n, i in enumerate(linked)}
    pairs = [(a, b) for a in linked for b in sorted(out[a]) if a < b]
    scorer = PairScorer(prepare(docs, use_embedding=model.uses_embedding), window_hours * 3600.0)
    probs = model.probabilities(scorer.features([at[a] for a, _ in pairs], [at[b] for _, b in pairs]))
    for (a, b), p in zip(pairs, probs):
        if p < level:
            out[a].discard(b)
            out[b].discard(a)


def _word_coverage(titles: Sequence[str], texts: Sequence[str], published: Sequence[datetime | None], *,
                   window_hours: float) -> list[set[int]]:
    """The links of :func:`coverage` by words alone."""
    from digest.intel.text import content_tokens, first_words

    n = len(titles)
    tfs = []
    for t, x in zip(titles, texts):
        tf: dict[str, float] = {}
        for w in content_tokens(t):
            tf[w] = tf.get(w, 0.0) + 2.0
        for w in content_tokens(first_words(x, 40)):
            tf[w] = tf.get(w, 0.0) + 1.0
        tfs.append(tf)
    df: dict[str, int] = {}
    for tf in tfs:
        for w in tf:
            df[w] = df.get(w, 0) + 1
    total = n + 50  # a pseudo-corpus, so that small batches weigh words like large ones
    vecs, index = [], {}
    for i, tf in enumerate(tfs):
        vec = {w: (1.0 + math.log(c)) * math.log((total + 1) / (df[w] + 0.5)) for w, c in tf.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vecs.append({w: v / norm for w, v in vec.items()})
        for w in sorted(vec, key=lambda k: -vec[k])[:8]:
            index.setdefault(w, []).append(i)
    stamps = [(p if p.tzinfo else p.replace(tzinfo=UTC)).timestamp() if p else None for p in published]
    out: list[set[int]] = [set() for _ in range(n)]
    seen: set[tuple[int, int]] = set()
    for members in index.values():
        if len(members) > 200:
            continue  # a word too common to tell events apart
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1:]:
                if (a, b) in seen:
                    continue
                seen.add((a, b))
                ta, tb = stamps[a], stamps[b]
                if ta is not None and tb is not None and abs(ta - tb) > window_hours * 3600:
                    continue
                va, vb = vecs[a], vecs[b]
                if len(va) > len(vb):
                    va, vb = vb, va
                if sum(v * vb.get(w, 0.0) for w, v in va.items()) >= COVERAGE_SIMILARITY:
                    out[a].add(b)
                    out[b].add(a)
    return out


def _outranks(judgments: Sequence[Judgment], published: Sequence[datetime | None], k: int, i: int) -> bool:
    """Whether article k leads article i's event: more important, or as important and earlier."""
    if judgments[k].importance != judgments[i].importance:
        return judgments[k].importance > judgments[i].importance
    pk, pi = published[k], published[i]
    if pk is not None and pi is not None and pk != pi:
        return pk < pi
    return k < i


def batch_importance(judgments: Sequence[Judgment], sources: Sequence[str], stories_outlets: Sequence[int],
                     neighbours: Sequence[set[int]], published: Sequence[datetime | None]) -> list[tuple[float, str]]:
    """Each article's importance in its batch, with the reason for the batch part.

    The article's own importance, plus the outlets that carry its event (the larger of its story's
    and its coverage's count), minus :data:`REPEAT_PENALTY` when another article of the same event
    weighs more (or as much and came first): the event is ranked once, by its lead article.
    """
    out: list[tuple[float, str]] = []
    for i, j in enumerate(judgments):
        covered = len({sources[k] or f"#{k}" for k in neighbours[i]} | {sources[i] or f"#{i}"})
        outlets = max(stories_outlets[i], covered)
        value = story_importance([j], outlets=outlets)
        why = f"outlets in batch: {outlets} (story {stories_outlets[i]}, coverage {covered})"

        lead = next((k for k in sorted(neighbours[i]) if _outranks(judgments, published, k, i)), None)
        if lead is not None:
            value -= REPEAT_PENALTY
            why += f"; a repeat of batch article {lead + 1} (-{REPEAT_PENALTY:g})"
        out.append((value, why))
    return out


def story_importance(judgments: Sequence[Judgment], *, outlets: int = 1) -> float:
    """A story's importance from its articles' and the number of outlets that carry it."""
    best = max((j.importance for j in judgments), default=0.0)
    return best + importance_weights()["outlets"] * math.log2(max(outlets, 1))
