"""Alias links learned from text ("X, also known as Y", "which Microsoft calls Y") and the sets of links
a document is read with (:class:`LinkSets`, mixed into :class:`~digest.intel.actors.recognize.ActorRecognizer`)."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable
from itertools import islice, pairwise
from typing import TYPE_CHECKING

import ahocorasick

from digest.intel.actors.base import (
    _Cand,
    _Links,
    _Prepared,
)
from digest.intel.actors.kb import name_keys, norm
from digest.intel.actors.vendors import Conventions
from digest.intel.prefilter import required_literals
from digest.models import AliasLink

if TYPE_CHECKING:
    from digest.intel.actors.recognize import ActorRecognizer


class LinkSets:
    """Nodes of names and the union-find of links (a mixin of ActorRecognizer; uses its ``kb``)."""

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
#: one of these occurs (as written: both patterns are case-sensitive) in every match of ``_NEW_NAME``
#: and of ``_HEAD_NAME``'s lookahead (known / tracked / referred to ... as, aka, a.k.a., which X calls /
#: tracks, overlaps with, is the same actor as); a sentence without any is not searched
_NAMING_LITERALS = tuple(sorted(set(required_literals(_NEW_NAME.pattern) or ("",)) | {
    "known", "tracked", "referred", "aka", "a.k.a.", "calls", "tracks", "overlap", "same"}))
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
    # both naming patterns need one of their words: most cue sentences ("also", "same") have none
    naming = any(lit in sentence for lit in _NAMING_LITERALS)
    about_actors = naming and _ACTOR_WORDS.search(sentence) is not None  # "CDO, previously known as OLE Messaging or ..."
    for m in _NEW_NAME.finditer(sentence) if naming else ():
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
    for m in _HEAD_NAME.finditer(sentence) if naming else ():
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
    # a short form ("Inc" of "INC Ransom") links nothing: "Pacific Seafood, Inc" is a company's name
    cands = [c for c in cands if not (c.source == "kb" and (c.key in rec.stop or c.text == c.text.lower()
                                                             or c.key in rec.kb.variant_keys))]
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
    doc_cyber = rec._doc_cyber(text)
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
