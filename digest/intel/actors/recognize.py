"""Threat-actor recognition: which actors a news article is about, under one canonical name each.

How a document is read (:meth:`ActorRecognizer.detect`):

1. **One automaton over every name.** All names of the knowledge base (:mod:`digest.intel.actors.kb`),
   plus *blocking* phrases ("Cobalt Strike", "Alibaba Cloud", vendors such as "Trend Micro"), are
   keys of a single Aho-Corasick automaton, run once over the lower-cased text with punctuation
   turned into spaces, so matches are whole words and "APT-29" finds "APT 29". Overlaps go to the
   longest match, which is how a blocking phrase hides the actor name inside it.
2. **Vendor conventions** (:mod:`digest.intel.actors.vendors`) find names no knowledge base has yet
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
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import ahocorasick

from digest.intel.actors.base import (
    _BLOCK,
    _CTX_STOP,
    _CTX_WORDS,
    _GROUP_NOT_MODIFIER,
    _IS_A,
    _PUNCT,
    Mention,
    _Cand,
    _Links,
    _load_names,
    _lower_same_length,
    _windows,
    key_is_camel,
    spaced,
)
from digest.intel.actors.context import ContextNames
from digest.intel.actors.kb import KnowledgeBase, name_keys, norm, slug
from digest.intel.actors.learn import (
    _LINK_CUE_WORDS,
    LinkSets,
    _learn_links,
)
from digest.intel.actors.rules import PrecisionRules
from digest.intel.actors.vendors import Conventions, PatternName, conventions
from digest.models import ActorHit, Alias, AliasLink

__all__ = ["ActorRecognizer", "Mention"]


class ActorRecognizer(ContextNames, PrecisionRules, LinkSets):
    """Finds the actors a document is about; see the module docstring for the method."""

    _cache: ClassVar[dict[str, ActorRecognizer]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, kb: KnowledgeBase, conv: Conventions | None = None) -> None:
        self.kb = kb
        self.conv = conv or conventions()
        cfg = _load_names()
        self.stop = {k for n in (*cfg.get("stop", []), *cfg.get("never", [])) for k in name_keys(n)}
        # a short form ("INC" of "INC Ransom") is treated as an ordinary word: it needs a group cue
        self.ordinary = {k for n in cfg.get("ordinary", []) for k in name_keys(n)} | set(kb.ordinary_keys) | \
            {k for k in kb.variant_keys if not (set(k.split()) & _CTX_STOP)}
        self.adjectives = {k for n in cfg.get("adjectives", []) for k in name_keys(n)}
        cue = "|".join(re.escape(c) for c in sorted(cfg.get("strong_cues", []), key=len, reverse=True))
        # "the X group", "operators of the X"; "X, also known as", "X is an APT", "X was not the only group"
        self._cue_before = re.compile(rf"(?:\b(?:{cue})\b)(?:\s+(?:of|behind)(?:\s+the)?)?[\s,:\"'“”‘’(]*$",
                                      re.IGNORECASE)
        self._cue_after = re.compile(rf"^[\s,:\"'“”‘’)]*{_IS_A}(?:also\s+)?(?:\b(?:{cue})\b)", re.IGNORECASE)
        doc = "|".join(re.escape(c) for c in sorted(cfg.get("doc_cues", []), key=len, reverse=True))
        self._doc_cue = re.compile(rf"\b(?:{doc})\b", re.IGNORECASE)
        weak = "|".join(re.escape(c) for c in sorted(cfg.get("weak_doc_cues", []), key=len, reverse=True))
        self._weak_cue = re.compile(rf"\b(?:{weak})\b", re.IGNORECASE)
        self.context_common = {norm(w) for w in cfg.get("context_common", [])}
        self._ransom_cue = re.compile(r"\b(?:ransom(?:ware)?|extort\w*|leak site|data leak|gang|affiliates?)\b", re.IGNORECASE)
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
            r"compromised|stole|encrypted|hits|strikes|struck|breaches|leaks|lists|posts|steals|extorts|encrypts)\b)",
            re.IGNORECASE)
        self.auto = ahocorasick.Automaton()
        for key in kb.names:
            if key in self.stop or (key in kb.variant_keys and key not in self.ordinary):
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
        spaced(" ")  # its table is built here, once (a forked worker inherits it)
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
                    if p.kind in ("list", "named"):  # "groups such as SamSam and Dharma", "ransomware group Radiant":
                        # the known name is a group here
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
        padded = " " + spaced(low) + " "
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

    def _all_candidates(self, text: str) -> list[_Cand]:
        """Candidate names of ``text`` (knowledge base and vendor conventions)."""
        return self._scan(text)[0]

    # ------------------------------------------------------------------ detection

    def _mentions(self, title: str, text: str, uf: _Links,
                  extra: list[ahocorasick.Automaton] | None = None) -> tuple[str, list[Mention]]:
        full = f"{title}\n\n{text}" if title else text
        cands, vendors_in_doc = self._scan(full, self._extra_automata(uf) if extra is None else extra)
        doc_cyber = self._doc_cyber(full)
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
        if " " not in name and name[1:].islower():  # the galaxy's "worldleaks", written "World Leaks": the text's spelling is the name
            name = next((m for m in mentions if " " in m and m.replace(" ", "").lower() == name.lower()), name)
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

    def canonical_actors(self, links: Iterable[AliasLink] = (),
                         seen: Iterable[tuple[str, str]] = ()) -> tuple[list[ActorHit], dict[str, str]]:
        """Every actor the knowledge base and ``links`` know, once each, as detection names it; and
        the ids each stood under before links joined it to another (former id -> canonical id).

        ``seen`` are (id, name) of actors stored from articles (names no source lists, "Jewelbug";
        ids from before a link). Each group of names the links join is one actor, under the id and
        name :meth:`detect` gives it, with all its names: what a reader picks from to follow an actor.
        """
        uf = self._apply_links(links)
        seen = list(seen)
        nodes = dict.fromkeys(self.kb.actors)
        row_node: dict[str, str] = {}
        for aid, name in seen:
            node = self._node_of_name(name)
            if node is not None:
                if node.startswith("new:"):
                    uf.spelling.setdefault(node, name.strip())
                nodes.setdefault(node)
                row_node[aid] = node
        nodes.update(dict.fromkeys(n for n in list(uf.parent) if not n.startswith("new:") or n in uf.spelling))
        out: dict[str, ActorHit] = {}
        former: dict[str, str] = {}
        root_id: dict[str, str] = {}
        for node in nodes:
            root = uf.find(node) if node in uf.parent else node
            if root in root_id:
                continue
            members = uf.members(root) if root in uf.parent else [root]
            if root not in members:
                members.append(root)
            hit = self._hit(members, uf, [], {})
            out.setdefault(hit.id, hit)
            root_id[root] = hit.id
            for m in members:  # the id a member had on its own: a KB id, or the slug of a learned name
                alone = m if m in self.kb.actors else slug(uf.spelling.get(m) or m[4:])
                former.setdefault(alone, hit.id)
        for aid, node in row_node.items():
            root = uf.find(node) if node in uf.parent else node
            if root in root_id:
                former.setdefault(aid, root_id[root])
        return list(out.values()), {k: v for k, v in former.items() if k != v and k not in out}

    # ------------------------------------------------------------------ learning links

    def learn_links(self, text: str, source_id: str = "") -> list[AliasLink]:
        """Alias links stated in ``text``, each with the sentence as provenance.

        Identities: "X, also known as Y", "X (aka Y)", "tracked as Y by Vendor", "which Microsoft
        calls Y", "formerly tracked as Y", "the same actor as Y"; weaker: "overlaps with Y".
        """
        return _learn_links(self, text, source_id)


