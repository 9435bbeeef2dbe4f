"""Summaries in the Concise Cyber style: 2-3 complete sentences, at most about 70 words.

The default is extractive. Every sentence of the article is first checked against the rules
(:func:`digest.intel.text.sentence_problems`: no boilerplate, caption, question, URL, dangling
start or fragment); the ones that pass are ranked by a lead bias (the news lede is a strong
baseline) plus credit for carrying the article's key entities (the caller's key terms such as
actor names, CVE IDs, figures, names that recur or appear in the headline) and for attribution
("according to", "said", "reported"). The best are taken greedily within the word budget and
printed in article order. A sentence is never cut: when the lede alone is too long, a shorter
good sentence is taken instead.

:func:`check_summary` is the rule checker the tests and ``digest content eval`` share.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from digest.intel.text import (
    STOPWORDS,
    clean_text,
    content_tokens,
    sentence_ok,
    sentence_problems,
    split_sentences,
    words,
)
from digest.intel.topics import extract_cves

__all__ = [
    "ExtractiveSummarizer",
    "Summarizer",
    "check_summary",
    "extractive_summary",
    "key_entities",
]

#: how much of an article is read for candidate sentences (lead bias makes the rest irrelevant)
_MAX_CHARS = 8000  # lead-biased: the opening of the article is where a summary comes from
_MAX_CANDIDATES = 30
_ENTITY_CHARS = 8000  # key names are counted in the opening of the article

_NAME = re.compile(r"\b(?:[A-Z][A-Za-z0-9]*(?:[-'’.][A-Za-z0-9]+)*)(?:\s+[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)*")
_FIGURE = re.compile(r"(?:[$€£]\s?)?\b\d[\d,.]*\d?\s?(?:%|\+|[kKmMbB]\b|million|billion|thousand)?")
_ATTRIBUTION = re.compile(
    r"\b(?:according\ to|said|says|told|reported|reports|disclosed|warned|confirmed|announced|revealed|"
    r"attributed|tracks|tracked|researchers|analysts|advisory|report)\b",
    re.IGNORECASE | re.VERBOSE,
)
_COMMON_CAPS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "i", "the", "a", "an", "in", "on", "at", "for", "to", "of", "and", "or", "but", "however", "according", "during", "after", "before", "while", "when", "this", "that", "these", "those", "it", "its", "he", "she", "they", "we", "our", "their", "there"]
)


@runtime_checkable
class Summarizer(Protocol):
    """Anything that turns an article into a short summary."""

    def summarize(self, title: str, text: str, *, key_terms: Sequence[str] = ()) -> str:
        """A summary of the article: complete sentences, within the configured word limit."""
        ...


@dataclass(frozen=True)
class _Sentence:
    index: int
    text: str
    nwords: int
    tokens: frozenset[str]


def key_entities(title: str, text: str, key_terms: Sequence[str] = ()) -> list[str]:
    """The article's key entities: caller's terms, CVE IDs, and names that recur or are in the headline."""
    found: list[str] = [t for t in key_terms if t]
    found.extend(extract_cves(f"{title}\n{text}"))
    title_words = set(re.findall(r"[\w'’.-]+", title.lower()))
    counts: Counter[str] = Counter()
    for m in _NAME.finditer(text[:_ENTITY_CHARS]):
        name = m.group(0)
        # drop a sentence-initial common word glued to the name ("The Symantec Threat Hunter Team")
        parts = [p for p in name.split() if p.lower() not in _COMMON_CAPS]
        if not parts:
            continue
        for part in parts:
            if len(part) > 2 or part.isupper():
                counts[part] += 1
    for name, n in counts.most_common():
        low = name.lower()
        if low in STOPWORDS:
            continue
        in_title = low in title_words
        if n >= 3 or (in_title and n >= 1):
            found.append(name)
        if len(found) >= 12 + len(key_terms):
            break
    seen: set[str] = set()
    out = []
    for term in found:
        if term.lower() not in seen:
            seen.add(term.lower())
            out.append(term)
    return out


# A feed teaser whose standfirst runs into the first sentence without a stop ("Rowhammer returns for
# more memory-meddling fun The Rowhammer attack ...", "Someone's OVERSTEPing the mark Updated Unknown
# miscreants ..."): the standfirst is cut off onto a line of its own, where it fails as a fragment.
_STANDFIRST_MARK = re.compile(r"^([^.!?\n]{12,220}?\S)\s+(?:Updated|Interview|Exclusive|Analysis|Comment|Feature|Opinion)"
                              r"\s+(?=[A-Z0-9\"“'‘])")
_STANDFIRST_THE = re.compile(r"^([^.!?\n]{12,220}?\b([a-z][a-z'’]*[a-z]|[a-z]+[’']))\s+(?=(?:The|An|A)\s+[A-Za-z])")
_NO_BREAK_BEFORE = frozenset(
    ["by", "to", "told", "in", "of", "from", "at", "on", "with", "for", "said", "says", "wrote", "reported", "via",
     "and", "or", "into", "onto", "as", "than", "like", "about", "against", "called", "named", "dubbed", "is", "was",
     "are", "were", "be", "been", "became", "becomes", "under", "over", "after", "before", "during", "that", "which",
     "who", "whom", "where", "when", "while", "if", "because", "but", "nor", "so", "yet", "told", "tells", "calls",
     "see", "saw", "watch", "read", "joins", "joined", "leaves", "left", "sues", "sued", "vs", "versus"]
)


def unglue_standfirst(body: str) -> str:
    """Put a standfirst glued to the opening sentence (no stop between them) on a line of its own."""
    first, nl, rest = body.partition("\n")
    m = _STANDFIRST_MARK.match(first)
    if m and len(m.group(1).split()) >= 4:
        return f"{m.group(1)}\n{first[m.end():]}{nl}{rest}"
    m = _STANDFIRST_THE.match(first)
    if m and len(m.group(1).split()) >= 4 and _breaks_before(m.group(2), first[m.end():]):
        return f"{m.group(1)}\n{first[m.end():]}{nl}{rest}"
    return body


def _breaks_before(prev: str, after: str) -> bool:
    """Whether "<prev> The ..." reads as two pieces: ``prev`` takes no object ("compromising The Bank
    of Romney", "told The Record" go on) and what follows is a sentence's subject, not a title."""
    low = prev.lower()
    if low in _NO_BREAK_BEFORE or low.endswith(("ing", "ed")):
        return False
    nxt = after.split()[1:3]
    if not nxt:
        return False
    head = nxt[0].rstrip("'’s")
    if head.islower() or head.isupper():
        return True  # "The ransomware gang", "The UK government"
    return len(nxt) > 1 and nxt[1][:1].islower() and nxt[1] not in ("of", "and", "&")


def _candidates(text: str, max_words: int) -> list[_Sentence]:
    # clean only the opening when the article is long (cleaning is local, so the first _MAX_CHARS
    # characters come out the same as when the whole text is cleaned)
    head = text if len(text) <= 2 * _MAX_CHARS else text[:2 * _MAX_CHARS]
    body = clean_text(head)
    if head is not text and len(body) <= _MAX_CHARS + 200:
        body = clean_text(text)
    truncated = len(body) > _MAX_CHARS
    if truncated:
        body = body[:_MAX_CHARS]
    sentences = split_sentences(unglue_standfirst(body), cleaned=True)
    if truncated and sentences:
        sentences.pop()  # may be cut mid-sentence
    out: list[_Sentence] = []
    seen: set[str] = set()
    for s in sentences:
        n = len(words(s))
        if n > max_words or not sentence_ok(s, n):
            continue
        key = s.lower()
        if key in seen:
            continue
        seen.add(key)
        out.append(_Sentence(len(out), s, n, frozenset(content_tokens(s))))
        if len(out) >= _MAX_CANDIDATES:
            break
    return out


def _score(s: _Sentence, title_tokens: frozenset[str], entities: Sequence[str], caller: Sequence[str]) -> float:
    score = 1.6 / (1.0 + 0.6 * s.index)
    low = s.text.lower()
    credit = 0.0
    caller_low = {t.lower() for t in caller}
    for term in entities:
        t = term.lower()
        if t in low and _has_term(low, t):
            credit += 0.5 if t in caller_low else 0.3
    score += min(credit, 1.2)
    if extract_cves(s.text):
        score += 0.3
    if re.search(r"\d", s.text):
        score += 0.1
    if _ATTRIBUTION.search(s.text):
        score += 0.2
    if title_tokens:
        score += 0.6 * len(s.tokens & title_tokens) / len(title_tokens)
    if s.nwords < 8:
        score -= 0.4
    elif s.nwords > 45:
        score -= 0.2
    if credit == 0.0 and s.nwords < 10 and not _has_specifics(s.text):
        score -= 0.5  # a hook ("Ransomware is a massive problem.") names nothing a reader could follow up
    return score


_SPECIFIC = re.compile(r"\d|(?<=[\w,;:)\]] )[A-Z][A-Za-z0-9]|\b[A-Z]{2,}")


def _is_hook(s: _Sentence, entities: Sequence[str]) -> bool:
    """A short line that names nothing ("Ransomware is a massive problem.", "Coincidences can and do happen.")."""
    if s.nwords >= 10 or _has_specifics(s.text):
        return False
    low = s.text.lower()
    return not any(_has_term(low, e.lower()) for e in entities)


def _has_specifics(text: str) -> bool:
    """A figure, or a name past the first word (a capitalised word inside the sentence, an acronym)."""
    return _SPECIFIC.search(text) is not None


#: what a headline says that the summary must carry too when the article does
_TITLE_FACTS = re.compile(r"\b(?:zero[- ]days?|0-days?|actively\ exploited|exploited|under\ attack|in\ the\ wild)\b",
                          re.IGNORECASE | re.VERBOSE)


def _key_facts(title: str, key_terms: Sequence[str]) -> list[str]:
    """Facts a summary should carry: the caller's key terms (actors, CVEs) and the headline's exploit words."""
    facts = [t for t in key_terms if t]
    facts.extend(extract_cves(title))
    for m in _TITLE_FACTS.finditer(title):
        word = m.group(0).lower()
        facts.append("zero-day" if word.startswith(("zero", "0-")) else "exploit")
    return facts


def _carries(s: _Sentence, fact: str) -> bool:
    low = s.text.lower()
    f = fact.lower()
    if f == "zero-day":
        return any(x in low for x in ("zero-day", "zero day", "0-day", "exploited", "in the wild"))
    if f == "exploit":
        return any(x in low for x in ("exploit", "in the wild", "under attack", "zero-day", "zero day"))
    return _has_term(low, f)


def _redundant(a: _Sentence, b: _Sentence) -> bool:
    """The same fact twice: most content words shared, or the same figures with many words shared."""
    j = _jaccard(a.tokens, b.tokens)
    if j > 0.5:
        return True
    nums_a, nums_b = set(_NUMBER.findall(a.text)), set(_NUMBER.findall(b.text))
    return bool(nums_a and nums_a == nums_b and j > 0.3)


_NUMBER = re.compile(r"\d[\d,.]*\d|\d")


def _has_term(haystack: str, term: str) -> bool:
    """``term`` occurs in ``haystack`` as a whole word or phrase (both lowercased)."""
    start = haystack.find(term)
    while start >= 0:
        before = haystack[start - 1] if start else " "
        end = start + len(term)
        after = haystack[end] if end < len(haystack) else " "
        if not (before.isalnum() or before in "-_") and not (after.isalnum() or after in "-_"):
            return True
        start = haystack.find(term, start + 1)
    return False


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


# case-sensitive on purpose: "US" (the country) is not "us"
_FIRST_PERSON = re.compile(r"\b(?:[Ww]e|[Oo]ur|us)\b")


def extractive_summary(title: str, text: str, *, max_words: int = 70, key_terms: Sequence[str] = ()) -> str:
    """2-3 complete, rule-abiding sentences of the article, at most ``max_words`` words ('' if none fit)."""
    cands = _candidates(text, max_words)
    if not cands:
        return ""
    # the digest speaks in the third person ("Symantec said"); a vendor's "we observed" is used
    # only when the article offers too few other sentences
    keys = [t.lower() for t in key_terms if t]
    third = [c for c in cands if not _FIRST_PERSON.search(c.text) or any(k in c.text.lower() for k in keys)]
    if len(third) >= 2 and len(third) < len(cands):
        cands = [_Sentence(i, c.text, c.nwords, c.tokens) for i, c in enumerate(third)]
    title_tokens = frozenset(content_tokens(title))
    entities = key_entities(title, text, key_terms)
    ranked = sorted(cands, key=lambda s: (-_score(s, title_tokens, entities, key_terms), s.index))
    hooks = [s for s in ranked if _is_hook(s, entities)]
    if len(ranked) - len(hooks) >= 2:
        ranked = [s for s in ranked if s not in hooks]
    chosen: list[_Sentence] = []
    budget = max_words
    for s in ranked:
        if len(chosen) == 3:
            break
        if s.nwords > budget:
            continue
        if title_tokens and _jaccard(s.tokens, title_tokens) > 0.8 and len(cands) > 1:
            continue  # a restated headline adds nothing under the headline
        if any(_redundant(s, c) for c in chosen):
            continue
        chosen.append(s)
        budget -= s.nwords
    if len(chosen) < 2:
        chosen = _best_pair(ranked, max_words) or chosen
    facts = _key_facts(title, key_terms)
    title_low = title.lower()
    # then the headline's own subject (a victim, a product): the first key name the headline carries
    facts.extend(e for e in entities[len(key_terms):][:6] if len(e) > 3 and _has_term(title_low, e.lower()))
    chosen = _with_key_fact(chosen, ranked, facts[:4], max_words)
    chosen.sort(key=lambda s: s.index)
    return " ".join(s.text for s in chosen)


def _best_pair(ranked: list[_Sentence], max_words: int) -> list[_Sentence]:
    """The best-ranked two sentences that fit together, when the greedy pass found room for one only."""
    for i, a in enumerate(ranked):
        for b in ranked[i + 1:]:
            if a.nwords + b.nwords <= max_words and not _redundant(a, b):
                return [a, b]
    return []


def _with_key_fact(chosen: list[_Sentence], ranked: list[_Sentence], facts: Sequence[str],
                   max_words: int) -> list[_Sentence]:
    """A summary that drops the story's key fact (its actor, CVE, "zero-day") takes a sentence that has it.

    The best-ranked sentence carrying the first missing fact replaces the weakest chosen ones until it
    fits; the lede stays when it can.
    """
    for fact in facts:
        if not chosen or any(_carries(c, fact) for c in chosen):
            continue
        carrier = next((r for r in ranked if r not in chosen and _carries(r, fact)
                        and not any(_redundant(r, c) for c in chosen)), None)
        if carrier is None:
            continue
        kept = list(chosen)
        while kept and (sum(k.nwords for k in kept) + carrier.nwords > max_words or len(kept) >= 3):
            kept.pop()  # chosen is in rank order: the weakest goes first
        return [*kept, carrier]
    return chosen


class ExtractiveSummarizer:
    """The default summarizer: :func:`extractive_summary` with the configured word limit."""

    def __init__(self, max_words: int = 70) -> None:
        self.max_words = max_words

    def summarize(self, title: str, text: str, *, key_terms: Sequence[str] = ()) -> str:
        """See :func:`extractive_summary`."""
        return extractive_summary(title, text, max_words=self.max_words, key_terms=key_terms)


def check_summary(summary: str, text: str, *, max_words: int = 70, extractive: bool = True) -> list[str]:
    """Rule breaks of a summary of ``text``: '' is fine only when the article has no usable sentence.

    Each problem reads ``rule: detail``; rules are too-long, too-short, empty, boilerplate, caption,
    question, url, dangling-start, fragment, quote, imperative, deictic, first-person, repeat and (for an
    extractive summary) not-from-article.
    """
    problems: list[str] = []
    summary = summary.strip()
    usable = _candidates(text, max_words)
    if not summary:
        if usable:
            problems.append("empty: the article has usable sentences")
        return problems
    n = len(words(summary))
    if n > max_words:
        problems.append(f"too-long: {n} words")
    sentences = split_sentences(summary)
    for s in sentences:
        for rule in sentence_problems(s):
            problems.append(f"{rule}: {s[:80]}")
    if len(sentences) < 2 and _two_fit(usable, max_words):
        problems.append("too-short: one sentence although two usable sentences fit")
    if len(sentences) > 3:
        problems.append(f"too-long: {len(sentences)} sentences")
    if extractive:  # an abstractive (LLM) summary is checked for invented facts instead (digest.intel.llm)
        source = " ".join(clean_text(text).split())
        for s in sentences:
            if " ".join(s.split()) not in source:
                problems.append(f"not-from-article: {s[:80]}")
    toks = [frozenset(content_tokens(x)) for x in sentences]
    for i in range(len(toks)):
        for j in range(i + 1, len(toks)):
            if _jaccard(toks[i], toks[j]) > 0.6:
                problems.append(f"repeat: {sentences[j][:80]}")
    return problems


def _two_fit(usable: list[_Sentence], max_words: int) -> bool:
    """Two usable sentences that fit together and do not say the same thing."""
    short = sorted(usable, key=lambda s: s.nwords)
    for i, a in enumerate(short):
        for b in short[i + 1:]:
            if a.nwords + b.nwords > max_words:
                break
            if not _redundant(a, b):
                return True
    return False
