"""What the same-story decision looks at: per-article signals, pair features and the learned weights.

Each article is reduced once (:func:`prepare`) to

* three TF-IDF vectors — headline, lede (first 120 words) and both (headline counted twice) — with
  light stemming, the IDF taken from the batch mixed with 50 pseudo-documents so that a
  two-article batch behaves like a big one;
* a static sentence embedding of headline and lede (wordllama's bundled 256-d model, loaded from
  the installed package, never downloaded; left out when the package is absent);
* entities: CVE IDs, actor ids (from the actor stage), capitalised names (victims, products,
  places; "Scattered Spider" and "ScatteredSpider" are one name) and figures (amounts, record
  counts: "17.5 million", "$1.5bn", "200GB"); a roundup flag ("This Week in ...", "Week in
  Ransomware", "weekly recap", "Infosec In Brief", "... and More").

A pair of articles becomes a fixed feature vector (:data:`FEATURES`) scored by logistic regression
with weights trained on the dev half of ``tests/data/realnews/story_pairs.jsonl``
(``bench/train_stories.py`` writes ``digest/intel/data/story_model.json``). Inference is numpy-free
arithmetic over a dozen numbers per pair.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest.intel.text import STOPWORDS, content_tokens, first_words
from digest.intel.topics import extract_cves

__all__ = ["FEATURES", "Prepared", "StoryModel", "embedder", "features", "is_roundup", "load_model", "prepare"]

LEDE_WORDS = 120
_EMBED_WORDS = 60
PSEUDO_DOCS = 50

FEATURES = (
    "cos_title",  # TF-IDF cosine of the headlines
    "cos_lede",  # ... of the ledes
    "cos_all",  # ... of headline (twice) and lede together
    "embedding",  # cosine of the static embeddings of headline + lede
    "embedding_title",  # ... of the headlines alone
    "names",  # IDF-weighted cosine of the capitalised names (headline and lede)
    "title_names",  # ... of the names in the headlines
    "name_conflict",  # each headline names someone the other article never mentions, and nothing in common
    "name_miss",  # the smaller share (IDF-weighted) of a headline's names the other article never mentions
    "shared_cve",
    "conflicting_cve",  # both name CVEs, none in common
    "shared_actor",
    "conflicting_actor",  # both name actors, none in common
    "shared_figures",  # amounts and counts in common (0, 0.5 for one, 1 for two or more)
    "figure_conflict",  # both headlines carry amounts or counts, none in common
    "time_gap",  # hours apart / window, 0..1
    "same_source",
    "no_lede",  # one of the two has no text beyond its headline
    "emb_cross",  # the better of headline-of-one against headline+lede-of-the-other embedding cosines
    "same_source_title",  # same outlet times the headline embedding cosine (the outlet's own follow-up)
    "template",  # headline cosine times name_miss: one headline template, different names in it
    "both_miss",  # each headline names someone the other article never mentions (two victims, one template)
    "same_source_both_miss",  # ... and both from one outlet: its follow-ups keep their subject's name
)

# --------------------------------------------------------------------------- entities

_ROUNDUP = re.compile(
    r"\b(?:the\s+week\s+in\s+(?:ransomware|security|review|cyber)|week\s+in\s+review|"
    r"weekly\s+(?:recap|roundup|round-up|digest|update|wrap|briefing)|in\s+other\s+news|infosec\s+in\s+brief|"
    r"news\s+roundup|security\s+roundup|hodler['’]?s\s+digest|daily\s+briefing|week\s+\d+\s+recap|"
    r"podcast\s+episode|\(podcast\)|friday\s+squid\s+blogging|"
    r"(?:ftse\s*\d+|markets?|stock\s+market)\s+live\b|rolling\s+coverage\s+of|today['’]s\s+must[- ]reads|"
    r"all\s+the\s+news\s+you\s+need|the\s+week['’]s\s+(?:top|biggest)\s+(?:security\s+)?(?:news|stories))",
    re.IGNORECASE,
)
# "X, Y, Z and More" / "X, Y, More" recap headlines
# whose first item is a short headline of its own ("Data breach exposes names, addresses and more" is no recap)
_AND_MORE = re.compile(r"^\W*(?:\S+\s+){0,2}\S+,.*,.*\band\s+more\s*$|^\W*(?:\S+\s+){0,2}\S+,[^,]+,\s*(?:&\s*)?more\s*$",
                       re.IGNORECASE)
_THIS_WEEK_IN = re.compile(r"\bthis\s+week\s+in\b", re.IGNORECASE)  # headline only: "said this week in a report"
# a listicle headline ("7 settlements to claim before ...", "5 things to know for ...", "10 biggest breaches
# of the year"): several events in one article; "15 ransomware gangs announce ..." or "4 teens arrested"
# is one event, so only nouns that list things count
_LISTICLE = re.compile(
    r"^\W*(?:the\s+)?(?:top\s+)?(?:[3-9]|[1-9]\d)\s+(?:\w+\s+){0,2}?(?:settlements|things|ways|myths|tips|reasons|lessons|"
    r"takeaways|mistakes|questions|trends|predictions|stories|headlines|breaches|hacks|data\s+breaches)\b",
    re.IGNORECASE)


def is_roundup(title: str, text: str) -> bool:
    """A roundup of several stories (weekly recap, news in brief, a markets live blog, a morning
    newsletter, a listicle), which never joins a specific story."""
    return bool(_ROUNDUP.search(title) or _THIS_WEEK_IN.search(title) or _AND_MORE.search(title)
                or _LISTICLE.search(title) or _ROUNDUP.search(text[:400]))


_NAME = re.compile(r"\b[A-Z][\w&'’.\-]*[A-Za-z0-9](?:\s+(?:of\s+|de\s+|&\s+)?[A-Z][\w&'’.\-]*[A-Za-z0-9])*")
_COMMON_CAPS = frozenset(
    ["the", "a", "an", "in", "on", "at", "of", "for", "and", "or", "to", "with", "as", "by", "from", "after", "over", "under", "new", "how", "why", "what", "who", "this", "that", "is", "are", "was", "were", "be", "it", "its", "his", "her", "their", "our", "we", "they", "he", "she", "you", "your", "i", "my", "here", "there", "when", "while", "but", "not", "no", "now", "more", "most", "data", "breach", "cyber", "attack", "attacks", "hackers", "hacker", "hacking", "ransomware", "security", "cybersecurity", "ddos", "million", "billion", "says", "said", "hit", "hits", "users", "customers", "claims", "investigated", "alert", "investigation", "law", "firm", "could", "have", "may", "been", "warns", "warning", "police", "government", "report", "latest", "update", "live", "updates", "news", "breaking", "cyberattack", "information", "personal", "stolen", "leak", "leaked", "exposed", "lawsuit", "settlement", "class", "action", "investor", "key", "takeaways", "tldr", "post", "read", "full", "article", "breaking:", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "week", "today", "lead", "2nd", "3rd", "ld", "globe", "newswire", "business", "wire", "prnewswire"]
)
_FIGURE = re.compile(
    r"(?<![\w.])([$£€₩¥]\s?)?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*"
    r"(million|mln|mil\.?|billion|bln|bn|trillion|tln|thousand|m\b|k\b|tb\b|gb\b|tbps|%|percent|lakh|crore)?",
    re.IGNORECASE,
)
_SCALE = {"million": 1e6, "mln": 1e6, "mil": 1e6, "mil.": 1e6, "m": 1e6, "billion": 1e9, "bln": 1e9, "bn": 1e9,
          "trillion": 1e12, "tln": 1e12, "thousand": 1e3, "k": 1e3, "lakh": 1e5, "crore": 1e7}


def _cap_words(text: str) -> list[str]:
    return [w.lower().removesuffix("'s").strip(".'-") for w in _CAP_WORD.findall(text.replace("’", "'"))]


_CAP_WORD = re.compile(r"\b[A-Z][\w&'.\-]*[A-Za-z0-9]")
_LOWER_WORD = re.compile(r"\b[a-z][a-z\-]+\b")


def names(text: str) -> frozenset[str]:
    """Capitalised names in sentence-case text: each word, and multi-word names joined ("scatteredspider").

    Lowercased and without possessives, so "Scattered Spider" and "ScatteredSpider" share a key;
    common capitalised words (weekdays, months, "Data", "Breach"...) are left out.
    """
    out: set[str] = set()
    for m in _NAME.finditer(text.replace("’", "'")):
        parts = [w.lower().removesuffix("'s").strip(".'-") for w in m.group(0).split()]
        parts = [w for w in parts if w not in _COMMON_CAPS and w not in STOPWORDS and len(w) >= 2]
        out.update(w for w in parts if len(w) >= 3 and not w.isdigit())
        if len(parts) > 1:
            out.add("".join(parts))
    return frozenset(out)


def title_names(title: str, lede: str) -> frozenset[str]:
    """Names of a headline: its capitalised words that are not common words (headlines capitalise
    everything, so a word the lede writes in lowercase is a common word, not a name)."""
    lower = set(_LOWER_WORD.findall(lede[:2000]))
    return frozenset(w for w in _cap_words(title)
                     if len(w) >= 3 and w not in _COMMON_CAPS and w not in STOPWORDS and w not in lower
                     and not w.isdigit())


def figures(text: str) -> frozenset[str]:
    """Amounts and counts written in ``text``, normalised ("17.5 million" and "17,500,000" agree)."""
    out: set[str] = set()
    for m in _FIGURE.finditer(text):
        cur, num, unit = m.group(1), m.group(2), (m.group(3) or "").lower()
        try:
            value = float(num.replace(",", ""))
        except ValueError:
            continue
        if not cur and not unit and (value < 100 or 1900 <= value <= 2100):
            continue  # small counts, ages and years say little about which event
        if unit in ("tb", "gb", "tbps", "%", "percent"):
            out.add(f"{value:g}{unit}")
            continue
        value *= _SCALE.get(unit.rstrip("."), 1.0)
        out.add(f"{value:.3g}")
    return frozenset(out)


# --------------------------------------------------------------------------- embedding


class _Embedder:
    """wordllama's bundled 256-d static embedding, loaded from the installed package without network."""

    def __init__(self) -> None:
        import wordllama
        from wordllama import WordLlama

        root = Path(wordllama.__file__).parent
        self._model = WordLlama.load(config="l2_supercat", dim=256, cache_dir=root, disable_download=True)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import numpy as np

        vecs = np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32)
        return vecs  # type: ignore[return-value]


@lru_cache(maxsize=1)
def embedder() -> _Embedder | None:
    """The embedding model, or None when wordllama is not installed or its bundled files are missing."""
    try:
        return _Embedder()
    except Exception:  # noqa: BLE001 - any failure to load means "no embedding feature", never a crash
        return None


# --------------------------------------------------------------------------- prepared articles


@dataclass
class Prepared:
    """One article reduced to what the pair features need."""

    id: str
    order: int
    ts: float | None
    source: str
    actors: frozenset[str]
    cves: frozenset[str]
    names: frozenset[str]
    title_names: frozenset[str]
    figures: frozenset[str]
    title_figures: frozenset[str]
    roundup: bool
    has_lede: bool
    tf_all: Counter[str]
    vec_title: dict[str, float] = field(default_factory=dict)
    vec_lede: dict[str, float] = field(default_factory=dict)
    vec_all: dict[str, float] = field(default_factory=dict)
    name_w: dict[str, float] = field(default_factory=dict)
    title_name_w: dict[str, float] = field(default_factory=dict)
    emb: Any = None
    emb_title: Any = None


def _timestamp(dt: datetime | None) -> float | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _tfidf(tf: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    vec = {t: (1.0 + math.log(c)) * idf[t] for t, c in tf.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items()}


def _weights(keys: frozenset[str], df: Counter[str], n: int) -> dict[str, float]:
    w = {k: math.log((n + 1) / (df[k] + 0.5)) for k in keys}
    norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
    return {k: v / norm for k, v in w.items()}


def prepare(docs: Sequence[Any], *, use_embedding: bool = True) -> list[Prepared]:
    """Reduce :class:`~digest.intel.cluster.ClusterDoc` objects (first of each id) for pair scoring."""
    out: list[Prepared] = []
    tfs: list[tuple[Counter[str], Counter[str]]] = []
    texts: list[str] = []
    titles: list[str] = []
    seen: set[str] = set()
    for i, d in enumerate(docs):
        if d.id in seen:
            continue
        seen.add(d.id)
        lede = first_words(d.text, LEDE_WORDS)
        title_tf = Counter(content_tokens(d.title))
        lede_tf = Counter(content_tokens(lede))
        tf_all = Counter({k: 2 * v for k, v in title_tf.items()})
        tf_all.update(lede_tf)
        head = f"{d.title}\n{lede[:800]}"
        has_lede = bool(lede_tf) and set(lede_tf) != set(title_tf)
        out.append(Prepared(
            id=d.id, order=i, ts=_timestamp(d.published), source=d.source.strip().lower(),
            actors=frozenset(d.actors), cves=frozenset(d.cves) | frozenset(extract_cves(f"{d.title}\n{d.text[:20000]}")),
            names=names(head), title_names=title_names(d.title, lede), figures=figures(head), title_figures=figures(d.title), roundup=is_roundup(d.title, d.text), has_lede=has_lede,
            tf_all=tf_all))
        tfs.append((title_tf, lede_tf))
        texts.append(f"{d.title}. {first_words(d.text, _EMBED_WORDS)}")
        titles.append(d.title)
    n = len(out) + PSEUDO_DOCS
    df: Counter[str] = Counter()
    name_df: Counter[str] = Counter()
    for p in out:
        df.update(p.tf_all.keys())
        name_df.update(p.names)
    idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
    for p, (title_tf, lede_tf) in zip(out, tfs, strict=True):
        p.vec_title = _tfidf(title_tf, idf)
        p.vec_lede = _tfidf(lede_tf, idf)
        p.vec_all = _tfidf(p.tf_all, idf)
        p.name_w = _weights(p.names, name_df, n)
        p.title_name_w = _weights(p.title_names, name_df, n)
    emb = embedder() if use_embedding and out else None
    if emb is not None:
        vecs = emb.embed(texts)
        title_vecs = emb.embed(titles)
        for p, v, tv in zip(out, vecs, title_vecs, strict=True):
            p.emb = v
            p.emb_title = tv
    return out


def cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def _miss(a: Prepared, b: Prepared) -> float:
    """Share of ``a``'s headline names (by weight) that ``b`` never mentions (0 when ``a`` names none)."""
    if not a.title_name_w:
        return 0.0
    total = sum(a.title_name_w.values())
    return sum(v for k, v in a.title_name_w.items() if k not in b.names) / total if total else 0.0


def features(a: Prepared, b: Prepared, window: float) -> list[float]:
    """The pair's feature vector, in :data:`FEATURES` order."""
    emb = float(a.emb @ b.emb) if a.emb is not None and b.emb is not None else 0.0
    emb_title = float(a.emb_title @ b.emb_title) if a.emb_title is not None and b.emb_title is not None else 0.0
    shared_figs = len(a.figures & b.figures)
    if a.ts is None or b.ts is None:
        gap = 0.5
    else:
        gap = min(1.0, abs(a.ts - b.ts) / window) if window > 0 else 0.0
    return [
        cos(a.vec_title, b.vec_title),
        cos(a.vec_lede, b.vec_lede),
        cos(a.vec_all, b.vec_all),
        emb,
        emb_title,
        cos(a.name_w, b.name_w),
        cos(a.title_name_w, b.title_name_w),
        1.0 if a.title_names and b.title_names and not (a.title_names & b.names or b.title_names & a.names) else 0.0,
        min(_miss(a, b), _miss(b, a)),
        1.0 if a.cves & b.cves else 0.0,
        1.0 if a.cves and b.cves and not a.cves & b.cves else 0.0,
        1.0 if a.actors & b.actors else 0.0,
        1.0 if a.actors and b.actors and not a.actors & b.actors else 0.0,
        min(1.0, shared_figs / 2),
        1.0 if a.title_figures and b.title_figures and not a.title_figures & b.title_figures else 0.0,
        gap,
        1.0 if a.source and a.source == b.source else 0.0,
        0.0 if a.has_lede and b.has_lede else 1.0,
        max(_dot(a.emb_title, b.emb), _dot(b.emb_title, a.emb)),
        emb_title if a.source and a.source == b.source else 0.0,
        cos(a.vec_title, b.vec_title) * min(_miss(a, b), _miss(b, a)),
        1.0 if a.title_names - b.names and b.title_names - a.names else 0.0,
        1.0 if a.source and a.source == b.source and a.title_names - b.names and b.title_names - a.names else 0.0,
    ]


def _dot(u: Any, v: Any) -> float:
    return float(u @ v) if u is not None and v is not None else 0.0


PAIR_CHUNK = 20_000  # pairs scored at once (memory: about 100 terms of each article per pair)


class PairScorer:
    """Vectorised :func:`features` over many pairs of one prepared batch (sparse matrices, numpy).

    Same numbers as :func:`features` (a test checks it), about 50 times faster in bulk: clustering
    1,000 articles scores tens of thousands of candidate pairs.
    """

    def __init__(self, prepared: Sequence[Prepared], window: float) -> None:
        import numpy as np

        self.window = window
        self.n = len(prepared)
        self._title = _csr([p.vec_title for p in prepared])
        self._lede = _csr([p.vec_lede for p in prepared])
        self._all = _csr([p.vec_all for p in prepared])
        vocab = {k: n for n, k in enumerate(sorted({k for p in prepared for k in p.names | p.title_names}))}
        self._names_w = _csr([p.name_w for p in prepared], vocab)
        self._title_names_w = _csr([p.title_name_w for p in prepared], vocab)
        self._names_bin = _csr([dict.fromkeys(p.names, 1.0) for p in prepared], vocab)
        self._title_names_bin = _csr([dict.fromkeys(p.title_names, 1.0) for p in prepared], vocab)
        self._title_names_total = np.array([sum(p.title_name_w.values()) for p in prepared])
        self._title_names_count = np.array([len(p.title_names) for p in prepared])
        self._cves = _csr([dict.fromkeys(p.cves, 1.0) for p in prepared])
        self._actors = _csr([dict.fromkeys(p.actors, 1.0) for p in prepared])
        fig_vocab = {k: n for n, k in enumerate(sorted({k for p in prepared for k in p.figures | p.title_figures}))}
        self._figures = _csr([dict.fromkeys(p.figures, 1.0) for p in prepared], fig_vocab)
        self._title_figures = _csr([dict.fromkeys(p.title_figures, 1.0) for p in prepared], fig_vocab)
        has_emb = all(p.emb is not None for p in prepared) and self.n > 0
        self._emb = np.stack([p.emb for p in prepared]) if has_emb else None
        self._emb_title = np.stack([p.emb_title for p in prepared]) if has_emb else None
        self._ts = np.array([np.nan if p.ts is None else p.ts for p in prepared])
        sources: dict[str, int] = {}
        self._source = np.array([sources.setdefault(p.source, len(sources)) if p.source else -1 for p in prepared])
        self._has_lede = np.array([p.has_lede for p in prepared])

    def features(self, i: Any, j: Any) -> Any:
        """An (m, len(FEATURES)) array for the pairs ``(i[k], j[k])``."""
        import numpy as np

        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if len(i) > PAIR_CHUNK:  # the row products below materialise every pair's terms: bound them
            return np.vstack([self.features(i[k:k + PAIR_CHUNK], j[k:k + PAIR_CHUNK])
                              for k in range(0, len(i), PAIR_CHUNK)])
        out = np.zeros((len(i), len(FEATURES)))
        if not len(i):
            return out

        def dot(m: Any, other: Any = None) -> Any:
            other = m if other is None else other
            return np.asarray(m[i].multiply(other[j]).sum(axis=1)).ravel()

        def dot_rev(m: Any, other: Any) -> Any:
            return np.asarray(m[j].multiply(other[i]).sum(axis=1)).ravel()

        def nonempty(m: Any) -> Any:
            counts = np.diff(m.indptr)
            return counts[i] > 0, counts[j] > 0

        col = FEATURES.index
        out[:, col("cos_title")] = dot(self._title)
        out[:, col("cos_lede")] = dot(self._lede)
        out[:, col("cos_all")] = dot(self._all)
        if self._emb is not None:
            out[:, col("embedding")] = np.einsum("ij,ij->i", self._emb[i], self._emb[j])
            out[:, col("embedding_title")] = np.einsum("ij,ij->i", self._emb_title[i], self._emb_title[j])
        out[:, col("names")] = dot(self._names_w)
        out[:, col("title_names")] = dot(self._title_names_w)
        tn_i, tn_j = nonempty(self._title_names_bin)
        hit_ab = dot(self._title_names_bin, self._names_bin)
        hit_ba = dot_rev(self._title_names_bin, self._names_bin)
        out[:, col("name_conflict")] = tn_i & tn_j & (hit_ab == 0) & (hit_ba == 0)
        total_i, total_j = self._title_names_total[i], self._title_names_total[j]
        with np.errstate(invalid="ignore", divide="ignore"):
            miss_ab = np.where(total_i > 0, 1.0 - dot(self._title_names_w, self._names_bin) / total_i, 0.0)
            miss_ba = np.where(total_j > 0, 1.0 - dot_rev(self._title_names_w, self._names_bin) / total_j, 0.0)
        out[:, col("name_miss")] = np.clip(np.minimum(miss_ab, miss_ba), 0.0, 1.0)
        for name, conflict, m in (("shared_cve", "conflicting_cve", self._cves),
                                  ("shared_actor", "conflicting_actor", self._actors)):
            shared = dot(m) > 0
            has_i, has_j = nonempty(m)
            out[:, col(name)] = shared
            out[:, col(conflict)] = has_i & has_j & ~shared
        out[:, col("shared_figures")] = np.minimum(1.0, dot(self._figures) / 2)
        tf_i, tf_j = nonempty(self._title_figures)
        out[:, col("figure_conflict")] = tf_i & tf_j & (dot(self._title_figures) == 0)
        gap = np.abs(self._ts[i] - self._ts[j])
        scaled = np.minimum(1.0, gap / self.window) if self.window > 0 else np.zeros(len(i))
        out[:, col("time_gap")] = np.where(np.isnan(gap), 0.5, scaled)
        out[:, col("same_source")] = (self._source[i] >= 0) & (self._source[i] == self._source[j])
        out[:, col("no_lede")] = ~(self._has_lede[i] & self._has_lede[j])
        if self._emb is not None:
            cross_ab = np.einsum("ij,ij->i", self._emb_title[i], self._emb[j])
            cross_ba = np.einsum("ij,ij->i", self._emb_title[j], self._emb[i])
            out[:, col("emb_cross")] = np.maximum(cross_ab, cross_ba)
        out[:, col("same_source_title")] = out[:, col("same_source")] * out[:, col("embedding_title")]
        out[:, col("template")] = out[:, col("cos_title")] * out[:, col("name_miss")]
        out[:, col("both_miss")] = (tn_i & (hit_ab < self._title_names_count[i])) & \
            (tn_j & (hit_ba < self._title_names_count[j]))
        out[:, col("same_source_both_miss")] = out[:, col("same_source")] * out[:, col("both_miss")]
        return out


def _csr(rows: Sequence[dict[str, float]], vocab: dict[str, int] | None = None) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix

    if vocab is None:
        vocab = {}
        for row in rows:
            for k in row:
                if k not in vocab:
                    vocab[k] = len(vocab)
    get = vocab.__getitem__
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.fromiter((get(k) for r in rows for k in r), dtype=np.int64, count=int(indptr[-1]))
    data = np.fromiter((v for r in rows for v in r.values()), dtype=np.float64, count=int(indptr[-1]))
    return csr_matrix((data, indices, indptr), shape=(len(rows), max(1, len(vocab))))


# --------------------------------------------------------------------------- the learned model


@dataclass(frozen=True)
class StoryModel:
    """Logistic-regression weights over :data:`FEATURES` and the decision thresholds."""

    weights: tuple[float, ...]
    bias: float
    threshold: float  # probability needed for "same story" of one pair
    link: float  # mean probability over all cross pairs needed to merge two groups (the chaining guard)
    uses_embedding: bool
    note: str = ""
    # stricter chaining guards, off by default: two groups whose headlines agree on different
    # amounts never merge; two groups of two or more articles merge only through ``bridges`` cross
    # pairs of probability ``bridge_level`` or more (the pair threshold when 0)
    figure_guard: bool = False
    bridges: int = 0
    bridge_level: float = 0.0

    def probability(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * v for w, v in zip(self.weights, x, strict=True))
        return 1.0 / (1.0 + math.exp(-z)) if z > -60 else 0.0

    def probabilities(self, x: Any) -> Any:
        """:meth:`probability` for each row of an (m, len(FEATURES)) array."""
        import numpy as np

        z = x @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def to_json(self) -> dict[str, Any]:
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias,
                "threshold": self.threshold, "link": self.link, "uses_embedding": self.uses_embedding,
                "note": self.note, "figure_guard": self.figure_guard, "bridges": self.bridges,
                "bridge_level": self.bridge_level}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> StoryModel:
        if list(obj["features"]) != list(FEATURES):
            raise ValueError(f"story model features {obj['features']} do not match {list(FEATURES)}")
        return cls(tuple(float(w) for w in obj["weights"]), float(obj["bias"]), float(obj["threshold"]),
                   float(obj["link"]), bool(obj["uses_embedding"]), str(obj.get("note", "")),
                   bool(obj.get("figure_guard", False)), int(obj.get("bridges", 0)),
                   float(obj.get("bridge_level", 0.0)))


MODEL_PATH = Path(__file__).resolve().parent / "data" / "story_model.json"


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_PATH, *, embedding: bool | None = None) -> StoryModel:
    """The shipped model: the embedding variant when the embedding loads (or ``embedding`` says so)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    want = embedder() is not None if embedding is None else embedding
    return StoryModel.from_json(data["with_embedding" if want else "without_embedding"])
