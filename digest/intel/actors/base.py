"""What recognition and alias learning share: mentions, candidates, name loading, the union-find of links."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field

import ahocorasick

from digest.intel.actors.vendors import DATA_DIR
from digest.models import AliasLink

# every character but letters, digits and spaces (a space would be replaced by itself: leaving
# spaces out of the class makes the substitution several times cheaper on prose)
_PUNCT = re.compile(r"[^\w ]|_", re.UNICODE)
_SPACED: list[object] = []  # the lookup table of ``spaced`` for the Basic Multilingual Plane, built once


def spaced(text: str) -> str:
    """``_PUNCT.sub(" ", text)``: every character but letters, digits and spaces made a space.

    A table lookup over the UTF-32 code units (numpy) instead of the regex substitution, which
    builds one piece per punctuation mark: 0.6 -> 0.2 ms on a farm article. A letter or digit is
    what ``\\w`` is for ``re`` (``str.isalnum``); texts with characters beyond the BMP, or lone
    surrogates, take the regex.
    """
    import numpy as np

    if not _SPACED:
        _SPACED.append(np.array([cp if cp == 32 or (chr(cp).isalnum() and cp != 95) else 32 for cp in range(65536)],
                                dtype=np.uint32))
    try:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        return str(_SPACED[0].take(codes).tobytes().decode("utf-32-le"))  # type: ignore[attr-defined]
    except (UnicodeEncodeError, IndexError):
        return _PUNCT.sub(" ", text)

_BLOCK = "\x00block"


@dataclass(frozen=True)
class Mention:
    """One accepted name in a document: where, what, and which node it names."""

    start: int
    end: int
    text: str
    node: str  # an actor id of the knowledge base, or "new:<key>" for a name it lacks
    vendor: str = ""
    origin: str | None = None


@dataclass(frozen=True)
class _Cand:
    start: int
    end: int
    text: str
    key: str  # matching key, or "" for a vendor-convention name
    source: str  # "kb", "pattern", "learned"
    vendor: str = ""
    origin: str | None = None
    pkind: str = ""


def _load_names() -> dict[str, list[str]]:
    with (DATA_DIR / "names.toml").open("rb") as fh:
        return tomllib.load(fh)


#: "is an", "was not the only", "is one of the": between a name and the noun that says what it is
_IS_A = (r"(?:(?:(?:(?:is|was|are|were)\s+(?:not\s+)?(?:also\s+)?|,\s*)(?:an?|the|another|one\s+of\s+the)|"
         r"one\s+of\s+the)\s+"  # "BlackSuit, one of the notorious ransomware groups"
         r"(?:(?!(?:and|or|but|that|which|who|used|by)\b)[\w-]+\s+){0,2})?")


# ---------------------------------------------------------------------------- names in context
#
# Names that no knowledge base has, found because the sentence says they name a group: "the
# Lazarous group", "the TrickBot gang", "the threat actor HydroJiin", "a group calling itself
# Fancy Lazarus", "groups such as APT33 and Gorgon". The cue words are lower case (a title's
# "Threat Actors Distribute ..." is not a cue), and "hackers", "attackers", "operators" are left out
# ("the SolarWinds hackers" are named after their victim, "the pipeline operators" are the victim).

_CTX_WORDS = frozenset({
    "group", "groups", "gang", "gangs", "crew", "collective", "actor", "actors", "threat actor", "threat actors",
    "threat group", "adversaries", "apts", "calls itself", "calling itself", "call themselves",
    "calling themselves", "called itself", "called themselves", "cluster",
    # where a headline or a naming phrase may name a group ("'PoisonSeed' Attacker", "PoisonSeed Hackers",
    # "hackers known as X", "tracks the activity as X"): see ``context._QUOTED_BEFORE``, ``_CAMEL_BEFORE``
    "hacker", "hackers", "attacker", "attackers", "hacktivist", "hacktivists", "tracks", "tracked", "tracking",
    "operation", "outfit", "apt", "ransomware",
})
_TOK = r"[A-Z][A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*"
_CTX_NAME = rf"{_TOK}(?:[ \t]+{_TOK})?"
_CTX_PREFIX = (r"(?:(?:ransomware|hacking|hacker|threat|APT|cybercrime|cybercriminal|extortion|espionage|"
               r"cyber-?espionage|state-sponsored|nation-state)\s+)*")
#: after a group word: it is a modifier there ("the Trickbot group tag", "group policy"), no cue
_GROUP_NOT_MODIFIER = (r"(?!\s+(?:tags?|polic(?:y|ies)|ids?|names?|membership|objects?|chats?|accounts?|settings|"
                       r"permissions?|sids?|members|of\s+(?!(?:\w+\s+)?(?:hackers|attackers|cybercriminals|criminals|"
                       r"threat|actors|operators|affiliates|individuals))\w+)\b)")  # "the Orange group of companies"
#: the group word at a trigger ("group", "threat actors"), not a modifier ("group policy", "group tag")
_CTX_GROUP_AT = re.compile(r"(?:threat\s+)?(?P<w>group|gang|crew|collective|actors?)(?![\w-])" + _GROUP_NOT_MODIFIER)
#: a name just before the group word ("the Lazarous group", "the TrickBot ransomware gang")
_CTX_BEFORE = re.compile(rf"(?:(?<![\w-])(?P<art>the|a|an|The|A|An)\s+)?[\"“‘']?(?<![\w$.-])(?P<n>{_CTX_NAME})[\"”’']?\s+"
                         rf"{_CTX_PREFIX}$")
_CTX_AFTER = re.compile(
    r"(?<![\w-])(?:(?:[Tt]hreat\s+(?:actor|group)s?|APT\s+group|"
    r"(?:[Hh]acking|[Hh]acker|[Hh]acktivist|[Rr]ansomware|[Ee]xtortion|[Cc]ybercrime)\s+(?:gang|group|crew|collective))"
    r"(?:\s*,?\s+(?:(?:also\s+)?known\s+as|tracked\s+as|called|named|dubbed))?|"
    r"(?:group|gang|crew|collective|actors?)\s*,?\s+(?:(?:also\s+)?known\s+as|tracked\s+as|called|named|dubbed)|"
    # "the hacktivist group identifying itself as X", "a threat actor going by the alias X"
    r"(?:group|gang|crew|collective|actors?|hackers?)\s*,?\s+(?:identif(?:ying|ies|ied)\s+(?:itself|themselves)\s+as|"
    r"go(?:ing|es)\s+by(?:\s+the\s+(?:alias|name|handle|moniker))?|under\s+the\s+(?:alias|name|handle|moniker)|"
    r"(?:using|with)\s+the\s+(?:alias|handle|moniker|(?:user)?name|nickname))|"
    # "hackers known as X", "attackers tracked as X" (not "called": "the operators called Monday")
    r"(?:hackers|attackers|hacktivists?|cybercriminals|adversary|operators)\s*,?\s+"
    r"(?:(?:also\s+)?known\s+as|tracked\s+as|dubbed|(?:who\s+)?call(?:ing)?\s+themselves)|"
    # "Google tracks the activity as X", "ESET tracks this group as X"
    r"(?:tracks?|tracked|tracking)\s+(?:the\s+|this\s+|these\s+|that\s+)?(?:(?:threat|hacking|ransomware)\s+)?"
    r"(?:activity|actors?|group|cluster|attackers|hackers|operators|adversary|gang|crew)\s+(?:as|under)|"
    # "a group of hackers known as X"
    r"(?:group|gang|crew|collective)\s+of\s+(?:\w+\s+)?(?:hackers|cybercriminals|criminals|attackers|actors)\s*,?\s+"
    r"(?:(?:also\s+)?known\s+as|tracked\s+as|called|named|dubbed)|"
    # "a group it calls X", "an actor that Proofpoint tracks as X", "a threat actor which researchers dubbed X"
    r"(?:group|gang|crew|collective|actor|cluster)\s+(?:that\s+|which\s+|whom\s+)?"
    r"(?:it|they|we|researchers|the\s+company|the\s+firm|[A-Z][\w-]+(?:\s+[A-Z0-9][\w-]+)?)\s+(?:now\s+|has\s+|have\s+)?"
    r"(?:calls?|tracks?\s+as|tracked\s+as|dubbed|dubs|named|names|refers\s+to\s+as|designated|designates)|"
    r"call(?:s|ed|ing)?\s+(?:itself|themselves))"
    rf"[ \t]+(?:the[ \t]+)?[\"“‘']?(?P<n>{_CTX_NAME})")  # on the same line: a title's "group" is no cue
_CTX_ITEM = rf"[\"“‘']?{_CTX_NAME}[\"”’']?"
_CTX_LIST = re.compile(
    r"(?<![\w-])(?:groups|gangs|actors|APTs|crews|adversaries)\s*,?\s+(?:such\s+as|like|including)\s+"
    rf"(?P<list>{_CTX_ITEM}(?:\s*(?:,\s*and|,\s*or|,|/|and|or)\s+{_CTX_ITEM})*)")
_CTX_ITEM_RE = re.compile(_CTX_NAME)
#: first words that never start a name found in context (sentence openers, nationalities, agencies)
_CTX_STOP = frozenset(re.split(r"\s+", """
a an the this that these those other another some many most several both all each every such same which what
any no one two three new known unknown main threat threats hacker hackers hacking ransomware cybercrime criminal
criminals advanced persistent apt apts state nation cyber security research researchers intelligence
operation operations campaign campaign's it its their our we they he she us uk eu un nato fbi cia nsa gchq cisa
doj dhs ncsc cert soc ir ot ics isp msp raas ddos vpn rdp c2 it hr pr ceo government military police
chinese russian iranian korean vietnamese pakistani indian turkish israeli ukrainian belarusian brazilian
nigerian palestinian syrian lebanese arab arabic french german spanish italian dutch british american european
asian western eastern islamic china russia iran korea vietnam pakistan india turkey israel ukraine belarus
brazil nigeria palestine syria lebanon north south east west middle these however while when after before
since during although if in on at by for from with as of to and or but not also only first last next previous
former latest recent notorious prolific infamous sophisticated financially espionage malicious suspected
alleged likely possible local global international foreign domestic underground top major big large small
independent individual single multiple various different distinct similar related affiliated associated
everyone administrators administrator users user guests guest domain local system
actor actors attacker attackers adversary adversaries operator operators
moreover furthermore however additionally meanwhile therefore thus hence nevertheless nonetheless besides
likewise similarly instead still yet indeed notably interestingly importantly finally overall initially
subsequently later earlier recently currently today yesterday then now here there again
personally
january february march april may june july august september october november december
monday tuesday wednesday thursday friday saturday sunday
often usually typically sometimes occasionally generally frequently unfortunately fortunately ultimately
specifically essentially basically clearly apparently reportedly allegedly reportedly separately together
""".strip()))
#: what a capitalised phrase beside a group word is when these follow it, not a group's name
_CTX_NOT_NAME_AFTER = re.compile(r"[\s-]*(?:information|data|records|details|numbers?|as[\s-]+a[\s-]+service)\b",
                                 re.IGNORECASE)
#: last words of malware and tool names: "the BazaLoader threat actors" are its users, not a named group
_MALWARE_TAIL = re.compile(r"(?:rat|loader|stealer|bot|backdoor|trojan|botnet|kit|ware|locker|crypt|miner|shell)$",
                           re.IGNORECASE)


_MALWARE_NOUN = (r"(?:\s+\([^)]{1,30}\))?\s+(?:malware|information\s+stealer|infostealer|stealer|rat|"
                 r"remote\s+access\s+trojan|trojan|loader|backdoor|botnet|spyware|implant)\b")


#: "ransomware" right after a gang's name ("Qilin ransomware", "BlackSuit Ransomware")
_RANSOMWARE_AFTER = re.compile(r"[\s\"”’']+ransomware\b(?!\]\()", re.IGNORECASE)  # not a link's text
#: a naming phrase right before a name ("rebranded to Embargo", "a gang known as Play")
_NAMED_BEFORE = re.compile(r"\b(?:rebranded|renamed)\s+(?:itself\s+)?(?:to|as)\s+[\"“‘']?$|"
                           r"\b(?:gang|group|crew|actors?|operation)\s+(?:known|tracked)\s+as\s+[\"“‘']?$", re.IGNORECASE)
def _title_word_run(mention: str) -> bool:
    """Whether a name of several words is only ordinary words ("Dark Power", "Space Bears")."""
    return all(w[:1].isupper() and w[1:].islower() and w.isalpha() for w in mention.split()) and \
        len(mention.split()) <= 2


#: more names of a list right after a name ("X and Y ransomware groups", "X, Y, and Z gangs")
_COORD_NAMES = re.compile(r"^(?:\s*(?:,\s*and|,\s*or|,|and|or|&)\s+[A-Z][\w$.-]*(?:\s+[A-Z0-9][\w$.-]*)?){1,4}(?=\s)")


def _called_malware(text: str, name: str) -> bool:
    """Whether the document calls ``name`` malware ("LummaC2 malware", "LummaC2 information stealer")."""
    return re.search(re.escape(name) + _MALWARE_NOUN, text, re.IGNORECASE) is not None


def _title_case_line(text: str, pos: int) -> bool:
    """Whether the line around ``pos`` is a headline in title case, where capitals say nothing."""
    lo = text.rfind("\n", 0, pos) + 1
    hi = text.find("\n", pos)
    long_words = [w for w in text[lo:hi if hi >= 0 else len(text)].split() if len(w) > 3 and w[0].isalpha()]
    return len(long_words) >= 4 and sum(w[0].isupper() for w in long_words) >= 0.8 * len(long_words)


def _words(chunk: str) -> list[str]:
    """The words of a chunk of text, without tokens that are punctuation only ("Leviathan , also")."""
    return [w for w in chunk.split() if any(ch.isalnum() for ch in w)]


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower()[:1] or c for c in text)


def key_is_camel(text: str, end: int) -> bool:
    """Whether a code trigger ends inside a CamelCase word ("RedDelta", "BlueBravo")."""
    return end < len(text) and text[end].isupper() and end > 0 and text[end - 1].islower()


def _windows(points: list[int], n: int, reach: int = 48) -> list[tuple[int, int]]:
    """Merged ranges of ``reach`` characters around each point."""
    out: list[tuple[int, int]] = []
    for p in sorted(points):
        lo, hi = max(0, p - reach), min(n, p + reach)
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


class _Links:
    """Union-find over nodes (actor ids and ``new:<key>`` names), built from AliasLinks."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.vendors: dict[str, str] = {}  # key -> vendor stated by an article
        self.spelling: dict[str, str] = {}  # new:<key> -> as written
        self.subjects: Counter[str] = Counter()  # node -> how often a link names it first
        self.refused: set[frozenset[str]] = set()  # pairs of names the operator unlinked
        # root -> members of its group (groups of two or more); lists are never changed in place,
        # so a copy can share them with the set it was copied from
        self.groups: dict[str, tuple[str, ...]] = {}
        # the prepared set this one was copied from, and how many nodes it had then
        self.prepared: _Prepared | None = None
        self.prepared_len = 0

    def copy(self) -> _Links:
        """An independent copy (the stored links' set is built once and copied for each article)."""
        out = _Links()
        out.parent, out.vendors, out.spelling = dict(self.parent), dict(self.vendors), dict(self.spelling)
        out.subjects, out.groups = Counter(self.subjects), dict(self.groups)
        out.refused = set(self.refused)
        return out

    def find(self, x: str) -> str:
        p = self.parent.setdefault(x, x)
        if p != x:
            p = self.parent[x] = self.find(p)
        return p

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb), key=lambda n: (n.startswith("new:"), n))
            self.parent[hi] = lo
            self.groups[lo] = self.groups.get(lo, (lo,)) + self.groups.pop(hi, (hi,))

    def members(self, x: str) -> list[str]:
        r = self.find(x)
        return sorted(self.groups.get(r, (r,)))


@dataclass
class _Prepared:
    """The union-find of a list of stored links, kept while the list only grows (see ``_prepare``)."""

    links: list[AliasLink]
    count: int
    last: AliasLink | None
    uf: _Links
    overlaps: list[tuple[str, str]]
    # automata of the learned names among uf's nodes: (end index in uf.parent order, automaton)
    chunks: list[tuple[int, ahocorasick.Automaton | None]] = field(default_factory=list)


