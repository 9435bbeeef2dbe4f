"""Which of the actors a story names it is about: the primary actor, the others, the incidental ones.

A story names actors for many reasons: the one it is about (in the headline, the subject of the
lede, attributed, repeated), others involved, and mentions in passing. Only the first may file a
story under an actor. This module is the one place that decides; the digest (compose) and
``digest analyse`` use it.

Each occurrence of an actor's names is read in its sentence and given a role:

* ``plain``: the story says something about the actor;
* ``negated``: "no technical overlap with VOODOO BEAR", "not linked to APT28", "rather than X";
* ``hedged``: "one potential culprit is BlackMatter", "possibly X", "with likely links to X";
* ``background``: "similar to", "previously", "such as" lists of past attacks, "following the X";
* ``reference``: below a "References", "Notes" or "Related coverage" heading at the end, or in a
  citation line (a cited title with its link).

An actor none of whose occurrences is plain is incidental; so is one that a long story names once,
in passing, outside its headline and lede and not as the one who did it. The primary actor is the
non-incidental actor with the best score (a headline mention counts most, then attribution -
"claimed responsibility", "attributed to", "behind the attack" - then the lede, then repetition),
and it must be named in the headline, the lede or an attribution, or carry most of the story's
actor mentions. A headline that names
three actors or more files the story under none of them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.models import ActorHit

__all__ = ["ActorRole", "Occurrence", "primary_actor", "rank_actors"]

LEDE_CHARS = 500  # the opening the lede is read from (many feed items are a description this long)
LONG_STORY = 1500  # a story this long names its subject more than once, or early

# a cue this close before a mention, in its sentence, changes the mention's role
_NEG = re.compile(
    r"\b(?:no|not|nor|never|without|unrelated\s+to|ruled?\s+out|rules\s+out|den(?:y|ies|ied)|"
    r"rather\s+than|instead\s+of|distinct\s+from|different\s+from|separate\s+from|"
    r"(?:no|any|little)\s+(?:technical\s+|clear\s+|known\s+|direct\s+)?(?:overlaps?|links?|ties|connections?|"
    r"evidence|indication|sign))\b[^.;]{0,60}$", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:potential|possible|suspected\s+by\s+some|likely)\s+(?:culprits?|suspects?|candidates?)\b[^.;]{0,40}$|"
    r"\b(?:possibly|perhaps|maybe|speculat\w*|rumou?r\w*|unconfirmed|unclear\s+whether|if\s+it\s+was|"
    r"may\s+be|might\s+be|could\s+be|may\s+have\s+been|might\s+have\s+been|could\s+have\s+been|"
    r"impersonat\w*|posing\s+as|pose\s+as|masquerad\w*\s+as|copycats?\s+of|mimic\w*|false\s+flag|"
    r"with\s+(?:likely|possible|potential|suspected|alleged|loose|tenuous)\s+(?:links?|ties|connections?)\s+to)"
    r"\b[^.;]{0,40}$", re.IGNORECASE)
# after a mention: "Lazarus could be involved", "X may have been behind it"
_HEDGE_AFTER = re.compile(
    r"[^.;]{0,30}?\b(?:could|may|might)\s+(?:also\s+)?(?:be|have\s+been)\s+(?:involved|behind|responsible|"
    r"to\s+blame|the\s+culprit)", re.IGNORECASE)
_BACKGROUND = re.compile(
    r"\b(?:similar\s+to|similarit(?:y|ies)\s+(?:to|with)|reminiscent\s+of|resembl\w*|akin\s+to|echo(?:es|ing)?|"
    r"recall(?:s|ing)?|"
    r"previously|in\s+the\s+past|past\s+attacks?|earlier\s+attacks?|prior\s+attacks?|"
    r"(?:like|such\s+as)\s+(?:the|those\s+(?:by|of)|attacks?\s+by)|"
    r"(?:following|after|since|before)\s+the\s+(?:\w+\s+){0,2}?(?:takedown|disruption|arrests?|attacks?\s+by|"
    r"breach\s+by|collapse|shutdown)|"
    r"(?:groups?|gangs?|actors?|operations|attacks|incidents|breaches)\s*,?\s+(?:such\s+as|like|including))"
    r"\b[^.;]{0,80}$", re.IGNORECASE)
# headings that open the part of a page that is not the story: references, related coverage
_TAIL_HEADING = re.compile(
    r"^\s*(?:#+\s*)?(?:references?|notes|endnotes|sources|resources|bibliography|citations|"
    r"related(?:\s+(?:articles?|coverage|stories|posts|reading|news|content|research))?|"
    r"(?:previous|recent|more|further|additional)\s+(?:and\s+related\s+)?(?:coverage|reading|stories|articles|news)|"
    r"read\s+(?:more|next|also)|also\s+read|see\s+also|you\s+(?:may|might)\s+also\s+like|more\s+from\s+.{1,40}|"
    r"recommended(?:\s+reading)?|popular\s+(?:stories|posts))\s*:?\s*$",
    re.IGNORECASE | re.MULTILINE)
# a cited work: a numbered note or a line that carries a link
_CITATION_LINE = re.compile(r"^\s*(?:\[\d+\]|\d+\s?\.\s|\(\d+\)).*$|^.*https?://\S+.*$", re.MULTILINE)
# the sentence says the actor did it: claimed, attributed, behind the attack
_ATTRIBUTED = re.compile(
    r"\b(?:claim(?:ed|s|ing)?\s+(?:responsibility|credit)|took\s+(?:responsibility|credit)|"
    r"attributed\s+(?:\w+\s+){0,3}?to|(?:is|are|was|were)\s+(?:\w+\s+)?behind|blamed\s+(?:\w+\s+){0,3}?on|"
    r"claimed\s+(?:the\s+|an?\s+)?(?:attack|breach|hack|intrusion|theft)|(?:on|to)\s+its\s+(?:leak|data\s+leak|dark\s+web)\s+site|"
    r"listed\s+(?:\w+\s+){0,4}?(?:as\s+a\s+victim|on\s+its)|(?:carried\s+out|conducted|orchestrated)\s+by)\b",
    re.IGNORECASE)
_SENT_END = re.compile(r"[.!?](?=\s+[\"'“‘(]?[A-Z0-9])|\n")


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an actor's name: where (title or text), at which offset, in which role."""

    where: str  # "title" or "text"
    start: int
    role: str  # "plain", "negated", "hedged", "background", "reference"


@dataclass(frozen=True)
class ActorRole:
    """One actor of a story and its part in it."""

    actor: ActorHit
    primary: bool
    incidental: bool
    score: float
    occurrences: tuple[Occurrence, ...] = field(default=())
    why: str = ""  # what made it primary or incidental (for ``--explain``)


def _finds(text: str, names: Sequence[str], spans: bool = False) -> list:
    """Start offsets (or spans) of every name, as written and as a whole word, longest name first."""
    taken: list[tuple[int, int]] = []
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        for m in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
            if not any(s <= m.start() < e for s, e in taken):
                taken.append((m.start(), m.end()))
    taken.sort()
    return taken if spans else [s for s, _e in taken]


def _tail_start(text: str) -> int:
    """Where the references or related-coverage part of a page begins (len(text) when it has none)."""
    floor = len(text) // 3  # a heading in the first third is the story's own ("Notes on the campaign")
    for m in _TAIL_HEADING.finditer(text, floor):
        return m.start()
    return len(text)


def _citation_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _CITATION_LINE.finditer(text)
            if "http" in m.group(0) or len(m.group(0)) < 300]


class _Doc:
    """A story's text read once: sentence starts, the reference tail, citation lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in _SENT_END.finditer(text)]
        self.tail = _tail_start(text)
        self.cites = _citation_spans(text) if self.tail < len(text) or "http" in text else []

    def sentence_before(self, pos: int) -> str:
        i = bisect.bisect_right(self.starts, pos) - 1
        return self.text[self.starts[i]:pos]

    def sentence_at(self, pos: int) -> str:
        i = bisect.bisect_right(self.starts, pos) - 1
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return self.text[self.starts[i]:end]

    def role(self, pos: int, end: int) -> str:
        if pos >= self.tail or any(s <= pos < e for s, e in self.cites):
            return "reference"
        role = _role_in(self.sentence_before(pos))
        if role == "plain" and _HEDGE_AFTER.match(self.text, end):
            return "hedged"
        return role


# the subject of the sentence counts its members ("Fifteen ransomware gangs, including X and Y, have
# announced", "A coalition of ransomware groups, including X"): the list names who did it, not examples
_MEMBERS = re.compile(
    r"^\W*(?:(?:\d+|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|both)\s+|"
    r"(?:a|an|the)\s+(?:\w+\s+)?(?:coalition|alliance|cartel|trio|pair)\s+of\s+)(?:[\w-]+\s+){0,2}?"
    r"(?:groups|gangs|crews|actors|operations)\s*,?\s+(?:including|such\s+as|like)\b", re.IGNORECASE)


def _role_in(before: str) -> str:
    whole = before
    before = before[-160:]
    if _NEG.search(before):
        return "negated"
    if _HEDGE.search(before):
        return "hedged"
    if _BACKGROUND.search(before) and not _MEMBERS.search(whole):
        return "background"
    return "plain"


_GENERIC_TAIL = frozenset({"group", "gang", "team", "crew"})


def _names(hit: ActorHit) -> list[str]:
    """The names to look for: the mentions, and each without a generic last word ("Radiant group": "Radiant")."""
    names = list(hit.mentions or (hit.name,))
    for n in list(names):
        words = n.split()
        if len(words) > 1 and words[-1].lower() in _GENERIC_TAIL and len(" ".join(words[:-1])) >= 3:
            names.append(" ".join(words[:-1]))
    return names


def _occurrences(title: str, doc: _Doc, hit: ActorHit) -> list[Occurrence]:
    names = _names(hit)
    out = []
    for s in _finds(title, names):
        out.append(Occurrence("title", s, _role_in(title[:s])))
    for s, e in _finds(doc.text, names, spans=True):
        out.append(Occurrence("text", s, doc.role(s, e)))
    return out


def rank_actors(title: str, text: str, hits: Sequence[ActorHit]) -> list[ActorRole]:
    """Every hit with its role, most salient first; at most one is primary (see the module doc)."""
    if not hits:
        return []
    doc = _Doc(text)
    long_story = len(text) >= LONG_STORY
    rows = []
    for order, hit in enumerate(hits):
        occ = _occurrences(title, doc, hit)
        plain = [o for o in occ if o.role == "plain"]
        in_title = [o for o in plain if o.where == "title"]
        in_lede = [o for o in plain if o.where == "text" and o.start < LEDE_CHARS]
        # "a group called Datacarry has claimed responsibility": attributed, wherever the story says it
        attributed = any(o.where == "text" and _ATTRIBUTED.search(doc.sentence_at(o.start)) for o in plain) or \
            any(o.where == "title" for o in plain) and bool(_ATTRIBUTED.search(title))
        score = 3.0 * len(in_title) + 1.5 * len(in_lede) + 2.0 * attributed + 0.5 * len(plain)
        first = min((o.start + (0 if o.where == "title" else 10**6) for o in plain), default=10**9)
        if not plain:
            why = ("only " + "/".join(sorted({o.role for o in occ}))) if occ else "not named as written"
            incidental = True
        elif long_story and not in_title and not in_lede and len(plain) == 1 and not attributed:
            why, incidental = "named once in passing", True
        else:
            why, incidental = "", False
        rows.append((hit, order, occ, plain, bool(in_title or in_lede or attributed), score, first, incidental, why))
    total_plain = sum(len(r[3]) for r in rows)
    # a headline that names three actors or more is about all of them, filed under none
    # ("New loader linked to the A, B and C gangs")
    crowded = sum(1 for r in rows if any(o.where == "title" for o in r[3])) >= 3
    rows.sort(key=lambda r: (r[7], -r[5], r[6], r[1]))
    roles: list[ActorRole] = []
    primary_taken = False
    for hit, _order, occ, plain, early, score, _first, incidental, why in rows:
        primary = False
        if not primary_taken and not incidental and not crowded:
            dominant = len(plain) >= 3 and 2 * len(plain) > total_plain
            if early or dominant:
                primary = primary_taken = True
                why = "headline, lede or attribution" if early else "most of the story's actor mentions"
        roles.append(ActorRole(actor=hit, primary=primary, incidental=incidental, score=score,
                               occurrences=tuple(occ), why=why))
    return roles


def primary_actor(title: str, text: str, hits: Sequence[ActorHit]) -> ActorHit | None:
    """The actor the story is about, or None when it is about none of those it names."""
    for role in rank_actors(title, text, hits):
        if role.primary:
            return role.actor
    return None
