"""Threat-actor recognition: which actors a news article is about, under one canonical name each.

How a document is read (:meth:`ActorRecognizer.detect`):

1. **One automaton over every name.** All names of the knowledge base (:mod:`digest.intel.kb`),
   plus *blocking* phrases ("Cobalt Strike", "Alibaba Cloud", vendors such as "Trend Micro"), are
   keys of a single Aho-Corasick automaton, run once over the lower-cased text with punctuation
   turned into spaces, so matches are whole words and "APT-29" finds "APT 29". Overlaps go to the
   longest match, which is how a blocking phrase hides the actor name inside it.
2. **Vendor conventions** (:mod:`digest.intel.vendors`) find names no knowledge base has yet
   ("Storm-2077", "UNC5221", "Earth Alux", "Jewelbug"), with their vendor and, where the convention
   encodes one, a suspected origin.
   **Names in context** are found the same way, around group words: "the Lazarous group", "the
   threat actor HydroJiin", "groups such as APT33 and Gorgon" (see ``_CTX_WORDS``).
3. **Precision rules** (``data/actors/names.toml``): some names are never taken alone (UPS); names
   that are ordinary words, companies or products (Nitro, Alibaba, Cobalt, Mercury, Play) need a
   strong cue beside them ("the Nitro group", "Play ransomware"); a name in lower case is a word,
   not a name; convention-built names need a cyber context and a cue or the vendor named nearby.
4. **Ambiguous names** (listed under two actors) go to the candidate the document names otherwise,
   else to the actor whose primary name it is, else nowhere: they never merge two actors.
5. **Learned links** (:meth:`ActorRecognizer.learn_links`) join names: "X, also known as Y",
   "tracked as Y by Vendor", "which Microsoft calls Y", "formerly Y", "the same actor as Y" are
   identities; "overlaps with Y" is weaker: it joins a name to an actor but never two established
   actors of different origin, nor two actors that the knowledge base knows well under many names.
"""

from __future__ import annotations

import bisect
import re
import threading
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice, pairwise
from pathlib import Path
from typing import ClassVar

import ahocorasick

from ..models import ActorHit, Alias, AliasLink
from .kb import KnowledgeBase, name_keys, norm, slug
from .vendors import DATA_DIR, Conventions, PatternName, conventions

__all__ = ["ActorRecognizer", "Mention"]

# every character but letters, digits and spaces (a space would be replaced by itself: leaving
# spaces out of the class makes the substitution several times cheaper on prose)
_PUNCT = re.compile(r"[^\w ]|_", re.UNICODE)

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
    r"(?<![\w-])(?:(?:threat\s+(?:actor|group)s?|APT\s+group|hacking\s+group|ransomware\s+(?:gang|group))"
    r"(?:\s*,?\s+(?:(?:also\s+)?known\s+as|tracked\s+as|called|named|dubbed))?|"
    r"(?:group|gang|crew|collective|actors?)\s*,?\s+(?:(?:also\s+)?known\s+as|tracked\s+as|called|named|dubbed)|"
    # "the hacktivist group identifying itself as X", "a threat actor going by the alias X"
    r"(?:group|gang|crew|collective|actors?)\s*,?\s+(?:identif(?:ying|ies|ied)\s+(?:itself|themselves)\s+as|"
    r"go(?:ing|es)\s+by(?:\s+the\s+(?:alias|name|handle|moniker))?|under\s+the\s+(?:alias|name|handle|moniker))|"
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


class ActorRecognizer:
    """Finds the actors a document is about; see the module docstring for the method."""

    _cache: ClassVar[dict[str, ActorRecognizer]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, kb: KnowledgeBase, conv: Conventions | None = None) -> None:
        self.kb = kb
        self.conv = conv or conventions()
        cfg = _load_names()
        self.stop = {k for n in (*cfg.get("stop", []), *cfg.get("never", [])) for k in name_keys(n)}
        self.ordinary = {k for n in cfg.get("ordinary", []) for k in name_keys(n)} | set(kb.ordinary_keys)
        cue = "|".join(re.escape(c) for c in sorted(cfg.get("strong_cues", []), key=len, reverse=True))
        # "the X group", "operators of the X"; "X, also known as", "X is an APT", "X was not the only group"
        self._cue_before = re.compile(rf"(?:\b(?:{cue})\b)(?:\s+(?:of|behind)(?:\s+the)?)?[\s,:\"'“”‘’(]*$",
                                      re.IGNORECASE)
        self._cue_after = re.compile(rf"^[\s,:\"'“”‘’)]*{_IS_A}(?:also\s+)?(?:\b(?:{cue})\b)", re.IGNORECASE)
        doc = "|".join(re.escape(c) for c in sorted(cfg.get("doc_cues", []), key=len, reverse=True))
        self._doc_cue = re.compile(rf"\b(?:{doc})\b", re.IGNORECASE)
        self._ransom_cue = re.compile(r"\b(?:ransomware|extortion|leak site|data leak|gang|affiliates?)\b", re.IGNORECASE)
        group = (r"gang|gangs|group|groups|operators?|affiliates?|crew|actors?|threat actors?|hackers?|cartel|"
                 r"members|behind|tracked as|known as|aka|dubbed|attributed to|linked to")
        self._group_before = re.compile(rf"\b(?:{group})\b(?:\s+(?:of|behind)(?:\s+the)?)?[\s,:\"'“”‘’(]*$",
                                        re.IGNORECASE)
        self._group_after = re.compile(
            rf"^[\s,:\"'“”‘’)]*(?:{_IS_A}(?:(?:is|was|are|were)\s+)?(?:also\s+)?"
            r"(?:ransomware\s+|extortion\s+|cybercrime\s+|hacking\s+)?"
            rf"(?:{group})\b{_GROUP_NOT_MODIFIER}|"
            r"(?:ransomware\s+(?:gang\s+|group\s+|operators?\s+|affiliates?\s+)?)?"
            r"(?:has\s+|have\s+|had\s+)?(?:claimed|claims|claiming|said|says|posted|listed|leaked|demanded|"
            r"threatened|published|announced|took\s+responsibility|added|targeted|targets|breached|hit|attacked|"
            r"compromised|stole|encrypted)\b)", re.IGNORECASE)
        self.auto = ahocorasick.Automaton()
        for key in kb.names:
            if key in self.stop:
                continue
            self.auto.add_word(f" {key} ", ("kb", key, len(key)))
            # "Scattered Lapsus$ Hunters" reads "scattered lapsus  hunters" in the scanned text (each
            # punctuation mark one space, to keep offsets): that spelling is a key too
            for form in kb.forms.get(key, ()):
                spelled = _PUNCT.sub(" ", _lower_same_length(form)).strip()
                if "  " in spelled and norm(spelled) == key:
                    self.auto.add_word(f" {spelled} ", ("kb", key, len(spelled)))
        for phrase in cfg.get("block", []):
            k = norm(phrase)
            if k and k not in kb.names and f" {k} " not in self.auto:
                self.auto.add_word(f" {k} ", ("block", _BLOCK, len(k)))
        for v in self.conv.vendors:
            for phrase in v.mentions:
                k = norm(phrase)
                if k:
                    # a vendor is never an actor (the ransomware galaxy lists a "McAfee"), and its
                    # mention also tells which vendor the text cites
                    self.auto.add_word(f" {k} ", ("block", v.name, len(k)))
        # link cues: where learn_links needs to look
        for cue in _LINK_CUE_WORDS:
            k = f" {cue} "
            if k not in self.auto:
                self.auto.add_word(k, ("cue", cue, len(cue)))
        # where a name in context may be ("the X group", "threat actor X", "groups such as X, Y")
        for word in sorted(_CTX_WORDS):
            k = f" {word} "
            if k not in self.auto:
                self.auto.add_word(k, ("ctx", word, len(word)))
        self.block_keys = {norm(b) for b in cfg.get("block", [])} | {
            norm(m) for v in self.conv.vendors for m in v.mentions}
        # triggers: where a vendor-convention name may start or end; the regexes run only there
        for t, kind in self.conv.triggers():
            if t not in self.auto:
                self.auto.add_word(t, ("trigger", kind, len(t)))
        self.auto.make_automaton()
        self._memo: tuple[str, tuple] | None = None  # the last text scanned (detect reads it twice)
        self._ransom_memo: tuple[str, bool] | None = None
        self._local = threading.local()  # .batch: scans kept for the length of one detect_batch

    # ------------------------------------------------------------------ construction

    @classmethod
    def default(cls, kb_dir: Path | None = None) -> ActorRecognizer:
        """The recognizer over the packaged galaxies, overridden by ``kb_dir``'s; built once per folder."""
        key = str(Path(kb_dir).resolve()) if kb_dir is not None else ""
        marker = ""
        if kb_dir is not None and Path(kb_dir).is_dir():
            marker = ";".join(f"{p.name}:{p.stat().st_mtime_ns}" for p in sorted(Path(kb_dir).glob("*.json")))
        with cls._lock:
            hit = cls._cache.get(key)
            if hit is not None and getattr(hit, "_marker", "") == marker:
                return hit
            rec = cls(KnowledgeBase.build(Path(kb_dir) if kb_dir is not None else None))
            rec._marker = marker  # type: ignore[attr-defined]
            cls._cache[key] = rec
            return rec

    # ------------------------------------------------------------------ candidates

    def _resolve_overlaps(self, raw: list[tuple[int, int, str, str]], text: str) -> list[_Cand]:
        raw.sort(key=lambda r: (r[0], -(r[1] - r[0])))
        out = []
        last_end = -1
        for s, e, key, source in raw:
            if s < last_end:
                continue  # overlaps a longer (or earlier) match: the longest leftmost wins
            last_end = e
            if source != "block":
                if text[e:e + 1] == ")" and text.count("(", s, e) > text.count(")", s, e):
                    e += 1  # "NoName057(16)": the key ends at "16", the name at its bracket
                out.append(_Cand(s, e, text[s:e], key, source))
        return out

    def _scan(self, text: str, extra: Sequence[ahocorasick.Automaton] = ()) -> tuple[list[_Cand], set[str]]:
        """Candidate names of ``text`` and the vendors it names, in one pass of the automaton.

        ``extra`` are automata of names learned from articles (see ``_extra_automata``).
        """
        raw_base, vendors, patterns, padded, _cues = self._scan_base(text)
        raw = list(raw_base)
        for auto in extra:
            for end, (source, key, klen) in auto.iter(padded):
                raw.append((end - klen - 1, end - 1, key, source))
        cands = self._resolve_overlaps(raw, text)
        if patterns:
            taken = sorted((c.start, c.end) for c in cands)
            starts = [t[0] for t in taken]
            forced: set[tuple[int, int]] = set()
            for p in patterns:
                i = bisect.bisect_left(starts, p.end)
                if any(p.start < te and ts < p.end for ts, te in taken[max(0, i - 3):i]):
                    if p.kind == "list":  # "groups such as SamSam and Dharma": the known name is a group here
                        forced |= {(ts, te) for ts, te in taken[max(0, i - 3):i] if p.start <= ts and te <= p.end}
                    continue  # a knowledge-base name (or a blocking phrase) covers it
                cands.append(_Cand(p.start, p.end, p.name, "", "pattern", p.vendor, p.origin, p.kind))
            if forced:
                cands = [replace(c, pkind="forced") if c.source == "kb" and (c.start, c.end) in forced else c
                         for c in cands]
            cands.sort(key=lambda c: c.start)
        return cands, vendors

    def _scan_base(self, text: str) -> tuple[list[tuple[int, int, str, str]], set[str], list[PatternName], str,
                                             list[int]]:
        batch = getattr(self._local, "batch", None)
        if batch is not None and text in batch:
            return batch[text]
        memo = self._memo
        if memo is not None and (memo[0] is text or memo[0] == text):
            return memo[1]
        low = _lower_same_length(text)
        padded = " " + _PUNCT.sub(" ", low) + " "
        raw: list[tuple[int, int, str, str]] = []
        vendors: set[str] = set()
        triggers: list[int] = []
        cues: list[int] = []
        ctx_points: list[int] = []
        for end, (source, key, klen) in self.auto.iter(padded):
            if source == "trigger":
                if key == "code":  # " unc", " ta": only before a digit, "-", "_" or "." ("UNC5221", "TEMP.Veles")
                    nxt = text[end:end + 2]
                    code_like = bool(nxt) and (nxt[0] in "-_." or nxt[0].isdigit()
                                               or (nxt[0] == " " and nxt[1:].isdigit()))
                    if not code_like and not key_is_camel(text, end):
                        continue
                triggers.append(end - 1)
                continue
            if source in ("cue", "ctx"):
                if key in _CTX_WORDS:
                    ctx_points.append(end - klen - 1)
                if source == "cue":
                    cues.append(end - klen - 1)
                continue
            if source == "block" and key != _BLOCK:
                vendors.add(key)
            # " name " ends at ``end`` in padded (text shifted by one): the name is text[end-klen-1 : end-1]
            raw.append((end - klen - 1, end - 1, key, source))
        patterns: list[PatternName] = []
        seen: set[tuple[int, int]] = set()
        for lo, hi in _windows(triggers, len(text)):
            while lo > 0 and not text[lo - 1].isspace() and hi - lo < 400:
                lo -= 1
            while hi < len(text) and not text[hi].isspace() and hi - lo < 400:
                hi += 1
            for p in self.conv.find(text[lo:hi]):
                span = (p.start + lo, p.end + lo)
                if span not in seen:
                    seen.add(span)
                    patterns.append(PatternName(span[0], span[1], p.name, p.vendor, p.origin, p.kind))
        if ctx_points:
            patterns += self._context_names(text, ctx_points)
        result = (raw, vendors, patterns, padded, cues)
        self._memo = (text, result)
        if batch is not None:
            batch[text] = result
        return result

    def _context_ok(self, name: str, text: str = "", start: int = 0, users: bool = False) -> bool:
        """Whether a capitalised phrase found beside a group word may be a group's name.

        ``users``: the word beside it is "actors" ("the BazaLoader actors"), which after a malware
        name means the people who use it, not a named group.
        """
        if text and self.conv.vendor_at(text, start):
            return False  # "one actor Intel 471 is tracking"
        if users and (_MALWARE_TAIL.search(name) or norm(name) in self.kb.malware_names
                      or norm(name) in self.kb.malware_keys or (text and _called_malware(text, name))):
            return False
        k = norm(name)
        words = k.split()
        if not words or len(k) < 3 or words[0] in _CTX_STOP or words[-1] in _CTX_STOP:
            return False
        if re.search(r"\bas a service\b", k) or (text and _CTX_NOT_NAME_AFTER.match(text, start + len(name))):
            return False  # "Malware-as-a-Service groups", "Personally Identifiable Information"
        if k in self.stop or k in self.block_keys or self.conv.vendor_named(name) or self.conv.find_vendor(name):
            return False
        return not name.isdigit()

    @staticmethod
    def _ctx_before_ok(head: str, m: re.Match[str], lo: int) -> bool:
        """Whether a name before a group word stands where a name can ("Many groups" opens a sentence)."""
        s = m.start("n")
        if m.group("art"):
            # "Predator the Thief group": the article is inside a name
            prev = head[:m.start("art")].rstrip(" \t")
            pw = prev.rsplit(None, 1)[-1].strip("\"“”‘’'") if prev.split() else ""
            return not (pw[:1].isupper() and pw[-1:].isalnum() and norm(pw) not in _CTX_STOP)
        # without an article the name must not open a sentence ("Some actors", "Many groups")
        prev = head[:s].rstrip(" \t\"“‘'")
        return bool(prev) and prev[-1] not in ".!?:;\n*#|>-•(" and not (s == 0 and lo == 0)

    def _context_names(self, text: str, points: list[int]) -> list[PatternName]:
        """Names that the sentence around each point says are a group's (see ``_CTX_WORDS``)."""
        out: list[PatternName] = []
        seen: set[tuple[int, int]] = set()

        def add(s: int, e: int, name: str, kind: str, users: bool = False) -> None:
            if (s, e) in seen or not self._context_ok(name, text, s, users):
                return
            seen.add((s, e))
            out.append(PatternName(s, e, name, self.conv.vendor_of(name), self.conv.origin_of(name), kind))

        last = -1
        for p in sorted(set(points)):
            g = _CTX_GROUP_AT.match(text, p)
            if g:
                lo = max(0, p - 90)
                head = text[lo:p]
                m = _CTX_BEFORE.search(head)
                if m and self._ctx_before_ok(head, m, lo):
                    add(lo + m.start("n"), lo + m.end("n"), m.group("n"), "context", g.group("w").startswith("actor"))
            if p < last:
                continue  # the window of an earlier point covers this one
            lo, last = max(0, p - 16), min(len(text), p + 180)
            chunk = text[lo:last]
            for m in _CTX_AFTER.finditer(chunk):
                add(lo + m.start("n"), lo + m.end("n"), m.group("n"), "context")
            for m in _CTX_LIST.finditer(chunk):
                base = lo + m.start("list")
                for it in _CTX_ITEM_RE.finditer(m.group("list")):
                    add(base + it.start(), base + it.end(), it.group(0), "list")
            last -= 60  # a list or name may run past the window: let the next point look again
        return out

    def _all_candidates(self, text: str) -> list[_Cand]:
        """Candidate names of ``text`` (knowledge base and vendor conventions)."""
        return self._scan(text)[0]

    # ------------------------------------------------------------------ precision rules

    def _strong_cue(self, text: str, s: int, e: int, *, after_only: bool = False) -> bool:
        """A group cue right before or after the name ("the hacker group X", "X hackers")."""
        after = _COORD_NAMES.sub("", re.split(r"[.!?;\n]", text[e:e + 90])[0], count=1)[:45]
        lead = ", " if after.lstrip().startswith(",") else ""  # "Gallium, a state-sponsored group"
        if self._cue_after.search(lead + " ".join(_words(after)[:6])):
            return True
        if after_only:
            return False
        before = re.split(r"[.!?;\n]", text[max(0, s - 45):s])[-1]
        return bool(self._cue_before.search(" ".join(_words(before)[-3:])))

    def _doc_ransom(self, text: str) -> bool:
        memo = self._ransom_memo
        if memo is None or memo[0] is not text:
            memo = self._ransom_memo = (text, bool(self._ransom_cue.search(text)))
        return memo[1]

    def _group_cue(self, text: str, s: int, e: int, *, after_only: bool = False) -> bool:
        before = "" if after_only else re.split(r"[.!?;\n]", text[max(0, s - 45):s])[-1]
        after = re.split(r"[.!?;\n]", text[e:e + 90])[0]
        # "the Akira and Lynx ransomware groups": the group word after a list of names covers each
        after = _COORD_NAMES.sub("", after, count=1)
        bw = " ".join(_words(before)[-3:])
        aw = (", " if after.lstrip().startswith(",") else "") + " ".join(_words(after)[:8])
        return bool((bw and self._group_before.search(bw)) or self._group_after.search(aw))

    @staticmethod
    def _in_url(text: str, s: int, e: int) -> bool:
        """Whether the name sits inside a URL, path or address ("https://x/apt40-report")."""
        i = s
        while i > 0 and not text[i - 1].isspace() and s - i < 200:
            i -= 1
        before = text[i:s]
        if "/" in before or "www." in before or "@" in before or "=" in before:
            return True
        nxt = text[e:e + 2]
        return nxt[:1] in ("/", "@", "_") or (nxt[:1] == "." and nxt[1:2].isalnum())

    @staticmethod
    def _mitre_group_link(text: str, e: int) -> bool:
        """Whether the name is the text of a link to its MITRE ATT&CK group page ("[Patchwork](https://attack...")."""
        return text.startswith("](", e) and "attack.mitre.org/groups/" in text[e:e + 48]

    def _accept(self, c: _Cand, text: str, doc_cyber: bool, vendors_in_doc: set[str]) -> bool:
        mention = c.text
        if _ORG_APPOSITION.match(text, c.end):
            return False  # "the Mabna Institute, an Iranian government contractor"
        if c.source == "learned":
            return any(ch.isupper() for ch in mention) or any(ch.isdigit() for ch in mention)
        has_digit = any(ch.isdigit() for ch in mention)
        if not has_digit and mention == mention.lower():
            return False  # "play", "mercury", "shadow": words, not names
        if self._in_url(text, c.start, c.end):
            return False
        if c.source == "pattern":
            if not doc_cyber or _PERSON_BEFORE.search(text[max(0, c.start - 40):c.start]):
                return False  # "a man called Harold Leopard" fits a vendor's convention but is a person
            if c.pkind in ("code", "context", "list"):
                return True
            return self._strong_cue(text, c.start, c.end) or c.vendor in vendors_in_doc
        key = c.key
        if key in self.stop:
            return False
        if c.pkind == "forced" or self._mitre_group_link(text, c.end):
            return True
        if _ALIAS_LIST.search(text[max(0, c.start - 100):c.start]):
            return True  # "APT28 (aka Sofacy, Sednit, Fancy Bear": a name in an actor's alias list
        ransom_name = key in self.kb.ransomware_keys
        if ransom_name and _RANSOMWARE_AFTER.match(text, c.end) and self._doc_ransom(text):
            return True  # "Qilin ransomware claimed", "a Qilin ransomware attack": the gang, in news
        if has_digit and re.search(r"[a-z][0-9]+[a-z]", key) and doc_cyber and mention in self.kb.forms.get(key, ()):
            return True  # "Cl0p": a spelling no word has
        if _NAMED_BEFORE.search(text[max(0, c.start - 40):c.start]) and (ransom_name or key in self.ordinary):
            return True  # "rebranded to Embargo", "a group known as Play"
        if ransom_name and " " in key and key not in self.kb.malware_names and doc_cyber and \
                mention != mention.upper() and not _title_word_run(mention):
            return True  # "Scattered Lapsus$ Hunters": a gang's name of several words is no malware name
        if key in self.kb.malware_keys:
            if _title_case_line(text, c.start):  # "Breach Linked to Global Cyberattack": capitals say nothing
                return self._group_cue(text, c.start, c.end, after_only=True)
            return self._group_cue(text, c.start, c.end)
        forms = self.kb.forms.get(key, set())
        ordinary = key in self.ordinary
        if not ordinary and key in self.kb.ransomware_keys and not has_digit:
            single = " " not in key
            camel = any(f[1:] != f[1:].lower() and f[1:] != f[1:].upper() for f in forms)
            ordinary = single and not camel
            if not ordinary and not self._doc_ransom(text):
                return False
        if ordinary:
            if _title_case_line(text, c.start):
                return self._strong_cue(text, c.start, c.end, after_only=True)
            if self._strong_cue(text, c.start, c.end):
                return True
            upper_form = any(f.isupper() for f in forms)
            return upper_form and mention.isupper() and len(mention) >= 5 and not text[
                max(0, c.start - 30):c.end + 30].isupper()
        if len(key) <= 4 and not has_digit:
            # short alphabetic names (CCA, Hagga...) need the case the source uses and a cue
            if mention not in forms and mention.upper() != mention:
                return False
            return self._strong_cue(text, c.start, c.end)
        return True

    # ------------------------------------------------------------------ nodes

    def _nodes_for(self, c: _Cand) -> list[str]:
        if c.source == "kb":
            return list(self.kb.names.get(c.key, ()))
        if c.source == "learned":
            ids = self.kb.names.get(c.key)
            return list(ids) if ids else [f"new:{c.key}"]
        ids = set()
        for k in name_keys(c.text):
            ids |= set(self.kb.names.get(k, ()))
        return sorted(ids) if ids else [f"new:{norm(c.text)}"]

    def _node_of_name(self, name: str) -> str | None:
        """The node a linked name stands for (None when it is ambiguous)."""
        k = norm(name)
        ids = set()
        for kk in name_keys(name):
            ids |= set(self.kb.names.get(kk, ()))
        if len(ids) == 1:
            return next(iter(ids))
        if len(ids) > 1:
            return self.kb.primary.get(k) if self.kb.primary.get(k) in ids else None
        return f"new:{k}" if k else None

    def _add_links(self, uf: _Links, links: Iterable[AliasLink], overlaps: list[tuple[str, str]]) -> None:
        """Union the identities in ``links``; collect their "overlaps" pairs for later.

        A link with relation "refused" (``digest actors unlink``) is no link: it stops the same pair
        of names from being joined by any link that comes after it, stored or learned now.
        """
        for link in links:
            pair = frozenset((norm(link.name_a), norm(link.name_b)))
            if link.relation == "refused":
                uf.refused.add(pair)
                continue
            if pair in uf.refused:
                continue
            a, b = self._node_of_name(link.name_a), self._node_of_name(link.name_b)
            for n, node in ((link.name_a, a), (link.name_b, b)):
                if node and node.startswith("new:"):
                    uf.spelling.setdefault(node, n.strip())
            if link.vendor:
                uf.vendors.setdefault(norm(link.name_b), link.vendor)
            if not a or not b or a == b:
                continue
            uf.subjects[a] += 1
            if link.relation == "overlaps":
                overlaps.append((a, b))
            else:
                uf.union(a, b)

    def _prepare(self, links: Iterable[AliasLink]) -> _Prepared:
        """The identities of ``links`` applied once; reused (and extended) while a list only grows.

        A worker passes the same list of stored links, with each article's new links appended, for
        every article: rebuilding the union-find each time made detection cost grow with the
        number of stored links (12 ms an article with 500 links, 98 ms with 8,000).
        """
        if not isinstance(links, list):
            links = list(links)
        cached: _Prepared | None = getattr(self._local, "prepared", None)
        n = len(links)
        if cached is not None and cached.links is links and n >= cached.count and \
                (cached.count == 0 or links[cached.count - 1] is cached.last):
            if n > cached.count:
                self._add_links(cached.uf, links[cached.count:], cached.overlaps)
                cached.count, cached.last = n, links[-1]
            return cached
        prepared = _Prepared(links, n, links[-1] if links else None, _Links(), [])
        self._add_links(prepared.uf, links, prepared.overlaps)
        self._local.prepared = prepared
        return prepared

    def _apply_links(self, links: Iterable[AliasLink], more: Iterable[AliasLink] = ()) -> _Links:
        """The union-find of ``links`` then ``more``; "overlaps" pairs join last, where nothing forbids."""
        prepared = self._prepare(links)
        uf = prepared.uf.copy()
        uf.prepared, uf.prepared_len = prepared, len(uf.parent)
        overlaps = list(prepared.overlaps)
        self._add_links(uf, more, overlaps)
        for a, b in overlaps:
            if self._may_overlap(uf, a, b):
                uf.union(a, b)
        return uf

    def _may_overlap(self, uf: _Links, a: str, b: str) -> bool:
        """An "overlaps" link joins only where nothing says the two are distinct."""
        ga, gb = uf.members(a) or [a], uf.members(b) or [b]
        ka = [self.kb.actors[n] for n in ga if n in self.kb.actors]
        kb_ = [self.kb.actors[n] for n in gb if n in self.kb.actors]
        ca = {x.country for x in ka if x.country}
        cb = {x.country for x in kb_ if x.country}
        if ca and cb and not (ca & cb):
            return False
        big_a = any(len(x.aliases) >= 4 for x in ka)
        big_b = any(len(x.aliases) >= 4 for x in kb_)
        return not (big_a and big_b)

    def _learned_automaton(self, nodes: Iterable[str]) -> ahocorasick.Automaton | None:
        """One automaton over the learned (``new:``) names among ``nodes`` that no knowledge base has."""
        keys = [k for n in nodes if n.startswith("new:") and (k := n[4:]) and k not in self.kb.names]
        if not keys:
            return None
        auto = ahocorasick.Automaton()
        for k in keys:
            auto.add_word(f" {k} ", ("learned", k, len(k)))
        auto.make_automaton()
        return auto

    def _extra_automata(self, uf: _Links) -> list[ahocorasick.Automaton]:
        """Automata over every learned name in ``uf``: the stored links' part built once and kept.

        The names of the prepared (stored) links are covered by chunks cached on the prepared set,
        grown as the list of links grows; only the names this article's own links add are put in
        a fresh automaton each time.
        """
        prepared, base_len = uf.prepared, uf.prepared_len
        out: list[ahocorasick.Automaton] = []
        if prepared is not None and prepared.chunks and prepared.chunks[-1][0] > base_len:
            prepared = None  # a copy older than the cached chunks: cover its names on their own
            base_len = 0
        if prepared is not None and base_len:
            chunks = prepared.chunks
            done = chunks[-1][0] if chunks else 0
            if done < base_len:
                if len(chunks) >= 4:  # fold the small chunks into one
                    chunks.clear()
                    done = 0
                chunks.append((base_len, self._learned_automaton(islice(prepared.uf.parent, done, base_len))))
            out += [auto for _end, auto in chunks if auto is not None]
        own = self._learned_automaton(islice(uf.parent, base_len, None))
        if own is not None:
            out.append(own)
        return out

    # ------------------------------------------------------------------ detection

    def _mentions(self, title: str, text: str, uf: _Links,
                  extra: list[ahocorasick.Automaton] | None = None) -> tuple[str, list[Mention]]:
        full = f"{title}\n\n{text}" if title else text
        cands, vendors_in_doc = self._scan(full, self._extra_automata(uf) if extra is None else extra)
        doc_cyber = bool(self._doc_cue.search(full))
        accepted: list[tuple[_Cand, list[str]]] = []
        ok = [self._accept(c, full, doc_cyber, vendors_in_doc) for c in cands]
        # a name the text once treats as an actor is that actor wherever it is written so
        good_keys = {c.key or norm(c.text) for c, a in zip(cands, ok) if a}
        for c, a in zip(cands, ok):
            if not a and (c.key or norm(c.text)) in good_keys and c.key not in self.stop \
                    and c.text != c.text.lower() and not self._in_url(full, c.start, c.end):
                a = True
            if a:
                accepted.append((c, self._nodes_for(c)))
        # ambiguous names: the candidate the document names otherwise, else the primary owner
        sure = Counter(uf.find(n[0]) for _c, n in accepted if len(n) == 1)
        out: list[Mention] = []
        for c, nodes in accepted:
            if len(nodes) > 1:
                present = [n for n in nodes if uf.find(n) in sure]
                if present:
                    nodes = present
                else:
                    prim = self.kb.primary.get(c.key or norm(c.text))
                    nodes = [prim] if prim in nodes else []
            for n in nodes:
                out.append(Mention(c.start, c.end, c.text, n, c.vendor, c.origin))
        return full, out

    def _main_node(self, nodes: list[str], uf: _Links) -> str:
        """The node that names the group: an established actor, else the subject of the links."""
        actors = self.kb.actors
        established = [n for n in nodes if n in actors and len(actors[n].aliases) >= 4]
        if established:
            return min(established, key=lambda n: (-len(actors[n].aliases), n))
        best = max((uf.subjects.get(n, 0) for n in nodes), default=0)
        if best:
            top = [n for n in nodes if uf.subjects.get(n, 0) == best]
            return min(top, key=lambda n: (n.startswith("new:"), -len(actors[n].aliases) if n in actors else 0, n))
        known = [n for n in nodes if n in actors]
        if known:
            return min(known, key=lambda n: (-len(actors[n].aliases), n))
        return min(nodes)

    def _hit(self, nodes: list[str], uf: _Links, mentions: list[str],
             pattern_info: dict[str, tuple[str, str | None]]) -> ActorHit:
        main = self._main_node(nodes, uf)
        ordered = [main] + sorted(n for n in nodes if n != main)
        aliases: list[Alias] = []
        seen: set[str] = set()
        country = None
        description = motivation = ""
        name = aid = ""
        for n in ordered:
            actor = self.kb.actors.get(n)
            if actor is not None:
                for al in actor.aliases:
                    if norm(al.name) not in seen:
                        seen.add(norm(al.name))
                        aliases.append(Alias(al.name, al.vendor or uf.vendors.get(norm(al.name), "")))
                country = country or actor.country
                description = description or actor.description
                motivation = motivation or actor.motivation
                if not name:
                    name, aid = actor.name, actor.id
                continue
            spelled = uf.spelling.get(n) or pattern_info.get(n, ("", None))[0] or n[4:]
            if not name:
                name, aid = spelled, slug(spelled)
            if norm(spelled) in seen:
                continue
            seen.add(norm(spelled))
            vendor = uf.vendors.get(norm(spelled)) or self.conv.vendor_of(spelled)
            aliases.append(Alias(spelled, vendor))
            country = country or self.conv.origin_of(spelled)
        if not motivation:  # "Octo Tempest": Microsoft's Tempest family is financially motivated
            motivation = next((m for a in aliases if (m := self.conv.motive_of(a.name))), "")
        return ActorHit(id=aid, name=name, aliases=tuple(aliases), mentions=tuple(mentions), country=country,
                        description=description, motivation=motivation)

    def _detect_with(self, title: str, text: str, uf: _Links,
                     extra: list[ahocorasick.Automaton] | None = None) -> list[ActorHit]:
        _full, mentions = self._mentions(title, text, uf, extra)
        groups: dict[str, list[Mention]] = defaultdict(list)
        for m in mentions:
            groups[uf.find(m.node)].append(m)
        pattern_info: dict[str, tuple[str, str | None]] = {}
        for m in mentions:
            if m.node.startswith("new:"):
                pattern_info.setdefault(m.node, (m.text, m.origin))
                uf.spelling.setdefault(m.node, m.text)
        hits = []
        for root, ms in groups.items():
            nodes = uf.members(root) if root in uf.parent else [root]
            if root not in nodes:
                nodes.append(root)
            texts: list[str] = []
            for m in sorted(ms, key=lambda m: m.start):
                if m.text not in texts:
                    texts.append(m.text)
            hits.append((min(m.start for m in ms), self._hit(nodes, uf, texts, pattern_info)))
        hits.sort(key=lambda h: h[0])
        merged: dict[str, ActorHit] = {}
        for _pos, h in hits:
            if h.id in merged:  # two roots with one canonical id: join their mentions
                old = merged[h.id]
                merged[h.id] = ActorHit(old.id, old.name, old.aliases,
                                        tuple(dict.fromkeys(old.mentions + h.mentions)), old.country,
                                        old.description, old.motivation)
            else:
                merged[h.id] = h
        return list(merged.values())

    def detect(self, title: str, text: str, links: Iterable[AliasLink] = ()) -> list[ActorHit]:
        """The actors the document is about, each once, under its canonical id.

        ``links`` are alias links learned from earlier articles; links stated in this document are
        learned and applied too.
        """
        return self.detect_and_learn(title, text, links)[0]

    def detect_and_learn(self, title: str, text: str, links: Iterable[AliasLink] = (),
                         source_id: str = "") -> tuple[list[ActorHit], list[AliasLink]]:
        """:meth:`detect`, also returning the links this document states (one scan of the text for both)."""
        own = self.learn_links(f"{title}\n\n{text}" if title else text, source_id)
        uf = self._apply_links(links, own)
        if uf.refused:
            own = [x for x in own if frozenset((norm(x.name_a), norm(x.name_b))) not in uf.refused]
        return self._detect_with(title, text, uf), own

    def detect_batch(self, docs: Sequence[tuple[str, str, str]],
                     links: Iterable[AliasLink] = ()) -> dict[str, list[ActorHit]]:
        """Detect in many documents ``(id, title, text)``; a link stated in any of them applies to all."""
        learned: list[AliasLink] = []
        self._local.batch = {}
        try:
            for doc_id, title, text in docs:
                learned += self.learn_links(f"{title}\n\n{text}" if title else text, doc_id)
            uf = self._apply_links(links, learned)
            extra = self._extra_automata(uf)
            # each document reads a copy: a name one document finds in context ("a group known as
            # X") is that document's, not a learned name for the rest of the batch
            return {doc_id: self._detect_with(title, text, uf.copy(), extra) for doc_id, title, text in docs}
        finally:
            self._local.batch = None

    def lookup(self, name: str, links: Iterable[AliasLink] = ()) -> ActorHit | None:
        """The canonical actor a name stands for (for ``digest actors show``), or None."""
        uf = self._apply_links(links)
        node = self._node_of_name(name)
        if node is None:
            return None
        if node.startswith("new:") and node not in uf.parent:
            if not self.conv.vendor_of(name.strip()):
                return None
            uf.spelling[node] = name.strip()
        root = uf.find(node)
        nodes = uf.members(root) if root in uf.parent else [root]
        if root not in nodes:
            nodes.append(root)
        return self._hit(nodes, uf, [], {})

    # ------------------------------------------------------------------ learning links

    def learn_links(self, text: str, source_id: str = "") -> list[AliasLink]:
        """Alias links stated in ``text``, each with the sentence as provenance.

        Identities: "X, also known as Y", "X (aka Y)", "tracked as Y by Vendor", "which Microsoft
        calls Y", "formerly tracked as Y", "the same actor as Y"; weaker: "overlaps with Y".
        """
        return _learn_links(self, text, source_id)


# ---------------------------------------------------------------------------- learning links

# the text just before a name that stands in a list of an actor's other names
_ALIAS_LIST = re.compile(
    r"(?:\baka\b|\ba\.k\.a\b\.?|\balso\s+(?:known|tracked)\s+as|\b(?:formerly|previously)\s+(?:known|tracked)\s+as)"
    r"[\s:*_\"“”'‘’]*(?:[A-Z][\w.\-]*(?:\s+[A-Z0-9][\w.\-]*){0,3}[*_\"“”'‘’]*\s*(?:,|\bor\b|\band\b|/)[\s*_\"“”'‘’]*){0,6}$")

_VENDOR_TXT = r"[A-Z][\w.'’&-]*(?:\s+(?:[A-Z0-9][\w.'’&-]*|of|de))*"
#: a group word between a name and its naming phrase: "the Play group, also known as PlayCrypt"
_REL_GROUP = r"(?:(?:ransomware\s+|threat\s+|hacking\s+|APT\s+)?(?:group|gang|crew|actor|operation|team|cluster)\s*)?"
_REL_SAME = [re.compile(p, re.IGNORECASE) for p in (
    r"^\s*" + _REL_GROUP + r"[,(;]?\s*(?:which\s+is\s+|who\s+(?:is|are)\s+|and\s+)?(?:also\s+|previously\s+|formerly\s+|otherwise\s+|more\s+commonly\s+|publicly\s+|better\s+|now\s+|alternatively\s+)?"
    r"(?:known|tracked|referred\s+to|identified|reported|labell?ed|designated|called|named)"
    r"(?:\s+by\s+(?P<vendor>" + _VENDOR_TXT + r"))?\s+(?:as|under)\s*:?\s*[\"“']?$",
    r"^\s*" + _REL_GROUP + r"[,(;]?\s*(?:aka|a\.k\.a\.?|also\s+called|also\s+dubbed|formerly|previously|alias(?:es)?|also|or\s+simply)\s*:?\s*[\"“']?$",
    r"^\s*,?\s*(?:which|whom|that|who|what)\s+(?P<vendor>" + _VENDOR_TXT + r")\s+"
    r"(?:calls|call|tracks|track|tracked|refers\s+to|names|dubs|dubbed|labels|designates)"
    r"(?:\s+(?:it|them|the\s+group|the\s+actor))?(?:\s+as)?\s*[\"“']?$",
    (r"^\s*(?:is|was|are|were)\s+(?:also\s+)?(?:the\s+same\s+(?:threat\s+)?(?:actor|group|cluster|gang|crew|entity)\s+as|"
     r"also\s+known\s+as|another\s+name\s+for|now\s+(?:known|tracked)\s+as|(?:tracked|known)\s+as)\s*$"),
    r"^\s*\(\s*$",
    r"^\s*,?\s*(?:now\s+|since\s+|recently\s+)?(?:renamed|rebranded)\s+(?:as|to)\s*$",
    # "UNC9931, which tracks the same actor as Storm-9931": one vendor's name for another's
    (r"^\s*,?\s*(?:(?:which|that|who)\s+)?(?:tracks?|tracked|describes?|described|covers?|names?|is)\s+"
     r"(?:the\s+)?same\s+(?:threat\s+)?(?:actor|group|cluster|activity|adversary|entity|gang|crew|set)\s+as"
     r"(?:\s+(?P<vendor>" + _VENDOR_TXT + r")['’]s?)?\s*$"),
    r"^\s*(?:,\s*)?(?:tracked|known)\s+by\s+(?P<vendor>" + _VENDOR_TXT + r")\s+as\s*$",
)]
_REL_OVERLAP = [re.compile(p, re.IGNORECASE) for p in (
    (r"^\s*[,(]?\s*(?:which|that|who)?\s*(?:also\s+)?(?:overlaps?|overlapping|shares?\s+(?:some\s+)?overlaps?|"
     r"has\s+(?:some\s+)?overlaps?|partially\s+overlaps?)\s+(?:with|to)\s*$"),
    r"^\s*[,(]?\s*(?:(?:which|that)\s+)?(?:is|was|are|were)?\s*(?:a\s+)?(?:sub-?group|sub-?cluster|subset|offshoot|splinter|faction)\s+of\s*$",
    r"^\s*[,(]?\s*(?:(?:which|that)\s+)?(?:is|was|are|were)\s+(?:closely\s+)?(?:linked|tied|related|connected)\s+to\s*$",
)]
_LIST = re.compile(
    r"^\s*(?:\(?\s*by\s+(?P<vendor>" + _VENDOR_TXT + r")\s*\)?|\(\s*(?:" + _VENDOR_TXT + r")\s*\))?"
    r"\s*(?:,|;|/|,?\s*and|,?\s*or)\s*(?:as\s+)?[\"“']?$")
_TRAIL_VENDOR = re.compile(r"^\s*(?:\(?\s*by\s+|\(\s*)(?P<vendor>" + _VENDOR_TXT + r")")
_INTRO = re.compile(
    r"(?:under\s+(?:different|other|various|separate|several)\s+(?:names?|monikers)|"
    r"(?:names?|monikers?|aliases|designations)\s*,?\s*(?:such\s+as|like|including|:)|"
    r"(?:tracks?|tracked|track|calls?|call)\s+(?:[\w'’-]+\s+){0,6}?(?:as|under)|such\s+as|including|"
    r"(?:also\s+)?(?:known|tracked)\s+as|aka|a\.k\.a\.?|overlap(?:s|ping)?\s+with)\s*:?\s*[\"“']?$",
    re.IGNORECASE)
# "another China-based threat actor, tracked as Storm-2603": a new actor, not a name for the topic
_ANOTHER = re.compile(r"\b(?:another|a\s+(?:second|third|different|separate|new|distinct))\s+(?:[\w-]+\s+){0,3}?"
                      r"(?:actor|group|cluster|gang|team|operator|crew)\b", re.IGNORECASE)
_TRACK_WORDS = re.compile(
    r"\b(?:tracks?|tracked|tracking|names?|known|aka|overlap\w*|alias\w*|calls?|dubbed|monikers?|designations?)\b",
    re.IGNORECASE)
_LINK_CUE_WORDS = (
    "known as", "tracked as", "tracked", "tracks", "track", "aka", "a k a", "calls", "call", "called",
    "formerly", "previously", "overlap", "overlaps", "overlapping", "same", "different names", "rebranded",
    "renamed", "subgroup", "sub group", "offshoot", "splinter", "another name", "linked to", "tied to",
    "dubbed", "alias", "aliases", "also",
)
_NEW_NAME = re.compile(
    r"(?:(?:known|tracked|referred\s+to)\s+(?:by\s+" + _VENDOR_TXT + r"\s+)?as|\baka|a\.k\.a\.?|\bdubbed|\bcalls\s+(?:it|them)|"
    r"\bcalled|\bnamed|rebranded\s+as|renamed\s+to|overlaps?\s+with)\s+(?:the\s+)?[\"“']?"
    r"(?P<n>[A-Z][\w$()-]*[\w$)](?:[ \t]+[A-Z0-9][\w$-]*[\w$]){0,2})")
# one more name of a list after a naming phrase: ", Puffy Owl", " or Stinky Badger", ", and UNC6111"
_LIST_MORE = re.compile(r"[*_\"”’']*(?:,[ \t]*(?:(?:and|or)[ \t]+)?|[ \t]+(?:and|or)[ \t]+|[ \t]*/[ \t]*)[\"“‘'*_]*"
                        r"(?P<n>[A-Z][\w$()-]*[\w$)](?:[ \t]+[A-Z0-9][\w$-]*[\w$]){0,2})"
                        r"(?=[*_\"”’']*(?:[,;)/.:]|[ \t]+(?:and|or)\b|[ \t]*$))")  # a list item ends there
_HEAD_NAME = re.compile(
    r"(?<![\w$-])(?P<n>[A-Z][\w$-]*[\w$](?:[ \t]+[A-Z0-9][\w$-]*[\w$]){0,2})[ \t]*(?:,[ \t]*|\([ \t]*)?"
    r"(?=(?:also\s+|previously\s+|formerly\s+)?(?:known|tracked|referred\s+to)\s+(?:by\s+[^,.;]{2,60}\s+)?as\b|"
    r"aka\b|a\.k\.a\.|which\s+[A-Z][\w ]{1,40}?\s+(?:calls|tracks)|(?:which\s+|that\s+)?overlaps?\s+with\b|"
    r"(?:is|was)\s+the\s+same\s+(?:threat\s+)?(?:actor|group)\s+as\b)")
_NEW_NAME_STOP = {
    "the", "a", "an", "this", "that", "it", "its", "they", "microsoft", "google", "apple", "windows",
    "linux", "android", "ios", "operation", "russia", "china", "iran", "north", "korea", "ukraine",
    "israel", "india", "pakistan", "vietnam", "us", "u", "united", "european", "cve", "threat",
}


#: what a naming phrase names when one of these nouns stands before it: a bug, an attack, a malware
#: family, a product, a company or a person ("a chain of bugs known as ProxyLogon", "the breach known
#: as SolarWinds", "a man called Harold Leopard"), never an actor
_NOT_ACTOR_NOUN = re.compile(
    r"\b(?:vulnerabilit(?:y|ies)|flaws?|bugs?|exploits?|zero-?days?|CVEs?|weakness(?:es)?|"
    r"breach(?:es)?|attacks?|hacks?|incidents?|campaigns?|operations?|intrusions?|compromises?|"
    r"malware|wipers?|backdoors?|loaders?|droppers?|trojans?|stealers?|infostealers?|implants?|payloads?|"
    r"botnets?|rootkits?|worms?|strains?|variants?|famil(?:y|ies)|tools?|toolkits?|frameworks?|kits?|"
    r"products?|software|platforms?|services?|apps?|applications?|devices?|protocols?|techniques?|methods?|"
    r"tactics?|schemes?|tricks?|projects?|"
    r"compan(?:y|ies)|firms?|vendors?|startups?|retailers?|banks?|brands?|websites?|sites?|markets?|"
    r"forums?|marketplaces?|agenc(?:y|ies)|"
    r"man|woman|person|individual|fraudsters?|developers?|suspects?|defendants?|nationals?|citizens?|"
    r"residents?|teenagers?|brothers?|sisters?|father|mother|son|daughter|husband|wife|CEO|founder|"
    r"spokes(?:man|woman|person)|analyst|researcher|engineer|officer|official|minister)"
    r"(?:\s+\w+){0,2}?\s*,?\s*(?:(?:also|now|previously|formerly|better|commonly|simply|publicly)\s+)?"
    r"(?:known|tracked|referred\s+to|called|named|dubbed|nicknamed|branded)\b[^.;]{0,30}$", re.IGNORECASE)
#: an apposition that says what a name is, and it is no actor: "X, an Iranian government contractor"
_ORG_APPOSITION = re.compile(
    r"[\"”’']?\s*,\s*(?:an?|the)\s+(?:[\w-]+\s+){0,3}?(?:compan(?:y|ies)|firm|contractor|provider|vendor|maker|"
    r"manufacturer|retailer|bank|universit(?:y|ies)|hospital|agency|ministry|organi[sz]ation|non-?profit|startup|"
    r"consultancy|institute|publisher|outlet|newspaper|broadcaster|brand|app|platform|product|service|tool|"
    r"malware|backdoor|loader|trojan|stealer|botnet|wiper|technique|method|campaign)\b"
    r"(?!\s+(?:said|says|told|reported|added|wrote|noted|stated|explained|warned|found|believes))",  # ", the firm said"
    re.IGNORECASE)
#: a person's name before it: "a man called Harold Leopard", "defendant John Panda"
_PERSON_BEFORE = re.compile(
    r"\b(?:man|woman|person|individual|fraudster|developer|suspect|defendant|national|citizen|resident|"
    r"teenager|brother|sister|father|mother|son|daughter|husband|wife|CEO|founder|spokes(?:man|woman|person)|"
    r"analyst|researcher|engineer|officer|official|minister|Mr|Mrs|Ms|Dr|Sir|Judge)\.?"
    r"(?:\s*,)?(?:\s+(?:called|named|identified\s+as|known\s+as))?\s+$", re.IGNORECASE)


#: a naming phrase without a head names the article's actor only when it is about an actor ("the
#: group is tracked as", "Mandiant tracks it as", "under different names, such as"), not "others"
_TOPIC_SUBJECT = re.compile(
    r"\b(?:groups?|actors?|gangs?|clusters?|crews?|teams?|adversar(?:y|ies)|APTs?|intrusion\s+sets?|"
    r"collective|hackers|operators|it|they|them|itself|themselves|which|who|whom|names?|monikers?|aliases|"
    r"designations?|different|various|other\s+vendors)\b", re.IGNORECASE)


#: a sentence that links two names no knowledge base knows must say it is about actors
_ACTOR_WORDS = re.compile(
    r"\b(?:groups?|actors?|gangs?|crews?|clusters?|threat\s+(?:actor|group)s?|APTs?|hackers?|adversar(?:y|ies)|"
    r"intrusion\s+sets?|track(?:s|ed|ing)?|operators?|collective|cybercriminals?|espionage|overlap\w*|calls)\b")


def _vendor_name(conv: Conventions, raw: str | None) -> str:
    if not raw:
        return ""
    raw = raw.strip().rstrip(".,;")
    v = conv.find_vendor(raw)
    if v:
        return v
    return raw if len(raw) <= 40 else ""


def _with_new_names(rec: ActorRecognizer, sentence: str, offset: int, cands: list[_Cand]) -> list[_Cand]:
    """The sentence's candidates plus unknown names that a link phrase introduces."""
    cands = list(cands)
    taken = [(c.start, c.end) for c in cands]
    # unknown names right after a naming phrase ("also known as Sneaky Ferret"), and the rest of a
    # list of names that follows it ("also known as Sneaky Ferret, Puffy Owl or Stinky Badger")
    spans: list[tuple[int, int, str]] = []
    about_actors = _ACTOR_WORDS.search(sentence) is not None  # "CDO, previously known as OLE Messaging or ..."
    for m in _NEW_NAME.finditer(sentence):
        if _NOT_ACTOR_NOUN.search(sentence[max(0, m.start() - 80):m.start("n")]):
            continue  # "a chain of bugs known as ProxyLogon", "the breach known as SolarWinds"
        spans.append((*m.span("n"), m.group("n")))
        pos = m.end("n")
        for _ in range(6 if about_actors else 0):
            more = _LIST_MORE.match(sentence, pos)
            if more is None:
                break
            spans.append((*more.span("n"), more.group("n")))
            pos = more.end("n")
    for s, e, name in spans:
        s, e = s + offset, e + offset
        while name.endswith(")") and name.count("(") < name.count(")"):
            name, e = name[:-1], e - 1
        k = norm(name)
        first = k.split(" ")[0] if k else ""
        if not k or first in _NEW_NAME_STOP or k in rec.stop or rec.conv.vendor_named(name) or k in rec.block_keys:
            continue
        if any(s < te and ts < e for ts, te in taken):
            continue
        cands.append(_Cand(s, e, name, k, "learned"))
    # unknown names right before a link phrase ("Sneaky Ferret (aka ...", "Okapi Lynx, tracked as ...")
    for m in _HEAD_NAME.finditer(sentence):
        if _NOT_ACTOR_NOUN.search(sentence[max(0, m.start("n") - 80):m.start("n")]):
            continue  # "a malware project dubbed Project 420 aka Dolphin"
        s, e = m.span("n")
        s, e = s + offset, e + offset
        words = m.group("n").split()
        while words and norm(words[0]) in _NEW_NAME_STOP | {"researchers", "microsoft", "mandiant", "google"}:
            words.pop(0)
        if not words:
            continue
        name = " ".join(words)
        s = e - len(name)
        k = norm(name)
        if k in rec.stop or rec.conv.vendor_named(name) or (k in rec.kb.names and k not in rec.ordinary) \
                or k in rec.block_keys:
            continue
        inside = [c for c in cands if s <= c.start and c.end <= e]
        if any(c.start < e and s < c.end for c in cands if c not in inside):
            continue
        if any(c.source != "kb" or c.key not in rec.ordinary for c in inside):
            continue  # a known name (or a convention-built one) is the head: keep it
        cands = [c for c in cands if c not in inside]
        cands.append(_Cand(s, e, name, k, "learned"))
    cands = [c for c in cands if not (c.source == "kb" and (c.key in rec.stop or c.text == c.text.lower()))]
    cands.sort(key=lambda c: c.start)
    return cands


_BOUNDARY = re.compile(r"[.!?] |\n")


def _sentence_spans(text: str, cues: Iterable[int]) -> list[tuple[int, int]]:
    """The sentence around each cue, once per sentence, in text order.

    A sentence runs from after the last ". " ("! ", "? " or line break) before the cue to the next
    one. The boundaries are found in one pass; looking each one up with ``str.find`` scanned to the
    end of the text for every cue (there is rarely a "! " to stop at).
    """
    marks = [(m.start(), m.end() - m.start()) for m in _BOUNDARY.finditer(text)]
    starts = [i for i, _n in marks]
    spans: list[tuple[int, int]] = []
    for pos in sorted(cues):
        if spans and pos < spans[-1][1]:
            continue
        k = bisect.bisect_left(starts, pos)
        j = k - 1
        while j >= 0 and starts[j] + marks[j][1] > pos:  # ". " must end before the cue
            j -= 1
        spans.append((starts[j] + 1 if j >= 0 else 0, starts[k] + 1 if k < len(starts) else len(text)))
    return spans


def _learn_links(rec: ActorRecognizer, text: str, source_id: str = "") -> list[AliasLink]:
    """See :meth:`ActorRecognizer.learn_links`."""
    all_cands = rec._all_candidates(text)
    cues = list(rec._scan_base(text)[4])
    # "Forest Blizzard (APT28)": a parenthesis between two names is a cue too
    for a, b in pairwise(all_cands):
        if b.start - a.end <= 4 and "(" in text[a.end:b.start]:
            cues.append(a.end)
    sentences = _sentence_spans(text, cues)
    if not sentences:
        return []
    starts = [c.start for c in all_cands]
    links: list[AliasLink] = []
    seen: set[tuple[str, str, str]] = set()

    def add(a: _Cand, b: _Cand, relation: str, vendor: str, sentence: str, topic_link: bool = False) -> None:
        if norm(a.text) == norm(b.text) or norm(a.text) in rec.block_keys or norm(b.text) in rec.block_keys:
            return
        unknown = [c.source == "learned" for c in (a, b)]
        if (all(unknown) or (topic_link and any(unknown))) and not _ACTOR_WORDS.search(sentence):
            return  # "CDO, previously known as OLE Messaging, is an API", "a route known as OBOR"
        if any(norm(c.text) in rec.kb.malware_names and norm(c.text) not in rec.kb.names for c in (a, b)):
            return  # "njRAT, also known as Bladabindi": malware, not actors (a gang named after its
            # ransomware, "BlackSuit is also known as Royal", is still an actor)
        if any(_PERSON_BEFORE.search(text[max(0, c.start - 40):c.start]) for c in (a, b)):
            return  # "the analyst, Jane Sparrow (also known as ...)": a person
        sig = (norm(a.text), norm(b.text), relation)
        if sig in seen:
            return
        seen.add(sig)
        links.append(AliasLink(a.text, b.text, relation, vendor, source_id, sentence.strip()))

    for ss, se in sentences:
        sentence = text[ss:se]
        names = all_cands[bisect.bisect_left(starts, ss):bisect.bisect_left(starts, se)]
        names = [c for c in names if c.end <= se]
        names = _with_new_names(rec, sentence, ss, names)
        if not names:
            continue
        head: _Cand | None = None
        relation = "same"
        first = names[0]
        before = text[max(ss, first.start - 120):first.start]
        intro = _INTRO.search(before)
        if intro and _TRACK_WORDS.search(sentence) and not _ANOTHER.search(text[ss:first.start]) and \
                _TOPIC_SUBJECT.search(before[max(0, intro.start() - 40):intro.end()]) and \
                not _NOT_ACTOR_NOUN.search(before[max(0, intro.start() - 60):]):
            earlier = all_cands[:bisect.bisect_left(starts, ss)]
            topic = _topic(rec, text, earlier, exclude={norm(c.text) for c in names})
            # "Storm-2603. The group that Microsoft tracks as Storm-2603 ...": a name the article
            # already used on its own describes itself, not the article's main actor
            if topic is not None and norm(first.text) not in {norm(c.text) for c in earlier}:
                head = topic
                relation = "overlaps" if re.search(r"overlap", sentence, re.IGNORECASE) else "same"
                add(head, first, relation, _trailing_vendor(rec, text, first, se), sentence, True)
        for a, b in pairwise(names):
            between = text[a.end:b.start]
            if len(between) > 90:
                head = None
                continue
            vendor = ""
            matched = None
            for rx in _REL_SAME:
                m = rx.match(between)
                if m:
                    matched, vendor = "same", _vendor_name(rec.conv, m.groupdict().get("vendor"))
                    break
            if matched is None:
                for rx in _REL_OVERLAP:
                    if rx.match(between):
                        matched = "overlaps"
                        break
            if matched is not None:
                head, relation = (head if head is not None and _LIST.match(between) else a), matched
                add(a if head is None else head, b, matched, vendor or _trailing_vendor(rec, text, b, se), sentence)
                continue
            lm = _LIST.match(between)
            if lm and head is not None:
                add(head, b, relation, _trailing_vendor(rec, text, b, se), sentence)
                continue
            head = None
    return links


def _trailing_vendor(rec: ActorRecognizer, text: str, c: _Cand, limit: int) -> str:
    m = _TRAIL_VENDOR.match(text[c.end:min(limit, c.end + 80)])
    return _vendor_name(rec.conv, m.group("vendor")) if m else ""


def _topic(rec: ActorRecognizer, text: str, before: list[_Cand], exclude: set[str]) -> _Cand | None:
    """The name the text before a sentence mentions most: the head of a head-less list."""
    if not before:
        return None
    doc_cyber = bool(rec._doc_cue.search(text))
    counts: Counter[str] = Counter()
    first: dict[str, _Cand] = {}
    for c in before:
        k = c.key or norm(c.text)
        if k in exclude or not rec._accept(c, text, doc_cyber, set()):
            continue
        counts[k] += 1
        first.setdefault(k, c)
    if not counts:
        return None
    return first[counts.most_common(1)[0][0]]
