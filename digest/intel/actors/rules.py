"""Precision rules of recognition: when a candidate name is taken as an actor (cues, context, URLs);
a mixin of :class:`~digest.intel.actors.recognize.ActorRecognizer` (uses its names and patterns)."""

from __future__ import annotations

import re

from digest.intel.actors.base import (
    _COORD_NAMES,
    _CTX_STOP,
    _NAMED_BEFORE,
    _RANSOMWARE_AFTER,
    _Cand,
    _title_case_line,
    _title_word_run,
    _words,
)
from digest.intel.actors.learn import (
    _ALIAS_LIST,
    _ORG_APPOSITION,
    _PERSON_BEFORE,
)

#: what a ransomware gang does, right after its name ("Akira says it will leak", "the Qilin intrusion")
_GANG_VERB_AFTER = re.compile(
    r"[\s\"”’']+(?:has\s+|have\s+|had\s+)?(?:says|said|claims?|claimed|threatens|threatened|posted|listed|"
    r"leaked|published|demanded|intrusion|attack|breach|hack|infection|affiliates?|operators?|leak\s+site|"
    r"exploited|exploits|stole|steals|breached|encrypted|extorted|compromised|"
    r"extortion|took\s+responsibility|(?:is|are|was)\s+demanding|leaks|posts|"
    r"lists|publishes|demands)\b", re.IGNORECASE)
#: what anyone may do ("Play targets younger players", "Nova released a statement"): a gang's act only in a
#: story about ransomware
_GENERIC_VERB_AFTER = re.compile(
    r"[\s\"”’']+(?:has\s+|have\s+|had\s+)?(?:hit|hits|targeted|targets|attacked|added|released|"
    r"(?:is\s+|was\s+)?behind)\b", re.IGNORECASE)
#: what only a gang has, right after its name: "Clop's leak site", "Qilin's data theft campaign", "Clop-linked hackers"
_GANG_OWN_AFTER = re.compile(
    r"['’]s[ \t]+(?:[\w-]+[ \t]+){0,3}?(?:leak[ \t]+site|data[ \t]+leak|extortion|campaign|"
    r"affiliates?|operators?|ransom|negotiators?)\b|"
    # "Clop-linked hackers"
    r"[-–](?:linked|affiliated|tied|backed)[ \t]+(?:hackers|attackers|actors|criminals|cybercriminals|gang|group)\b",
    re.IGNORECASE)
#: what anyone may have ("Everest's victims", "Key's attacks"): a gang's only in a story about ransomware
_GENERIC_OWN_AFTER = re.compile(r"['’]s[ \t]+(?:[\w-]+[ \t]+){0,3}?(?:victims?|attacks?)\b", re.IGNORECASE)
#: a company's own words or a victim's place: "Target Company said data was stolen", "an attack on Off White"
_SAYS_AFTER = re.compile(r"[\s\"”’']+(?:has\s+|have\s+|had\s+)?(?:says|said|confirmed|confirms|told|announced|"
                         r"disclosed|notified|reported)\b", re.IGNORECASE)
_VICTIM_BEFORE = re.compile(r"\b(?:attack|attacks|breach|intrusion|incident|hack)\s+(?:on|at|against)\s+(?:the\s+)?$|"
                            r"\b(?:hit|breached|attacked|targeted)\s+$", re.IGNORECASE)
#: what names a gang, right before its name ("claimed by Akira", "an attack attributed to Qilin")
_GANG_BY_BEFORE = re.compile(r"\b(?:(?:claimed|attributed|blamed|carried\s+out|published|posted|leaked|stolen|encrypted)"
                             r"\s+(?:by|on|to)|attributed\s+(?:the\s+)?(?:[\w-]+\s+){0,2}?to)\s+(?:the\s+)?$",
                             re.IGNORECASE)
#: a short form of a name before these is a victim's or a product's ("Coinbase hackers")
_VARIANT_NOT_BEFORE = re.compile(r"[\s\"”’']+(?:hackers?|attackers?|hack|breach|customers|users)\b", re.IGNORECASE)
#: a capitalised word right before, inside a sentence: the end of a longer name ("Acme Inc")
_CAPITAL_BEFORE = re.compile(r"(?<![.!?:\n])\s(?P<w>[A-Z][\w&.-]*)[ \t]+$")
#: a company's name before a legal suffix that is also a gang's short name ("Dulcich, Inc.")
_CORP_SUFFIX = frozenset({"inc", "ltd", "llc", "corp", "plc", "gmbh", "co"})
_CORP_BEFORE = re.compile(r"[A-Z][\w&.'’-]*,?[ \t]+$")
#: a list of names right after a plural group noun, in any case: "Linked to Ransomware Gangs LockBit,
#: BlackBasta, and Qilin" (each item is a gang there)
_LIST_AFTER_GROUP = re.compile(r"\b(?i:gangs|groups|crews)[ \t]+(?:[A-Z][\w$.-]*(?:[ \t]+[A-Z0-9][\w$.-]*)?"
                               r"[ \t]*(?:,[ \t]*and|,[ \t]*or|,|and|or|&)[ \t]+){0,5}$")
#: where a link's address opens, right after its text ("[title](https://...", "[title]\n(https://...")
_LINK_OPEN = re.compile(r"\s{0,3}\(")
_LINE_END = re.compile(r"[\s\xa0.,;]*(?:\n|$)")
#: "ALPHV/BlackCat": two names joined by a slash, not a path
_SLASH_PAIR = re.compile(r"^[A-Za-z][\w$-]*/$")


class PrecisionRules:
    """Which candidates are actors (see ``data/actors/names.toml``)."""

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

    def _gang_key(self, key: str) -> bool:
        """Whether a name belongs to a ransomware or extortion gang (some source lists it as one)."""
        if key in self.kb.ransomware_keys:
            return True
        actors = (self.kb.actors.get(a) for a in self.kb.names.get(key, ()))
        return any(a is not None and (a.kind in ("ransomware", "extortion") or "ransomware" in a.sources)
                   for a in actors)

    def _doc_cyber(self, text: str) -> bool:
        """Whether the text is about cyber threats: one strong cue, or two weak ones ("hack", "stolen")."""
        if self._doc_cue.search(text):
            return True
        weak = self._weak_cue.findall(text)
        return len(weak) >= 2

    def _doc_weak(self, text: str) -> bool:
        """Whether the text has a weak cue at least ("the stolen files"): enough for a known gang's own act."""
        return bool(self._weak_cue.search(text))

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
        if ("/" in before and not _SLASH_PAIR.match(before)) or "www." in before or "@" in before or "=" in before:
            return True
        j = e
        while j < len(text) and not text[j].isspace() and j - e < 200:
            j += 1
        after = text[e:j].rstrip(".,;:!?)\"”’'")
        if after.startswith("/") and re.fullmatch(r"/[A-Z][\w$-]*", after):
            return False  # "ALPHV/BlackCat ransomware"
        nxt = text[e:e + 2]
        return nxt[:1] in ("/", "@", "_") or (nxt[:1] == "." and nxt[1:2].isalnum())

    @staticmethod
    def _in_link_title(text: str, s: int, e: int) -> bool:
        """Whether the name sits in the text of a link that cites another article by its title ("May 2021 –
        [New attack from NOBELIUM](https://...)"): a reference, not what the text is about."""
        i = text.rfind("[", max(0, s - 300), s)
        if i < 0 or "]" in text[i:s] or "\n" in text[i:s]:
            return False
        j = text.find("]", e, e + 300)
        if j < 0 or "[" in text[e:j] or "\n" in text[e:j] or not (m := _LINK_OPEN.match(text, j + 1)):
            return False
        k = text.find(")", m.end(), m.end() + 500)
        # the link ends its line (a reference list's entry), and its text is a title of four words or more
        return k >= 0 and _LINE_END.match(text, k + 1) is not None and len(_words(text[i + 1:j])) >= 4

    @staticmethod
    def _mitre_group_link(text: str, e: int) -> bool:
        """Whether the name is the text of a link to its MITRE ATT&CK group page ("[Patchwork](https://attack...")."""
        return text.startswith("](", e) and "attack.mitre.org/groups/" in text[e:e + 48]

    def _lower_ok(self, c: _Cand) -> bool:
        """Whether a name written in lower case is still the actor: a well-known actor's name of several
        words that is no word, malware or gang name ("instead of ‘fancy bear’")."""
        if c.source != "kb" or " " not in c.text or not c.text.replace(" ", "").isalpha() or c.key in self.ordinary or c.key in self.kb.malware_keys \
                or c.key in self.stop or self._gang_key(c.key):
            return False
        ids = self.kb.names.get(c.key, ())
        return len(ids) == 1 and len(self.kb.actors[ids[0]].aliases) >= 4

    def _accept(self, c: _Cand, text: str, doc_cyber: bool, vendors_in_doc: set[str]) -> bool:
        mention = c.text
        if _ORG_APPOSITION.match(text, c.end):
            return False  # "the Mabna Institute, an Iranian government contractor"
        if c.source == "learned":
            return any(ch.isupper() for ch in mention) or any(ch.isdigit() for ch in mention)
        has_digit = any(ch.isdigit() for ch in mention)
        if not has_digit and mention == mention.lower() and not (doc_cyber and self._lower_ok(c)):
            return False  # "play", "mercury", "shadow": words, not names
        if self._in_url(text, c.start, c.end) or self._in_link_title(text, c.start, c.end):
            return False
        if c.source == "pattern":
            if not doc_cyber or _PERSON_BEFORE.search(text[max(0, c.start - 40):c.start]):
                return False  # "a man called Harold Leopard" fits a vendor's convention but is a person
            if c.pkind in ("code", "context", "list", "named"):
                return True
            return self._strong_cue(text, c.start, c.end) or c.vendor in vendors_in_doc
        key = c.key
        if key in self.stop:
            return False
        if key in self.adjectives and not mention.isupper() and re.search(r"(?:^|[.!?:\n]\s*|\|\|\s*)$",
                                                                          text[max(0, c.start - 4):c.start]) \
                and not text[c.end:].lstrip()[:1].isupper():
            return False  # "Global ransomware group claims ...": the adjective that opens a sentence
        if key in self.kb.joined_keys and mention not in self.kb.forms.get(key, ()):
            return False  # "BlackNevas" is "Black Nevas"; "BLACKNEVAS" or "Blacknevas" are nothing known
        if key in _CORP_SUFFIX and not mention.isupper() and _CORP_BEFORE.search(text[max(0, c.start - 40):c.start]):
            return False  # "Pacific Seafood, aka Dulcich, Inc.": a company
        if key in self.kb.variant_keys and (
                _VARIANT_NOT_BEFORE.match(text, c.end) or
                ((cap := _CAPITAL_BEFORE.search(text[max(0, c.start - 40):c.start])) and cap.group("w").lower()
                 not in _CTX_STOP)):
            return False  # "INC" of "INC Ransom", but not "Acme Inc, a group of companies", "Coinbase hackers"
        if c.pkind == "forced" or self._mitre_group_link(text, c.end):
            return True
        if key not in self.adjectives and _LIST_AFTER_GROUP.search(text[max(0, c.start - 120):c.start]):
            return True  # "Ransomware Gangs LockBit, BlackBasta, and Qilin"
        if _ALIAS_LIST.search(text[max(0, c.start - 100):c.start]):
            return True  # "APT28 (aka Sofacy, Sednit, Fancy Bear": a name in an actor's alias list
        ransom_name = key in self.kb.ransomware_keys
        gang = self._gang_key(key)
        adjective = key in self.adjectives and not mention.isupper()  # "Global ransomware attacks rose"
        if gang and not adjective and _RANSOMWARE_AFTER.match(text, c.end) and self._doc_ransom(text):
            return True  # "Qilin ransomware claimed", "a Clop ransomware attack": the gang, in news
        split = key in self.kb.joined_keys and " " in key  # "World Leaks" of "worldleaks"
        if split and (_SAYS_AFTER.match(text, c.end) or _VICTIM_BEFORE.search(text[max(0, c.start - 40):c.start])) \
                and not self._strong_cue(text, c.start, c.end):
            return False  # "Target Company said data was stolen": a victim's name that splits a gang's
        if gang and not adjective and (self._doc_ransom(text) or doc_cyber) and not _title_case_line(text, c.start) and (
                _GANG_BY_BEFORE.search(text[max(0, c.start - 40):c.start]) or _GANG_OWN_AFTER.match(text, c.end)):
            return True  # "claimed by Qilin", "Clop's leak site", "Clop-linked hackers", in a cyber story
        if gang and not adjective and (self._doc_ransom(text) or doc_cyber or self._doc_weak(text)) \
                and not _title_case_line(text, c.start) and _GANG_VERB_AFTER.match(text, c.end):
            return True  # "Akira says it will leak ...", in a cyber story
        if gang and not adjective and self._doc_ransom(text) and not _title_case_line(text, c.start) and (
                _GENERIC_VERB_AFTER.match(text, c.end) or _GENERIC_OWN_AFTER.match(text, c.end)):
            return True  # "Qilin hits a hospital", "Everest's victims", in a story about ransomware
        if has_digit and re.search(r"[a-z][0-9]+[a-z]", key) and doc_cyber and mention in self.kb.forms.get(key, ()):
            return True  # "Cl0p": a spelling no word has
        if _NAMED_BEFORE.search(text[max(0, c.start - 40):c.start]) and (ransom_name or key in self.ordinary):
            return True  # "rebranded to Embargo", "a group known as Play"
        if ransom_name and " " in key and key not in self.kb.malware_names and doc_cyber and \
                mention != mention.upper() and not _title_word_run(mention):
            return True  # "Scattered Lapsus$ Hunters": a gang's name of several words is no malware name
        if key in self.kb.malware_keys:
            if not doc_cyber:  # "Chaos Strikes Hospital" over a story about a storm: a verb says nothing
                return self._strong_cue(text, c.start, c.end)
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
            if _title_case_line(text, c.start):  # "Akira Leaks Carmaker Data" over a ransomware story
                return self._strong_cue(text, c.start, c.end, after_only=True) or (
                    self._gang_key(key) and self._doc_ransom(text) and self._group_cue(text, c.start, c.end, after_only=True))
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
