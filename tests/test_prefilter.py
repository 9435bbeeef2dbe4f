"""Literal prefilters must never skip a regex that would have matched.

The fast paths of the content stage (topic keywords, the "exploited" detector, the summarizer's
sentence rules) are only allowed to be faster, not different: each is checked against the slow
path it replaces, on the project's own texts and on random texts built from the patterns' words.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from digest.intel import topics
from digest.intel.prefilter import max_width, might_match, required_literals
from digest.intel.text import clean_text, sentence_ok, sentence_problems, split_sentences

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("ransom(?:s|ed)?", ("ransom",)),
    (r"(?:data\ )?leak\ sites?", ("leak site",)),
    (r"lockbit|play\ ransomware", ("lockbit", "play ransomware")),
    (r"pleads?\ guilty", (" guilty",)),  # the longest mandatory run, not the first
    ("trojans+", ("trojans",)),  # "+": one "s" is always there
    ("colou?r", ("colo",)),
    (r"(?:are\ |have\ been\ |)exploit", ("exploit",)),  # an empty alternative makes a group optional
    (r"(?<=x)abc(?=y)", ("abc",)),  # lookarounds contribute nothing
    (r"\bkev\b", ("kev",)),
])
def test_required_literals(pattern: str, expected: tuple[str, ...]) -> None:
    assert required_literals(pattern, verbose=True) == expected


@pytest.mark.parametrize("pattern", [
    "a{b",  # a literal brace
    "x(?i)y",  # inline flags
    r"\w+",  # nothing literal
    "abc|",  # an empty alternative matches everywhere
    "(?:a|)",
    r"(\d)\1",
])
def test_no_prefilter_when_unsure(pattern: str) -> None:
    assert required_literals(pattern) is None
    assert might_match(None, "anything")


def _vocabulary() -> list[str]:
    words: set[str] = set()
    pats = [p.lower() for ps in topics._KEYWORDS.values() for p, _ in ps]
    pats += [topics._EXPLOITED_LOW.pattern]
    for p in pats:
        words.update(re.findall(r"[a-z0-9-]+", p.replace(r"\ ", " ")))
    words.update(["the", "a", "was", "were", "being", "actively", "data", "sites", "site", "in", "wild",
                  "zero-day", "flaws", "hackers", "are", "have", "been", "exploited", "exploiting", "ransoms"])
    return sorted(words)


def test_prefilter_is_sound_on_random_texts() -> None:
    """Wherever a keyword regex matches, its literals are present (so skipping is exact)."""
    rnd = random.Random(7)
    vocab = _vocabulary()
    compiled = [(rx, lits) for ps in topics._COMPILED.values() for rx, _w, lits, _width in ps]
    compiled.append((topics._EXPLOITED_LOW, topics._EXPLOITED_LITERALS))
    assert all(lits is not None for _rx, lits in compiled)  # every pattern got a prefilter
    matched = 0
    for _ in range(3000):
        text = " ".join(rnd.choice(vocab) for _ in range(rnd.randint(2, 12)))
        for rx, lits in compiled:
            if rx.search(text):
                matched += 1
                assert might_match(lits, text), (rx.pattern[:60], text)
    assert matched > 1000  # the texts do exercise the patterns


def test_keyword_counts_started_near_the_first_literal_are_the_full_counts() -> None:
    """A keyword's count, searched from ``_start`` and stopped at three, is min(findall, 3) from 0."""
    rnd = random.Random(11)
    vocab = _vocabulary() + ["lorem", "ipsum", "(the)", "report,", "—", "said.", "x"]
    patterns = [p for ps in topics._COMPILED.values() for p in ps]
    assert all(width is not None for *_rest, width in patterns)  # every keyword pattern is bounded
    counted = 0
    for _ in range(1500):
        body = " ".join(rnd.choice(vocab) for _ in range(rnd.randint(1, 120)))
        for rx, weight, lits, width in patterns:
            assert all(len(m.group()) <= width for m in rx.finditer(body))
            full = min(len(rx.findall(body)), 3)
            counted += full
            assert topics._score([(rx, weight, lits, width)], "", body) == weight * full, (rx.pattern[:60], body)
    assert counted > 1000


def test_max_width() -> None:
    assert max_width(re.compile(r"\bransoms?\b")) == 7
    assert max_width(re.compile(r"a+")) is None


def _project_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "config" / "demo").rglob("*.html"))]
    texts += [p.read_text(encoding="utf-8", errors="replace")
              for p in sorted((ROOT / "tests" / "fixtures").rglob("*")) if p.is_file()]
    texts += [line for line in (ROOT / "tests" / "data" / "actor_snippets.jsonl").read_text().splitlines()]
    return texts


def test_fast_paths_agree_with_the_slow_ones_on_project_texts() -> None:
    n = 0
    for raw in _project_texts():
        text = clean_text(re.sub(r"<[^>]+>", "\n", raw))
        for s in split_sentences(text):
            n += 1
            assert sentence_ok(s) == (not sentence_problems(s)), s
        slow = any(topics._EXPLOITED.search(x) and not topics._NEGATED.search(x)
                   for x in split_sentences(text[:10000]))
        assert topics.is_exploited("", text) == slow
    assert n > 500


@pytest.mark.parametrize("sentence", [
    "Subscribe to our newsletter for the latest news on ransomware gangs today.",
    "Image credit: Getty Images shows the attackers at work in the field today.",
    "Read more at https://example.com/story about this ransomware attack now.",
    "However, the group denied any involvement in the breach at the company.",
    "The group was seen in March (and again in May targeting banks.",
    "Contact the team at press@example.com for details on the incident today.",
    "Is the gang still active after the police operation in Europe last week?",
    "the attackers moved laterally through the network over several weeks.",
    "Attackers used stolen credentials to log in to the VPN of the victim.",
    "Too short.",
])
def test_sentence_ok_matches_sentence_problems(sentence: str) -> None:
    assert sentence_ok(sentence) == (not sentence_problems(sentence))



def _is_fragment_slow(s: str) -> bool:
    """The sentence-fragment rule as it read before its fast paths (every regex over the whole sentence)."""
    from digest.intel import text as t

    if not t._TERMINAL_END.search(s) or s.endswith(("…", "...")) or not t._CAPITAL_START.match(s):
        return True
    if len(t.words(s)) < 5 or s.count("(") != s.count(")") or s.count("[") != s.count("]"):
        return True
    if s.count("“") != s.count("”") or s.count('"') % 2:
        return True
    if t._CONTINUATION.match(s) or t._ABBREV_END.search(s) or t._BROKEN.search(s) or (
            ("(" in s or "[" in s) and t._EMPTY_REF.search(s)):
        return True
    return bool(s.endswith((":", ";")))


def test_the_end_anchored_and_hinted_rules_agree_with_their_slow_forms_on_random_sentences() -> None:
    """Searching the end-anchored rules from near the end, and the literal hints before the
    first-person, spaced-decimal and spaced-thousands regexes, change no verdict and no text."""
    from digest.intel import text as t

    rnd = random.Random(18)
    pieces = ["A", "The", "word", " ", " ", ".", "..", "!", "?", '"', "'", "”", "’", ")", "(", "]", "[", "\n",
              ":", ";", " : ", "Art", "No", "approx", "vs", "…", "[...]", "1", "U.S.", "see"]
    for _ in range(20_000):
        s = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        assert t._is_fragment(s) == _is_fragment_slow(s), repr(s)
    person = ["I", "my", "me", "myself", " ", "’m", "'", "War ", "x", "“", "”", ".", "a", "Me", "MY"]
    for _ in range(20_000):
        s = "".join(rnd.choice(person) for _ in range(rnd.randint(0, 10)))
        quoted = t._QUOTED.sub(" ", s) if ("“" in s or '"' in s) else s
        slow = bool(("i" in s.lower() or "m" in s.lower()) and t._FIRST_PERSON_I.search(quoted))
        assert ("first-person" in t._context_problems(s, s.lower())) == slow, repr(s)
    figures = ["1", "2", ". ", ", ", "U", "u", "S", "s", "ſ", "K", "\u212a", "N", ".", " ", "000", "m",
               "million", "a"]
    for _ in range(20_000):
        s = "".join(rnd.choice(figures) for _ in range(rnd.randint(0, 12)))
        dec = t._SPACED_DECIMAL.sub(lambda m: m.group(0).replace(" ", ""), s)
        assert (dec != s) <= bool(t._SPACED_DECIMAL_HINT.search(s)), repr(s)
        thou = t._SPACED_THOUSANDS.sub(lambda m: m.group(0).replace(", ", ","), s)
        assert (thou != s) <= bool(t._SPACED_THOUSANDS_HINT.search(s)), repr(s)


def test_spaced_is_the_punctuation_substitution() -> None:
    from digest.intel.actors.base import _PUNCT, spaced

    samples = ["APT-29 (a.k.a. “Cozy Bear”) hit the_agency’s servers — again…",
               "Ścieżka: Łódź, São Paulo & Zürich; 東京 2025/26 ½ ²", "emoji \U0001F600 and a lone \udc80 surrogate", ""]
    samples += [r for r in _project_texts()[:40]]
    for text in samples:
        assert spaced(text) == _PUNCT.sub(" ", text)
        assert len(spaced(text)) == len(text)


def test_start_is_before_the_earliest_literal_whatever_their_lengths() -> None:
    text = "lorem ipsum dolor, then a data breach notice and a breach"
    # "data breach" starts before "breach" and ends after it: the earliest start wins
    assert topics._start(("breach", "data breach"), text, 5) == text.index("data breach") - 5
    assert topics._start(("data breach", "breach"), text, 5) == text.index("data breach") - 5
    assert topics._start(("ransom",), text, 5) == -1
    assert topics._start(None, text, 5) == 0


def test_furniture_prefilter_agrees_with_the_regex() -> None:
    from digest.ingest.extract import _BOILERPLATE_ANYWHERE, _mentions_furniture

    lines = ["SUBSCRIBE to our newsletter", "Copyright 2024 Example Media", "We use cookies on this site",
             "ſubscribe for updates", "Sign up for our alerts", "The attackers signed the binaries",
             "All Rights Reserved.", "A plain sentence about a breach."]
    lines += [ln.strip() for raw in _project_texts()[:60] for ln in re.sub(r"<[^>]+>", "\n", raw).splitlines()
              if 0 < len(ln.strip()) < 140]
    assert len(lines) > 100
    for line in lines:
        assert _mentions_furniture(line) == (_BOILERPLATE_ANYWHERE.search(line) is not None), line
