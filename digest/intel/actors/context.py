"""Names in context: capitalised names that the sentence says are a group's ("the Lazarous group",
"the threat actor HydroJiin", "groups such as APT33 and Gorgon"), found around the group words of
``base._CTX_WORDS``; a mixin of :class:`~digest.intel.actors.recognize.ActorRecognizer` (uses its
conventions, stop names and blocking phrases)."""

from __future__ import annotations

import re
from functools import lru_cache

from digest.intel.actors.base import (
    _CTX_AFTER,
    _CTX_BEFORE,
    _CTX_GROUP_AT,
    _CTX_ITEM_RE,
    _CTX_LIST,
    _CTX_NAME,
    _CTX_NOT_NAME_AFTER,
    _CTX_STOP,
    _MALWARE_TAIL,
    _called_malware,
    _title_case_line,
)
from digest.intel.actors.kb import norm
from digest.intel.actors.vendors import PatternName

#: a business group, not a hacking group: "owned by India's Tata group", "part of the Kering group"
_CTX_COMPANY_BEFORE = re.compile(r"\b(?:owned\s+by|part\s+of|subsidiary\s+of|parent(?:\s+company)?|conglomerate|"
                                 r"acquired\s+by|bought\s+by)\s+(?:the\s+)?(?:[A-Z]\w+['’]s\s+)?$", re.IGNORECASE)
#: "the Asahi group, Japan's biggest brewery": an apposition that ranks it among businesses
_CTX_COMPANY_AFTER = re.compile(r"\s+group\s*,\s*(?:[A-Z]\w*['’]?s|the|a)\s+(?:[\w-]+\s+){0,2}?"
                                r"(?:biggest|largest|leading|second-largest|top|oldest|best-known)\b"
                                r"(?!\s+(?:[\w-]+\s+){0,2}?(?:hack|cyber|threat|ransom|espionage|apt|crew|gang|group|actor))",
                                re.IGNORECASE)
#: a chat group: "added a random person to a group called 'Mass Text'"
_CTX_CHAT_BEFORE = re.compile(r"\b(?:to|into|in|from|of)\s+(?:a|the|their|its)\s+(?:[\w-]+\s+)?(?:group|chat)\s+"
                              r"(?:called|named)\s*[\"“'‘]?$", re.IGNORECASE)


#: the noun at a point, in any case ("Attacker", "Hackers", "Gang" in a headline)
_NOUN_AT = re.compile(r"(?i:(?:threat[ \t]+)?(?P<w>attackers?|hackers?|hacktivists?|groups?|gangs?|crews?|collective|"
                      r"actors?|operation|outfit|cluster|APT))(?![\w-])")
_PREFIX_CI = (r"(?:(?i:ransomware|hacking|hacker|hacktivist|threat|APT|cybercrime|cybercriminal|extortion|espionage|"
              r"state-sponsored|nation-state)\s+)*")
#: a quoted name before a group noun coins a name: "'PoisonSeed' Attacker", "the 'Crimson Collective' hackers"
_QUOTED_BEFORE = re.compile(rf"(?<![\w])[\"“‘'](?P<n>{_CTX_NAME})[\"”’']\s+{_PREFIX_CI}$")
#: a CamelCase word before a plural group noun in a headline: "PoisonSeed Hackers Bypass FIDO Keys"
_CAMEL_BEFORE = re.compile(rf"(?<![\w$.&'’-])(?P<n>[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\s+{_PREFIX_CI}$")
_QUOTE_END = re.compile(r"[\"”’'][ \t]+(?:[\w-]+[ \t]+){0,3}$")
_PLURAL_NOUNS = frozenset({"hackers", "attackers", "hacktivists", "gang", "group", "crew"})
#: words that make a group noun a hacking group's in an apposition ("a China-nexus espionage group")
_CYBER_WORD = (r"(?i:ransomware|hack\w*|threat|cyber\w*|extortion|espionage|APT|state-sponsored|nation-state|"
               r"[\w]+-(?:nexus|linked|aligned|backed|based|sponsored)|data-theft|RaaS|criminal)")
#: an apposition that calls the name a group: "Quorvex, a ransomware gang that emerged", "Sneaky Ferret, a
#: Russia-aligned threat actor", "claimed by Quorvex, one of the most active ransomware groups"
_APPOSITION_BEFORE = re.compile(
    rf"(?<![\w$.-])(?P<n>{_CTX_NAME}),[ \t]+(?:an?|another|one[ \t]+of[ \t]+the)[ \t]+"
    rf"(?P<mid>(?:[\w-]+[ \t]+){{0,4}}?)$")
#: what makes "X, a ..." an opening phrase and a new clause, not an apposition: "In Germany, a group",
#: "After breaching Oracle's E-Business Suite, a group of hackers"
_INTRO_BEFORE = re.compile(r"(?:\b(?:[Ii]n|[Oo]n|[Aa]t|[Dd]uring|[Ss]ince|[Aa]fter|[Bb]efore|[Ff]rom|[Aa]cross|[Tt]hroughout|"
                           r"[Ww]ithin|[Ff]or|[Uu]ntil|[Aa]ccording\s+to|[Ll]ike|[Uu]nlike|[Aa]mong)|['’]s)[ \t]+$")
#: how an apposition goes on after its noun (not with the verb of a clause: "Often, a threat actor will use")
_APPOSITION_END = re.compile(
    r"\s*(?:[,.;:)—–]|$|\s(?:that|which|who|whose|known|tracked|behind|responsible|active|based|linked|tied|believed|"
    r"thought|suspected|operating|with|from|in|since|targeting|focused|specializing|specialising|associated|"
    r"affiliated|also|first|previously|formerly|and|or|of)\b)")
#: nouns that need a cyber word in the apposition ("Kering, the French luxury group" is a business)
_APPOSITION_WEAK = frozenset({"group", "groups", "collective", "operation", "outfit", "cluster"})
#: "ransomware", "ransomware gang" ... then the verb of what it does (has/have allowed)
_RANSOM_SUBJECT = r"(?i:ransomware(?:[ \t]+(?:gang|group|operators?|crew|operation))?[ \t]+(?:has[ \t]+|have[ \t]+)?"
#: "Quorvex ransomware claims attack on hospital", "Quorvex Ransomware Gang Claims Attack": a gang's act
_RANSOM_ACT_AT = re.compile(
    _RANSOM_SUBJECT +
    r"(?:claim(?:s|ed)?[ \t]+(?:responsibility|credit|to[ \t]|(?:the[ \t]+|an?[ \t]+)?(?:attack|breach|hack|"
    r"intrusion|theft|cyberattack|data))|says|said|threatens|threatened|leaks|leaked|lists|listed|posts|posted|"
    r"demands|demanded|hits|hit|targets|targeted|breaches|breached|cripples|crippled|disrupts|"
    r"encrypts|encrypted|extorts|abuses|exploits|infects)\b)")
#: what any ransomware does ("Modern ransomware uses", "Mobile ransomware spreads"): an act of a gang the
#: knowledge base knows only
_RANSOM_GENERIC_AT = re.compile(
    _RANSOM_SUBJECT +
    r"(?:uses|used|deploys|deployed|emerges|emerged|returns|returned|resurfaces|strikes|struck|spreads|steals|stole)\b)")
_NAME_BEFORE = re.compile(rf"(?<![\w$.&'’-])(?:the[ \t]+|The[ \t]+|[Nn]ew[ \t]+|A[ \t]+new[ \t]+|a[ \t]+new[ \t]+)?"
                          rf"[\"“‘']?(?P<n>{_CTX_NAME})[\"”’']?[ \t]+$")
#: a ransomware strain named after it: "ransomware dubbed Quorvex", "a new ransomware strain called Quorvex"
_RANSOM_NAMED_AT = re.compile(
    rf"(?i:ransomware(?:[ \t]+(?:strain|family|variant|operation|brand))?[ \t]*,?[ \t]+(?:dubbed|called|named|"
    rf"known[ \t]+as|tracked[ \t]+as))[ \t]+[\"“‘']?(?P<n>{_CTX_NAME})")
#: "the Quorvex ransomware family": a strain (a brand, for the digest)
_STRAIN_AFTER = re.compile(r"[ \t]+(?i:strain|family|variant)\b")
#: what makes "X ransomware" an event named after its victim ("hit by the Asahi ransomware attack")
_EVENT_AFTER = re.compile(r"[ \t-]+(?i:attacks?|incidents?|breach|hack|outage|cyberattack|disruption|event|crisis|"
                          r"fallout|scare|shutdown)\b")
#: the agent of an attack, before "X ransomware": "hit by Quorvex ransomware", "encrypted by the Quorvex ransomware"
_BY_BEFORE = re.compile(r"\b(?:hit|attacked|targeted|claimed|breached|compromised|encrypted|crippled|disrupted|struck|"
                        r"paralysed|paralyzed|locked|extorted)[ \t]+by[ \t]+$", re.IGNORECASE)

@lru_cache(maxsize=1)
def _places_and_languages() -> frozenset[str]:
    """The English names of countries, regions and languages (CLDR's, from the installed ``babel``, which
    trafilatura's ``courlan`` needs): "Sweden", "New Caledonia", "Europe", "Swedish"."""
    try:
        from babel import Locale
    except ImportError:  # pragma: no cover - babel comes with trafilatura
        return frozenset()
    en = Locale("en")
    return frozenset(norm(v) for v in (*en.territories.values(), *en.languages.values()) if "(" not in v)


#: how adjectives and participles end ("Targeted", "Industrial", "Automotive", "Dangerous", "Stealthy")
_ADJECTIVE_END = re.compile(r"(?:[^e]ed|ial|ical|ive|ous|ern|ary|ful|less|able|ible|ly)$")


class ContextNames:
    """Names found beside group words (see the module docstring)."""

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
        if re.search(r"-(?i:like|style|based|type|related)$", name):
            return False  # "WannaCry-like malware", "Russia-based actors"
        k = norm(name)
        words = k.split()
        if not words or len(k) < 3 or words[0] in _CTX_STOP or words[-1] in _CTX_STOP:
            return False
        if re.search(r"\bas a service\b", k) or (text and _CTX_NOT_NAME_AFTER.match(text, start + len(name))):
            return False  # "Malware-as-a-Service groups", "Personally Identifiable Information"
        if k in self.stop or k in self.context_common or k in _places_and_languages() or k in self.block_keys or self.conv.vendor_named(name) or self.conv.find_vendor(name):
            return False
        if text and (_CTX_COMPANY_BEFORE.search(text[max(0, start - 40):start])
                     or _CTX_COMPANY_AFTER.match(text, start + len(name))
                     or _CTX_CHAT_BEFORE.search(text[max(0, start - 50):start])):
            return False  # "owned by India's Tata group", "the Asahi group, Japan's biggest brewery", "added to a group called"
        return not name.isdigit()

    def _common_name(self, name: str, text: str, found: str = "") -> bool:
        """Whether a new name found beside "ransomware" may be a name: no common word, language, platform,
        holiday or place (``context_common``, the English names of countries and languages), and not a word
        the text also writes in lower case. ``found``: the match with its article ("New Caledonia")."""
        words = norm(name).split()
        if not words or any(w in self.context_common for w in words):
            return False
        places = _places_and_languages()
        if norm(name) in places or (found.startswith("New") and norm(f"new {name}") in places):
            return False
        if len(words) == 1 and len(words[0]) > 5 and _ADJECTIVE_END.search(words[0]) and name[1:].islower():
            return False  # "Targeted ransomware", "Aggressive ransomware", "Automotive ransomware": an adjective
        return not any(re.search(rf"(?<![\w-]){re.escape(w.lower())}(?![\w-])", text) for w in name.split()
                       if w[:1].isupper() and w[1:].islower() and w.isalpha())

    @staticmethod
    def _ctx_before_ok(head: str, m: re.Match[str], lo: int) -> bool:
        """Whether a name before a group word stands where a name can ("Many groups" opens a sentence)."""
        s = m.start("n")
        if m.group("art"):
            # "Predator the Thief group": the article is inside a name
            prev = head[:m.start("art")].rstrip(" \t")
            if not prev or prev[-1] in ".!?:;\n":
                return True  # "...Regional Hospital\n\nThe Quorvex gang": the article opens a sentence
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
        title_end = text.find("\n")
        title_end = len(text) if title_end < 0 else title_end
        for p in sorted(set(points)):
            if text.startswith(("ransomware", "Ransomware", "RANSOMWARE"), p):
                lo = max(0, p - 40)
                m = _NAME_BEFORE.search(text[lo:p])
                n = _RANSOM_NAMED_AT.match(text, p)
                if n and " " in n.group("n") and n.group("n").split()[-1][:1].islower():
                    pass
                elif n and self._common_name(n.group("n"), text):
                    add(n.start("n"), n.end("n"), n.group("n"), "context")
                prev = text[max(0, lo + m.start() - 3):lo + m.start()].rstrip(" \t\"“‘'") if m else ""
                if m and m.group(0).startswith("New") and prev and prev[-1] not in ".!?:;\n*#|>-•(":
                    m = None  # "Police say New Caledonia ransomware hit": inside a sentence "New" opens a place's name
                if m and not self._common_name(m.group("n"), text, m.group(0)):
                    m = None  # "Modern ransomware", "the Rust ransomware family", "New York ransomware"
                # a generic verb ("uses", "spreads") is an act only of a gang the knowledge base knows
                known_act = m is not None and self._gang_key(norm(m.group("n"))) and _RANSOM_GENERIC_AT.match(text, p)
                if m and (known_act or _RANSOM_ACT_AT.match(text, p) or _STRAIN_AFTER.match(text, p + len("ransomware")) or (
                        _BY_BEFORE.search(text[max(0, lo + m.start() - 30):lo + m.start()])
                        and not _EVENT_AFTER.match(text, p + len("ransomware")))):
                    add(lo + m.start("n"), lo + m.end("n"), m.group("n"), "context")
                continue
            noun = _NOUN_AT.match(text, p)
            if noun:
                lo = max(0, p - 90)
                head = text[lo:p]
                # the regexes below only where their punctuation is (they are the costly part)
                a = _APPOSITION_BEFORE.search(head) if "," in head[-60:] else None
                w = noun.group("w").lower()
                if a and (w not in _APPOSITION_WEAK or re.search(_CYBER_WORD, a.group("mid"))) and \
                        _APPOSITION_END.match(text, noun.end()) and \
                        not _INTRO_BEFORE.search(text[max(0, lo + a.start("n") - 30):lo + a.start("n")]):
                    add(lo + a.start("n"), lo + a.end("n"), a.group("n"), "context")
                if w in ("operation", "outfit"):  # "the Quorvex ransomware operation": only with a cyber word
                    m = _CTX_BEFORE.search(head)
                    if m and head[m.end("n"):].strip(" \t\"”’'") and self._ctx_before_ok(head, m, lo):
                        add(lo + m.start("n"), lo + m.end("n"), m.group("n"), "context")
            if noun:
                lo = max(0, p - 60)
                head = text[lo:p]
                m = _QUOTED_BEFORE.search(head) if _QUOTE_END.search(head) else None
                if m is None and p < title_end and noun.group("w").lower() in _PLURAL_NOUNS:
                    m = _CAMEL_BEFORE.search(head)
                    # "SolarWinds Hackers Return": a name the story goes on to use otherwise is a victim's
                    if m and m.group("n") in text[title_end:]:
                        m = None
                if m:
                    add(lo + m.start("n"), lo + m.end("n"), m.group("n"), "context",
                        noun.group("w").lower().startswith("actor"))
            if noun and noun.group("w").lower() in ("apt", "operation", "outfit"):
                continue  # cues only for the name before them (above), never for the text after
            g = _CTX_GROUP_AT.match(text, p)
            if g:
                lo = max(0, p - 90)
                head = text[lo:p]
                m = _CTX_BEFORE.search(head)
                if m and self._ctx_before_ok(head, m, lo) and not (
                        g.group(0) == "actor" and not head[m.end("n"):].strip(" \t\"”’'")
                        and not re.search(r"[0-9]|[a-z][A-Z]", m.group("n"))):
                    # "the Doctor Who actor", "Kannada actor Upendra": a performer; "the TA505 actor" is not
                    add(lo + m.start("n"), lo + m.end("n"), m.group("n"), "context", g.group("w").startswith("actor"))
            if p < last:
                continue  # the window of an earlier point covers this one
            lo, last = max(0, p - 16), min(len(text), p + 180)
            chunk = text[lo:last]
            for m in _CTX_AFTER.finditer(chunk):
                n = m.group("n")
                if " " in n and n.endswith("s") and _title_case_line(text, lo + m.start("n")):
                    n = n.split(" ")[0]  # "New Ransomware Group Embargo Launders $34M": a headline's verb
                add(lo + m.start("n"), lo + m.start("n") + len(n), n, "named")
            for m in _CTX_LIST.finditer(chunk):
                base = lo + m.start("list")
                for it in _CTX_ITEM_RE.finditer(m.group("list")):
                    add(base + it.start(), base + it.end(), it.group(0), "list")
            last -= 60  # a list or name may run past the window: let the next point look again
        return out

