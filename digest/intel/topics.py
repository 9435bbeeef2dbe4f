"""Topics for stories without a threat actor, CVE extraction and the "exploited in the wild" flag.

Rules, not a model: keyword hits in the title count three times as much as hits in the opening of
the text. A story whose text says a vulnerability is exploited (in the wild, actively, zero-day
under attack, added to CISA's KEV catalog) goes to "exploited" first; otherwise the best-scoring
topic wins, ties broken by the order of :data:`TOPICS`. Vulnerability and patch news that nobody
exploits is vendor news: "industry".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from digest.intel.prefilter import max_width, might_match, required_literals
from digest.intel.text import split_sentences
from digest.models import TopicInfo

__all__ = ["TOPICS", "classify", "classify_scored", "cve_flags", "exploited_claim", "extract_cves", "is_exploited"]

TOPICS: dict[str, str] = {
    "exploited": "Exploited Vulnerabilities",
    "ransomware": "Ransomware & Extortion",
    "breach": "Data Breaches",
    "malware": "Malware",
    "policy": "Policy & Law Enforcement",
    "industry": "Industry",
    "other": "Other News",
}

_CVE = re.compile(r"\bCVE[\s\-‐‑–—]?(\d{4})[\-‐‑–—](\d{4,7})\b", re.IGNORECASE)


def extract_cves(text: str) -> tuple[str, ...]:
    """CVE IDs in ``text``, uppercase with ASCII hyphens, de-duplicated, in order of appearance."""
    if "cve" not in text.lower():
        return ()  # a substring test first: most texts have no CVE ID
    seen: dict[str, None] = {}
    for m in _CVE.finditer(text):
        seen.setdefault(f"CVE-{m.group(1)}-{m.group(2)}", None)
    return tuple(seen)


_EXPLOITED = re.compile(
    r"""\b(?:exploited\ (?:in\ the\ wild|in\ (?:real-world\ |ongoing\ |active\ |targeted\ |limited\ |live\ )?attacks|
    as\ (?:a\ )?zero-days?|by\ (?:attackers|hackers|threat\ actors))|
    (?:actively|being|been|widely|now|already)\ (?:been\ )?exploit(?:ed|ing)|exploitation\ in\ the\ wild|
    (?:active|ongoing|widespread|mass|observed|confirmed|attempted)\ exploitation|in-the-wild\ exploitation|
    known\ exploited\ vulnerabilit(?:y|ies)|\bKEV\b|under\ (?:active\ )?(?:attack|exploitation)|
    (?:hackers|attackers|threat\ actors|criminals|crooks|crims|miscreants|gangs?)\ (?:are\ |have\ been\ |)(?:exploit(?:ing|ed)?|abus(?:e|ing|ed))\b|
    (?:flaws?|bugs?|vulnerabilit(?:y|ies)|zero-days?|0-days?)\ (?:were\ |was\ |are\ |is\ )?(?:being\ )?exploited|
    exploit(?:s|ed|ing)\ (?:[\w'’-]+\ ){0,4}?(?:flaws?|bugs?|vulnerabilit(?:y|ies)|zero-days?|0-days?)|
    (?:active|ongoing)\ exploits|rush\ to\ exploit|
    exploits?\ (?:targeting|for)\ (?:the\ )?(?:zero-day|flaw|vulnerabilit)|zero-day\ (?:attacks?|exploitation)|
    (?:0-day|zero-day)\ (?:flaw|bug|vulnerability)\ (?:is\ |was\ )?(?:being\ )?(?:exploited|abused|attacked))""",
    re.IGNORECASE | re.VERBOSE,
)
_NEGATED = re.compile(
    r"\b(?:no\ (?:evidence|sign|signs|indication|reports?)|not\ (?:aware|been|yet|known|seen|observed)|"
    r"(?:has|have|had|is|are|was|were)n[’']t|(?:has|have|is|are)\ not|unaware|there\ is\ no|nor)\b",
    re.IGNORECASE | re.VERBOSE,
)


# The same two patterns for lower-cased text, matched case-sensitively: 2-3x faster than
# re.IGNORECASE (the patterns hold no upper-case escapes), and a substring prefilter skips the
# search where none of the literals every match needs occurs.
_EXPLOITED_LOW = re.compile(_EXPLOITED.pattern.lower(), re.VERBOSE)
_NEGATED_LOW = re.compile(_NEGATED.pattern.lower(), re.VERBOSE)
_EXPLOITED_LITERALS = required_literals(_EXPLOITED_LOW.pattern, verbose=True)


def _says_exploited(low: str) -> bool:
    return might_match(_EXPLOITED_LITERALS, low) and _EXPLOITED_LOW.search(low) is not None


def is_exploited(title: str, text: str) -> bool:
    """True when the title or a sentence of the text says a flaw is exploited (and does not negate it)."""
    head = text[:10000]
    if not _says_exploited(title.lower()) and not _says_exploited(head.lower()):
        return False  # one pass over the text first: most articles never say "exploited"
    for sentence in [title, *split_sentences(head)]:
        low = sentence.lower()
        if _says_exploited(low) and not _NEGATED_LOW.search(low):
            return True
    return False


_VULN = re.compile(r"\b(?:vulnerabilit(?:y|ies)|flaws?|bugs?|zero-days?|0-days?|CVE-\d{4}-\d+|exploits?|patch(?:es|ed)?)\b",
                   re.IGNORECASE)

# (pattern, weight) per topic; patterns are matched case-insensitively on word boundaries
_KEYWORDS: dict[str, list[tuple[str, float]]] = {
    "ransomware": [
        (r"ransomware", 2.0), (r"ransom(?:s|ed)?", 1.0), (r"extort(?:ion|ing|ed|s)?", 1.5),
        (r"(?:data\ )?leak\ sites?", 1.0), (r"double\ extortion", 1.0), (r"encrypt(?:ed|ing|or)\ (?:files|systems)", 0.5),
        (r"lockbit|blacksuit|akira|qilin|clop|cl0p|alphv|blackcat|black\ basta|rhysida|medusa|warlock|play\ ransomware", 1.0),
    ],
    "breach": [
        (r"data\ breach(?:es)?", 2.0), (r"breach(?:ed|es)?", 1.0), ((r"(?:stolen|stole|steal|swiped|leaked|exposed)\ "
         r"(?:data|records|information|files|details|databases?)"), 1.5), (r"records", 0.5),
        (r"personal\ (?:data|information)|customer\ (?:data|information|records)|(?:PII|PHI)\b", 1.0),
        (r"notif(?:y|ied|ies|ication)\ (?:customers|patients|users|individuals)", 1.0), (r"exposed|leak(?:ed)?", 0.5),
        (r"hacked|cyberattack|cyber\ attack|intrusion", 0.5),
    ],
    "malware": [
        (r"malware|malicious\ (?:code|software|packages?|apps?|extensions?)", 1.5),
        ((r"trojans?|infostealers?|stealers?|backdoors?|rats?|loaders?|botnets?|spyware|worms?|rootkits?|wipers?|"
         r"droppers?|cryptominers?|(?:crypto|coin)\ ?miners?|keyloggers?|implants?"), 1.5),
        (r"phishing|smishing|scams?|malvertising|clickfix", 1.5),
        (r"payloads?|c2|command-and-control", 0.7),
    ],
    "policy": [
        (r"arrest(?:s|ed)?|charged|indict(?:ed|ment)|sentenced|pleads?\ guilty|pleaded|convicted|extradit(?:ed|ion)", 2.0),
        (r"sanction(?:s|ed)?|law\ enforcement|police|europol|interpol|fbi|department\ of\ justice|doj|prosecutors?", 1.5),
        (r"seiz(?:e|ed|es|ure)|shutters?|shut\ down|takedown|taken\ down|dismantl(?:e|ed)|disrupt(?:ed|s)?\ (?:the\ )?(?:operation|group|network)", 1.5),
        ((r"legislation|law|laws|bill|regulat(?:ion|ions|or|ors|ory)|fined|fines?|gdpr|congress|senate|parliament|"
         r"executive\ order|court|judge|lawsuit|sues?|sued|ban(?:s|ned)?|policy|government\ funding|nist|cisa\ directive"),
         1.0),
    ],
    "industry": [
        (r"acquir(?:e|es|ed|ing)|acquisition|merger|funding|raises?|raised|investment|ipo|valuation|startup", 2.0),
        ((r"launch(?:es|ed)?|releases?|released|announc(?:es|ed)|partnership|product|platform|feature|rolls?\ out|"
         r"rolling\ out|customers|market|revenue|earnings|layoffs?|ceo|ciso|hires?|appoint(?:s|ed)"), 0.7),
        (r"vulnerabilit(?:y|ies)|flaws?|patch(?:es|ed)?|security\ updates?|fix(?:es|ed)?|bug\ bounty|advisory", 1.0),
        # analyst reports: vendor marketing, whatever threats the text goes on about
        ((r"gartner|forrester|gigaom|idc\ marketscape|frost\ radar|magic\ quadrant|named\ (?:a|the)\ (?:leader|"
          r"strong\ performer|fast\ mover|visionary|challenger)|ranked\ \#?1"), 4.0),
    ],
}
# matched against lower-cased text: case-sensitive matching of lower-case patterns is much faster
# than re.IGNORECASE (the patterns hold no upper-case escapes); each carries the literals one of
# which any match contains, so a pattern whose literals are absent is not searched at all, and the
# longest match it can make (None: unbounded), so that the search starts near the first literal
_COMPILED = {
    topic: [(rx := re.compile(rf"\b(?:{pat.lower()})\b", re.VERBOSE), weight,
             required_literals(pat.lower(), verbose=True), max_width(rx))
            for pat, weight in pats]
    for topic, pats in _KEYWORDS.items()
}


def _start(literals: tuple[str, ...] | None, text: str, width: int | None) -> int:
    """Where a search for a match of at most ``width`` characters may begin; -1: it cannot match.

    Every match holds one of ``literals``, so none ends before the first of them in the text, nor
    starts more than ``width`` characters before it (``\\b`` still sees the characters before).
    """
    if literals is None or width is None:
        return 0
    first = len(text)
    for lit in literals:
        at = text.find(lit, 0, first + len(lit) - 1)  # only an occurrence before the earliest so far counts
        if at >= 0:
            first = at
    return max(0, first - width) if first < len(text) else -1


def _score(pats: list[tuple[re.Pattern[str], float, tuple[str, ...] | None, int | None]], title: str,
           body: str) -> float:
    score = 0.0
    for pat, weight, literals, width in pats:
        if might_match(literals, title) and pat.search(title):
            score += 3 * weight
        start = _start(literals, body, width)
        if start >= 0:
            hits = 0  # min(len(pat.findall(body)), 3), without scanning past the third
            for _m in pat.finditer(body, start):
                hits += 1
                if hits == 3:
                    break
            score += weight * hits
    return score


def classify(title: str, text: str) -> TopicInfo:
    """The topic of a story without an actor, its CVE IDs and whether the text says it is exploited."""
    return classify_scored(title, text)[0]


def classify_scored(title: str, text: str) -> tuple[TopicInfo, dict[str, float]]:
    """:func:`classify` and each topic's keyword score (features of the section model)."""
    cves = extract_cves(f"{title}\n{text}")
    exploited = is_exploited(title, text)
    body = " ".join(text.split(None, 400)[:400])  # the first 400 words, without splitting the rest
    title_low, body_low = title.lower(), body.lower()
    scores = {topic: _score(_COMPILED[topic], title_low, body_low)
              for topic in ("ransomware", "breach", "malware", "policy", "industry")}
    # a passing "exploiting known vulnerabilities" in the body is not an exploited-vulnerability story:
    # it takes a CVE ID or a headline about the flaw
    if exploited and (cves or _VULN.search(title)):
        return TopicInfo(topic="exploited", cves=cves, exploited=True), scores
    best, best_score = "other", 0.0
    for topic, s in scores.items():
        if s > best_score:
            best, best_score = topic, s
    if best_score < 2.0:
        best = "other"
    return TopicInfo(topic=best, cves=cves, exploited=exploited), scores


# --------------------------------------------------------------------------- exploited per CVE

# A claim that holds on its own ("exploited in the wild", "added to KEV", "under attack"): a modal
# elsewhere in the sentence ("... which could let attackers run code") does not undo it.
_STRONG_LOW = re.compile(
    r"""\b(?:in\ the\ wild|in-the-wild|actively|active\ exploitation|known\ exploited|kev|under\ (?:active\ )?attack|
    exploited\ (?:in|as|by)\b|(?:ongoing|observed|confirmed|widespread|mass)\ exploitation|zero-day\ attacks?|
    (?:are|were|have\ been|has\ been|is|was)\ (?:being\ )?(?:actively\ )?exploit(?:ed|ing)|
    (?<!if\ )(?<!unless\ )(?:actors|attackers|hackers|adversaries|operators|intruders|spies|group|gang)\ (?:(?:also|have|had|reportedly|
    successfully|actively|routinely|then)\ )*(?:exploited|leveraged|weaponi[sz]ed|used)\b)""",
    re.VERBOSE,
)
# What makes a weaker claim hypothetical: a modal or condition, a proof of concept, a warning that
# attackers "may" or "could" do it.
_HEDGE_LOW = re.compile(
    r"""\b(?:could|would|might|may|can|if|whether|potential(?:ly)?|possibl[ey]|likely|risk\ of|allow(?:s|ing)?|
    enabl(?:e|es|ing)|lets?|successful(?:ly)?|proof[-\ ]of[-\ ]concept|pocs?|exploitable|theoretical(?:ly)?|
    (?<!attempts\ )(?<!attempt\ )(?<!attempted\ )(?<!tried\ )to\ exploit|before\ attackers|
    requir(?:e|es|ed|ing)|urg(?:e|es|ed)\ .{0,30}\ to\ patch)\b""",
    re.VERBOSE,
)
# the month, not the modal: "since May", "in mid-May", "May 2025", "on May 3"
_MONTH_MAY = re.compile(r"\b(?:in|since|of|early|late|mid|until|by|last|this|next|from|on|through|between|and)"
                        r"[\ -]may\b|\bmay\ \d")
# an exploited-sentence without a CVE ID that points back at the flaw(s) of the sentence before
_ANAPHORA_LOW = re.compile(
    r"^(?:\W*)(?:this|these|both|all|that|those|it|they|which)\b|\b(?:the|this|these|both)\ "
    r"(?:flaws?|bugs?|vulnerabilit(?:y|ies)|issues?|zero-days?|security\ holes?)\b"
)


# claims the story-wide detector above does not read (kept as it was: it is the evaluation's baseline)
_CLAIM_EXTRA_LOW = re.compile(
    r"""\b(?:(?:the|active|ongoing|observed|widespread|mass|continued|large-scale)\ exploitation\ of|
    exploitation\ (?:campaigns?|attempts?|activity)|weaponi[sz]ed|
    (?:actors|adversaries|apts?|groups?|operators|intruders|spies)\ (?:are\ |have\ been\ |had\ |have\ |)
    (?:(?:routinely|actively|successfully|reportedly)\ )?exploit(?:ing|ed)\b|
    (?:(?:was|were|been|being)\ )?exploited\ (?:to|for|against|by)\b|zero-days?\ exploited|
    ^\W*exploitation\ of\b|attempt(?:s|ed)?\ to\ exploit|(?:tried|trying)\ to\ exploit|
    (?:leverag(?:e|es|ed|ing)|weaponi[sz](?:e|es|ed|ing))\ (?:[\w'’-]+\ ){0,4}?(?:flaws?|bugs?|vulnerabilit(?:y|ies)|
    zero-days?|0-days?|cves?)\b|
    (?:actors|attackers|hackers|adversaries|operators|intruders|group|gang)\ (?:(?:also|have|had)\ )?used\ 
    (?:[\w'’-]+\ ){0,4}?(?:flaws?|bugs?|vulnerabilit(?:y|ies)|zero-days?|0-days?|cves?)\b|
    (?:cves|vulnerabilities|flaws)\ exploited\b|exploited\ (?:cves?|vulnerabilities)\ (?:list|information|table)|
    ^\W*(?:appendix|table)\b.{0,40}\bexploited\ cves?)""",
    re.VERBOSE,
)


_NEGATED_EXTRA_LOW = re.compile(
    r"\b(?:not\ (?:currently\ |yet\ )?(?:being|under)|currently\ not|no\ (?:known|active|public|confirmed)\ "
    r"(?:exploit|attack|in-the-wild)|(?:is|are|was|were)\ not\ (?:believed|thought|known)|without\ any\ evidence|"
    r"scan(?:s|ned|ning)?\ for|probing\ for)"
)


# claims in the prose of threat reports and advisories: an agent's use of a flaw, "by exploiting",
# "exploitation of CVE-...", a CVE or a vulnerable product as the object of "exploited"
_VULN_NOUN = (r"(?:flaws?|bugs?|vulnerabilit(?:y|ies)|zero[-\ ]days?|0-days?|cves?|cve-\d{4}-\d+|weakness(?:es)?|"
              r"security\ holes?|exploits?)")
_CLAIM_PROSE_LOW = re.compile(
    rf"""\b(?:(?:by|through|via|after)\ exploit(?:ing|ation)\b|^\W*(?:exploited|leveraged)\b|
    exploit(?:ed|ing|s)?\ (?:[\w'’-]+\ ){{0,3}}?cve-\d|exploit(?:ed|ing|s)\ (?:[\w'’-]+\ ){{0,2}}?(?:vulnerable|unpatched|outdated)\b|
    exploitation\ of\ (?:[\w'’-]+\ ){{0,4}}?{_VULN_NOUN}|known\ exploitation|evidence\ of\ exploitation|
    exploit(?:ed|ing|s)\ (?:[\w'’-]+\ ){{0,6}}?(?:flaws?|bugs?|vulnerabilit(?:y|ies)|zero[-\ ]days?)\b|
    (?:actors|attackers|hackers|adversaries|operators|affiliates|group|gang|ransomware|campaigns?|activity|attacks)\ 
    (?:(?:also|have|had|routinely|actively|successfully|reportedly|then|now|are|were|continue\ to)\ )*exploit(?:s|ed|ing)?\b|
    (?:actors|attackers|hackers|group|gang)\ (?:use|uses|used)\ [^.]{{0,60}}\bto\ exploit\b|
    (?:software|servers?|appliances?|products?|instances?)\ (?:were\ |was\ |are\ |is\ )?(?:being\ )?exploited\b|
    attacks?\ (?:on|against|targeting)\ (?:[\w'’-]+\ ){{0,3}}?(?:zero[-\ ]days?|flaws?|vulnerabilit)|
    deploy\w*\ (?:[\w'’-]+\ ){{0,2}}?zero[-\ ]days|exploited\ as\ (?:a\ )?zero\ days?|
    (?:via|using|through|by)\ (?:the\ )?(?:[\w'’-]+\ ){{0,2}}?exploit\ kits?|
    (?:leverag(?:e|es|ed|ing)|weaponi[sz](?:e|es|ed|ing))\ (?:[\w'’-]+\ ){{0,4}}?(?:exploits?|weakness(?:es)?)\b|
    {_VULN_NOUN}\b[^.]{{0,60}}\b(?:been|was|were|is|are)\ weaponi[sz]ed)""",
    re.VERBOSE,
)
# not a claim whatever it says: advice ("Prioritize patching known exploited vulnerabilities"), the
# related-links lines outlets append, red-team exercises
_NOT_CLAIM_LOW = re.compile(
    r"""^\W*(?:more\ for\ you|related\b|read\ (?:more|also)|see\ also|previous(?:ly)?\ (?:coverage|reported)|
    (?:prioriti[sz]e|keep|identify|perform|harden|monitor|implement|apply|ensure|review|consider|
    for\ (?:patch|more)\ information)\b)|\brefer\ to\ the\b|
    \b(?:stops?|prevents?|blocks?|keeps?)\b[^.]{0,40}\bfrom\ exploiting|
    \b(?:detect|mitigat|block|prevent|stop|defend\ against|protect\ against)\w*\ (?:[\w-]+\ ){0,2}exploitation|
    \bred\ team|\bpenetration\ test|\bvulnerability\ disclosure\ program|\bvdp\b|\bnone\ of\b""",
    re.VERBOSE,
)
# what an "exploit" is when it is no flaw: a platform, a file type, data, people ("Hackers Exploit DNS TXT Records")
_NON_VULN_OBJECT_LOW = re.compile(
    r"""\bexploit(?:s|ed|ing)?\ (?:the\ |a\ |an\ |their\ |its\ )?(?:[\w'’-]+\ ){0,3}?(?:records|platforms?|files|ads?\b|
    human|trust|popularity|users|people|data|ai|chaos|fears|tokens|keys|credentials|passwords|misconfigur\w+|
    smart\ contracts|extensions|features?|framework|relationships|organi[sz]ations|companies|businesses|victims)\b""",
    re.VERBOSE,
)
_FLAW_LOW = re.compile(r"\b(?:flaws?|bugs?|vulnerabilit(?:y|ies)|zero[-\ ]days?|0-days?|cves?|cve-\d{4}-\d+)\b")
_HAS_VULN_LOW = re.compile(rf"\b{_VULN_NOUN}\b|\bexploit(?:s|ed|ing|ation)?\b|\bkev\b")
# a hedge after the claim counts only as a modal or a condition ("attackers exploiting it could ...");
# "allowing", "likely", "requires" there describe the flaw or something else
_HEDGE_AFTER_LOW = re.compile(r"\b(?:could|would|might|may|can|if|whether|requir(?:e|es|ed|ing))\b")
# a modal or a condition anywhere before the claim hedges it; the other hedges only just before it
# ("allegedly leveraged", "possibly exploited"; not "a threat actor with likely links to X is leveraging")
_MODAL_BEFORE_LOW = re.compile(r"\b(?:could|would|might|may|can|if|whether|unless)\b")
_SOFT_HEDGE_LOW = re.compile(r"\b(?:allegedly|alleged|suspected\ to|claim(?:s|ed)?\ to)\b")
# an underground market's interest in a flaw, not its use: "posts seeking to develop code to leverage it"
_MARKET_HEDGE_LOW = re.compile(r"\b(?:seek(?:s|ing)?\ to|sought|interest(?:ed)?\ in|for\ future|circulated|shared|"
                               r"develop(?:ing)?\ (?:code|an\ exploit|exploits))\b")
HEDGE_WINDOW = 25  # characters before the claim a hedge other than a modal must stand within
MARKET_WINDOW = 60
_POST_EXPLOIT_LOW = re.compile(r"\bpost[-\ ]exploit\w*")
# where the claim's own clause begins: after a semicolon or colon, a "that" ("know that attackers have
# exploited"), a comma before a conjunction, a pronoun or a subject ("The group may have used X; it has
# exploited Y", "If you run Exchange, attackers ...")
_CLAUSE_START_LOW = re.compile(
    r"[;:—]|\bthat\b|,\ (?=(?:but|and|yet|so|while|though|although|i|you|we|they|he|she|it|the|this|these|its|their|"
    r"attackers|hackers|actors|threat\ actors|adversaries|operators|researchers|know|note|remember)\b)")


def _claims(low: str) -> list[re.Match[str]]:
    return [m for m in (_EXPLOITED_LOW.search(low), _CLAIM_EXTRA_LOW.search(low), _CLAIM_PROSE_LOW.search(low)) if m]


def exploited_claim(sentence: str) -> str:
    """"strong", "weak" or "" for what one sentence says about exploitation.

    "" when it says nothing, negates it ("not aware of any exploitation", "no evidence"), gives
    advice, is a related-links line, or only hedges a weak claim ("could be exploited", a proof of
    concept, "successful exploitation lets", "allegedly"); a hedge counts when it stands just before
    the claim or, as a modal or condition, after it.
    """
    low = _POST_EXPLOIT_LOW.sub(" ", sentence.lower())
    found = _claims(low)
    # a negation in a clause after the claim ("... and target networks where patches have not been
    # applied") is about something else
    if not found or _NEGATED_LOW.search(_claim_scope(low)) or _NEGATED_EXTRA_LOW.search(low) or _NOT_CLAIM_LOW.search(low):
        return ""
    if _IF_LOW.match(low, _clause_start(low, min(m.start() for m in found))):
        return ""  # a condition, advice: "If a patch for a KEV listed flaw cannot be applied, ..."
    if not _HAS_VULN_LOW.search(low):
        return ""  # "under attack" with no flaw in sight ("the next battlefield is already under attack")
    strong = _STRONG_LOW.search(low)
    if strong and not _NON_VULN_OBJECT_LOW.search(low):
        return "strong"
    if _NON_VULN_OBJECT_LOW.search(low) and not _FLAW_LOW.search(low):
        return ""
    low = _MONTH_MAY.sub(" ", low)
    start = min(m.start() for m in found)
    end = min(m.end() for m in found)
    before = low[max(0, start - HEDGE_WINDOW):start]
    scope = _claim_scope(low)
    after = scope[end:] if len(scope) > end else ""
    hedged = (_HEDGE_LOW.search(before) or _SOFT_HEDGE_LOW.search(before) or _MODAL_BEFORE_LOW.search(low[_clause_start(low, start):start])
              or _MARKET_HEDGE_LOW.search(low[max(0, start - MARKET_WINDOW):start])
              or _HEDGE_AFTER_LOW.search(after))
    return "" if hedged else "weak"


def _clause_start(low: str, start: int) -> int:
    """Where the clause holding the claim at ``start`` begins: a modal or condition before that is another clause's."""
    cut = 0
    for m in _CLAUSE_START_LOW.finditer(low, 0, start):
        cut = m.end()
    return cut


_IF_LOW = re.compile(r"\W*(?:if|unless)\b")
_RELATIVE_LOW = re.compile(r"\b(?:that|which|who|where)\b")


def _claim_scope(low: str) -> str:
    """The sentence up to the relative clause after its claim: "exploited a flaw that could let ..."
    describes the flaw, it does not hedge the claim (a hedge before the claim still counts)."""
    found = _claims(low)
    if not found:
        return low
    end = min(m.end() for m in found)
    rel = _RELATIVE_LOW.search(low, end)
    return low[:rel.start()] if rel else low


# a line of a list that holds nothing but CVE IDs
_ID_LINE = re.compile(r"(?:[\W_]|\[\d+\]|\bo\b)*(?:CVE[\s\-‐‑–—]?\d{4}[\-‐‑–—]\d{4,7}(?:[\W_]|\[\d+\]|\bo\b)*)+",
                      re.IGNORECASE)
_ROW_START = re.compile(r"\W*CVE[\s\-‐‑–—]?\d{4}\b", re.IGNORECASE)
_PLURAL_LOW = re.compile(r"\b(?:flaws|bugs|vulnerabilities|zero-days|0-days|cves|holes)\b")
# a weak claim heads a listing only when it says the flaws themselves are exploited ("Top Routinely
# Exploited Vulnerabilities", "CVEs exploited", "Leveraging zero-day vulnerabilities in"), not a trend
# ("Attacks on unpatched vulnerabilities are rising", "Ransomware exploits remain the top concern")
_PLURAL_EXPLOITED_LOW = re.compile(
    r"\b(?:exploit(?:ed|ing)|leverag(?:ed|ing)|weaponi[sz](?:ed|ing))\ (?:[\w'’-]+\ ){0,2}?(?:flaws|bugs|vulnerabilities|zero-days|0-days|cves|holes)\b|"
    r"\b(?:flaws|bugs|vulnerabilities|zero-days|0-days|cves|holes)\ (?:[\w'’-]+\ ){0,3}?exploited\b")


def _flag(flagged: dict[str, None], ids: Sequence[str], reason: str, why: list[str] | None) -> None:
    for c in ids:
        if c not in flagged and why is not None:
            why.append(f"{c} exploited ({reason})")
        flagged.setdefault(c, None)


TABLE_CELL_WORDS = 16  # a line this short without a claim or a full stop is a table cell, not prose
HEADER_CELLS = 8  # a listing's header cells ("CVE", "Vendor"), read only right after its heading
ROW_CELLS = 2  # per header cell: the cells a table's row holds after its CVE ("Acme", "Remote Code Execution", CWEs)


def _heads_listing(sentence: str, claim: str) -> bool:
    """Whether a sentence without a CVE ID heads a list of exploited CVEs: a claim about plural flaws,
    strong ("Two zero-days are actively exploited:") or naming them exploited ("CVEs exploited")."""
    low = sentence.lower()
    return bool(claim) and _PLURAL_LOW.search(low) is not None and (
        claim == "strong" or _PLURAL_EXPLOITED_LOW.search(low) is not None)
HEAD_CHARS = 60000  # how much of a text the CVE flags read (threat reports name CVEs late)


def cve_flags(title: str, text: str, kev: frozenset[str] | set[str] = frozenset(),
              why: list[str] | None = None) -> tuple[tuple[str, bool], ...]:
    """Each CVE ID of the story with whether it is exploited, in order of appearance.

    The flag binds to the CVE IDs of the sentence that says exploited; a sentence without an ID
    binds to the story's only CVE, or to the IDs of the sentence before it when it points back
    ("The flaw is exploited in the wild."); an ID-only line under a heading that says the CVEs are
    exploited ("Appendix B: CVEs exploited") is exploited. A claim reads actors' use of a flaw as
    well ("the actors leveraged", "weaponized", "attempts to exploit", an advisory's "Exploitation
    of ..." line with its ATT&CK ID), never scanning for one. A CVE in CISA's KEV catalogue is exploited. ``why``,
    when given, gets one line per decision (for ``digest analyse --explain``).
    """
    cves = extract_cves(f"{title}\n{text}")
    if not cves:
        return ()
    flagged: dict[str, None] = {}
    head = text[:HEAD_CHARS]
    low_all = f"{title}\n{head}".lower()
    if _says_exploited(low_all) or _CLAIM_EXTRA_LOW.search(low_all) or _CLAIM_PROSE_LOW.search(low_all):
        sentences = [title, *split_sentences(head)]
        prev: tuple[str, ...] = ()
        explicit = False  # a text sentence names the CVE it says is exploited
        listing = ""  # a heading that says the CVEs below are exploited ("Appendix B: CVEs exploited")
        header = listed = gap = 0  # the listing's header cells, its CVE lines, the cells since its last CVE line
        for i, sentence in enumerate(sentences):
            ids = extract_cves(sentence)
            claim = exploited_claim(sentence)
            cell = not claim and len(sentence.split()) <= TABLE_CELL_WORDS and not sentence.rstrip().endswith(".")
            if listing and ids and (_ID_LINE.fullmatch(sentence) or cell):
                _flag(flagged, ids, f"listed under: {listing[:120]}", why)
                prev = ids
                listed, gap = listed + 1, 0
                continue
            # a header cell right after the heading ("CVE", "Vendor"); under a header, a row's cells
            # ("Acme", "Code Injection"); in a plain list the first line without a CVE ends it
            # ("Other critical fixes")
            if listing and not ids and cell and (header < HEADER_CELLS if not listed else gap < ROW_CELLS * header):
                # a mangled ID ("CVE-2021- 44228") still starts a row
                header, gap = (header + 1, gap) if not listed else (header, 0 if _ROW_START.match(sentence) else gap + 1)
                continue
            listing = sentence if not ids and i > 0 and _heads_listing(sentence, claim) else ""
            header = listed = gap = 0
            if claim:
                if ids:
                    bound = ids
                    explicit = explicit or i > 0
                elif len(cves) == 1:
                    bound = cves
                elif i > 0 and prev and _ANAPHORA_LOW.search(sentence.lower()):
                    bound = prev
                else:
                    bound = ()
                _flag(flagged, bound, f"{claim} claim: {sentence[:120]}", why)
            if ids:
                prev = ids
        # a headline that says the flaws are exploited, in a story whose sentences never say which:
        # plural, all of them ("Top Routinely Exploited Vulnerabilities", a list follows); singular,
        # the one the text names first
        if not explicit and len(cves) > 1 and exploited_claim(title):
            bound = cves if _PLURAL_LOW.search(title.lower()) else cves[:1]
            _flag(flagged, bound, f"headline claim: {title[:120]}", why)
    for c in cves:
        if c in kev and c not in flagged:
            flagged[c] = None
            if why is not None:
                why.append(f"{c} exploited: listed in CISA's KEV catalogue")
    return tuple((c, c in flagged) for c in cves)
