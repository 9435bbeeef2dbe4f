"""Sponsored items: deals, affiliate lists, course and webinar plugs, product press releases, stock pieces.

Rules on the headline and the text (no model): each rule that fires adds its weight, and an item is
sponsored at a total of 1.0 (:func:`is_sponsored`). :func:`sponsored_reasons` lists what fired, for
``digest analyse --explain``. :mod:`digest.intel.editorial` keeps sponsored items out of the issue.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["is_sponsored", "sponsored", "sponsored_reasons"]

# (pattern, where, weight, news_veto): "title" patterns are matched on the headline, "text" on the
# opening and closing of the text (where outlets put "Sponsored and written by ..." and affiliate
# notices); an item is sponsored at a total of 1.0 or more. A rule with news_veto does not count
# when the headline reports an incident ("fake Black Friday sites", "Co-op reveals earnings hit from
# cyber attack", "X hit by ransomware"): a deal, a figure or a company verb in it is then news.
_CASE = "(?-i:{})"  # a case-sensitive part of a pattern: press releases capitalise Every Word
_SPONSORED: list[tuple[str, str, float, bool]] = [
    # deals and affiliate lists
    ((r"\b(?:deals?\ (?:on|for)\b|(?:best|top|holiday|early)\ deals?|deal\ (?:alert|of\ the\ day)|\d+%\ off|"
      r"save\ (?:up\ to\ )?[$£€]?\d+|discount(?:ed)?|coupon|promo\ code|black\ friday|cyber\ monday|prime\ day|"
      r"lowest\ price|price\ drop|on\ sale|half\ price|bargain)\b"), "title", 1.0, True),
    (r"\b(?:lifetime\ (?:subscription|license|licence|access|plan)|bundle|(?:just|only)\ [$£€]\d+)\b", "title", 1.0, True),
    ((r"^(?:the\ )?(?:\d+\ )?best\ [\w\s-]{0,40}?(?:vpns?|antivirus|password\ managers?|security\ (?:software|suites?)|"
      r"identity\ theft\ protection|routers?|apps?|tools|services|providers)\b"), "title", 1.0, True),
    (r"\bbest\ [\w\s-]{0,40}\b(?:of|for|in)\ 20\d\d\b", "title", 1.0, True),
    (r"\b(?:review|tested|vs\.?|versus|hands-on)\b.{0,40}\b(?:vpn|antivirus|password\ manager)s?\b", "title", 0.6, True),
    # webinars, courses, events, workshops, white papers
    ((r"\b(?:webinar|webcast|masterclass|free\ (?:course|training|e-?book|guide|trial)|(?:online|training)\ courses?|"
      r"certification\ (?:training|course|prep)|learn\ (?:ethical\ hacking|cybersecurity)|register\ (?:now|today)|"
      r"ethical\ hacking\ (?:programme|program|course)|workshops?|white\ ?papers?|thought\ leadership|"
      r"at\ (?:black\ hat|rsac|rsa\ conference|ignite|re:invent)(?:\ usa)?\ 20\d\d)\b"), "title", 1.0, False),
    # course, event and offer plugs: "Courses on Cyber Security", "X to Headline a Fireside Chat at Y
    # Conference 2025", "Now Open for Applications", "to Release Free Baseline IT Security Audit"
    ((r"\bcourses?\ (?:on|in)\ (?:cyber|ethical|information|network|penetration)\w*|"
      r"\bnow\ open\ for\ (?:applications|registrations?|entries|nominations)\b|"
      r"\bto\ (?:headline|host|keynote|tackle|speak|present|lead)\b.{0,80}\b(?:(?:conference|summit|expo|forum|"
      r"festival|event)\ 20\d\d|fireside\ chat|webinar|live\ demo|(?:executive\ )?briefing|workshop)\b|"
      r"\bfree\ (?:[\w-]+\ ){0,3}(?:audit|assessment|scan|consultation|demo|e-?book|guide|course|training|workshop)s?\b"),
     "title", 1.0, True),
    # affiliate listicles ("11 Most Effective Cough Drops") and stock-tip headlines
    ((r"^\d+\ (?:best|most\ (?:effective|popular|reliable|affordable|comfortable)|cheapest|must-have|"
      r"top\ (?:picks|deals|gadgets|products|tools|apps|vpns|gifts))\b|"
      r":\ (?:is\ it\ )?an?\ (?:game-?changer|buy|winner|smart\ move|growth\ catalyst)\?\s*$|"
      r"\b(?:buy,\ sell\ or\ hold|buy\ or\ sell|time\ to\ buy|should\ you\ buy)\b"), "title", 1.0, True),
    # law firms' solicitations worded the other way round ("X Data Breach Claims Being Investigated by Y")
    (r"\bclaims\ (?:being\ )?investigated\ by\b|\binvestigat\w*\b.{0,80}\bdata\ breach\ claims\b", "title", 1.0, False),
    # the guide's other kinds: securities class-action notices, market-report promotions, "Company (TICKER) Stock:"
    ((r"\bsecurities\ (?:fraud\ )?class\ actions?\b|\blead\ plaintiff\ deadline\b|\bclass\ period\b|"
      r"\b(?:investors|shareholders)\ (?:who\ (?:lost|suffered|purchased|bought)|may\ contact|with\ (?:large\ )?losses)\b"),
     "title", 1.0, False),
    (r"\bmarket\ (?:size|share|analysis|outlook|forecast|report)\b.{0,80}\b(?:forecast|cagr|opportunit\w*|key\ players)\b|\bcagr\b",
     "title", 1.0, True),
    (_CASE.format(r"\([A-Z]{1,5}\)\ (?:Stock|Shares)\b"), "title", 1.0, False),
    # sponsored posts and op-eds (not "state-sponsored")
    (r"(?<![\w-])(?<!state\ )(?:sponsored|partner\ content|paid\ post|advertorial|promoted|in\ partnership\ with)\b",
     "title", 1.0, False),
    ((r"(?<![\w-])(?<!state\ )(?:sponsored\ (?:and\ written\ )?by|this\ (?:article|post|content)\ (?:is|was)\ "
      r"(?:sponsored|paid|brought\ to\ you|a\ contributed\ piece)|partner\ content|paid\ (?:post|content)|advertorial|"
      r"we\ (?:may\ )?earn\ (?:a\ )?(?:commission|affiliate)|affiliate\ (?:links?|commission)|"
      r"contributed\ (?:by\ our\ (?:sponsor|partner)|piece\ from\ one\ of\ our))\b"), "text", 1.0, False),
    ((r"\b(?:deal|discount|%\ off|lifetime\ (?:subscription|license)|use\ (?:the\ )?code|coupon|limited[-\ ]time\ "
      r"offer|buy\ now|shop\ now|get\ (?:it|yours)\ (?:now|today|for))\b"), "text", 0.4, True),
    # vendor thought-leadership pieces
    ((r"^(?:why|how|what)\b.{0,60}\b(?:leaders?|cisos?|security\ teams|it\ teams|organi[sz]ations|businesses|"
      r"enterprises|boards)\ (?:need|must|should|can)\b"), "title", 1.0, True),
    # press releases: a company's launch, partnership, award or analyst ranking
    (_CASE.format(r"^[A-Z0-9][\w®™&.'’,-]*(?:\ (?:[A-Z0-9&][\w®™&.'’-]*|and|of|the|for|to|de|x))*\ (?:Launches|Unveils|"
                  r"Introduces|Announces|Debuts|Expands|Partners?|Joins|Integrates|Wins|Named|Recogni[sz]ed|Achieves|"
                  r"Embeds|Reaffirms|Delivers|Adds|Selects|Acquires|Releases|Rolls\ Out|Teams\ Up|"
                  r"Collaborates|Strengthens|Enhances|Earns|Receives|Celebrates|Honou?red|Showcases|Powers|Extends|"
                  r"Brings|Offers|First\ to|Lands|Completes|Awarded|Ranked|Now\ (?:Supports?|Available|Offers?))\b"),
     "release", 1.0, True),
    ((r"\b(?:named\ (?:a|the)\ (?:leader|strong\ performer|visionary|challenger)|names\ [\w\ ]{1,30}\ a\ leader|"
      r"magic\ quadrant|forrester\ wave|gartner|frost\ radar|idc\ marketscape|of\ the\ year|awards?\ 20\d\d|"
      r"(?:wins|receives|earns|named|honou?red)\ .{0,40}\ awards?|™|"
      r"partner\ (?:on|to|with)\ |joins\ .{0,30}\ (?:network|program|programme|alliance))"), "title", 1.0, True),
    ((r"\b(?:today\ announced|announced\ today|(?:nasdaq|nyse|tsx|asx|lse|otcqb):\ ?[a-z]{1,5}\b|®|™|/prnewswire/|"
      r"business\ wire|globe\ ?newswire|accesswire|einpresswire|press\ release|the\ (?:leading|leader\ in|"
      r"industry's\ first|first\ and\ only)\b)"), "text", 0.6, True),
    # law firms soliciting clients after a breach
    ((r"\b(?:investigat(?:es|ing|ion)\ (?:of\ )?claims|law\ firm\ in(?:vestigat\w*)?\b|llp\b|"
      r"(?:attorneys|lawyers)\ (?:investigat|are\ investigat|investigating))"), "title", 1.0, False),
    ((r"\b(?:investigat(?:es|ing)\ claims|on\ behalf\ of\ (?:consumers|individuals|those)|contact\ (?:our|the)\ "
      r"(?:firm|attorneys|lawyers)|free\ (?:case\ )?(?:consultation|evaluation)|class\ action\ lawsuit\ investigation)\b"),
     "text", 0.6, False),
    # earnings, stock and market news
    ((r"\b(?:shares?|stocks?)\b.{0,40}\b(?:rose|rises|rise|fell|falls|fall|jump(?:s|ed)?|climb(?:s|ed)?|drop(?:s|ped)?|"
      r"slid|slides|surg(?:e|es|ed)|tumbl(?:e|es|ed)|soar(?:s|ed)?|plung(?:e|es|ed)|rall(?:y|ies|ied)|sink(?:s)?|sank)\b"),
     "title", 1.0, False),
    ((r"\b(?:earnings|quarterly\ (?:results|revenue|report)|(?:q[1-4]|first|second|third|fourth)[-\ ]quarter\ "
      r"(?:results|earnings|revenue)|fiscal\ (?:20\d\d|year)\ results|revenue\ guidance|price\ target|"
      r"(?:buy|sell|hold|outperform|overweight)\ rating|(?:upgrade|downgrade)s?\ (?:to|on)|stocks?\ to\ (?:buy|watch)|"
      r"dividend|market\ cap|(?:nasdaq|nyse):\ ?[a-z]+|ipo\ (?:price|filing|debut)|ftse\ \d+|dow\ jones|s&p\ 500|"
      r"investing\ tv|markets?\ live|stock\ market|investors?\ (?:cheer|punish|flee|dump)|nosedives?|"
      r"wall\ street\ (?:worries|fears|frets|cheers|shrugs))\b"), "title", 1.0, True),
    # a stock piece: a ticker in the headline and an exchange listing or stock tip in the text
    (r"\b(?:nyse|nasdaq)\s*:\s*[a-z]{1,5}\b|\bstocks?\s+to\s+(?:buy|invest|watch)|\bbest\s[\w\s-]{0,30}stocks\b",
     "ticker", 1.0, False),
    # a press release on a wire service whose headline reports no research, funding or incident
    ((r"--\s*\((?:business\s+wire|globe\s+newswire|accesswire)\)\s*--|\((?:globe\s+newswire|business\s+wire|"
      r"accesswire)\)\s*--|/\s*prnewswire(?:-prweb)?\b"), "wire", 0.5, True),
    # a vendor's post on how its product does the job ("Stop ransomware with Falcon Endpoint Security")
    (_CASE.format(r"\bwith\ (?:[A-Z][\w-]*\ ){1,3}(?:Security|Endpoint|Platform|Copilot|Suite|XDR|EDR|SIEM|SOAR|"
                  r"Defender|Falcon|Sentinel|Intune|Protect|Shield|Guard)\b"), "title", 1.0, True),
    ((r"\b(?:earnings\ per\ share|per-share|year-over-year|price\ target|"
      r"analysts?\ (?:polled|expect(?:ed)?|estimate)|wall\ street|investors)\b"), "text", 0.35, True),
]
_SPONSORED_RE = [(re.compile(p, re.IGNORECASE | re.VERBOSE), where, w, veto) for p, where, w, veto in _SPONSORED]
# a headline that reports an incident
_THREAT_TITLE = re.compile(r"\b(?:scam(?:s|mers)?|phish(?:ing)?|fake|malware|malicious|hack(?:s|ed|ers|ing\ group)|"
                           r"breached|cyber-?\ ?attack(?:s|ed)?|attacked|attacks?\ on|ransomware\ (?:attack|hit|gang)|confirms|"
                           r"exploit(?:s|ed)|stolen|fraud(?:sters)?|warns?|leak(?:s|ed)|trojan|spyware|botnet|hit\ by|"
                           r"zero-day|patch(?:es|ed)?|fix(?:es|ed)|arrest(?:s|ed)?|charged|sentenced|outage)\b",
                           re.IGNORECASE | re.VERBOSE)


# the threat words of a headline that report an incident wherever they stand (not what a product is for)
_INCIDENT_TITLE = re.compile(r"\b(?:hacked|breached|attacked|confirms|exploit(?:s|ed)|zero-day|patch(?:es|ed)?|"
                             r"fix(?:es|ed)?|hit\ by|leak(?:s|ed)|stolen|warns?|arrest(?:s|ed)?|charged|sentenced|"
                             r"outage)\b", re.IGNORECASE | re.VERBOSE)
_TICKER_TITLE = re.compile(r"\((?:(?:nyse|nasdaq)\s*:\s*)?[A-Z]{1,5}\)")
# a headline that reports research, a funding round or an incident notice (news, even on a wire)
_RELEASE_NEWS_TITLE = re.compile(r"\b(?:reports?|finds?|research|researchers|reveals?|survey|study|secures?|raises?|"
                                 r"funding|round|acqui\w+|breach|incident|notice|regarding)\b", re.IGNORECASE)


# a headline that reports a company's research ("Comcast Business Releases 2025 Cybersecurity Threat Report"):
# vendor research on a wire is news, not an ad
_RESEARCH_TITLE = re.compile(r"\b(?:reports?|survey|study|index|findings?|finds|reveals?)\b", re.IGNORECASE)


def sponsored_reasons(title: str, text: str) -> list[str]:
    """The sponsored rules an item fires, with their weights; it is sponsored at a total of 1.0."""
    return [f"{weight:g} sponsored ({_WHERE.get(_SPONSORED[n][1], _SPONSORED[n][1])}): {match[:60]!r}"
            for n, weight, match in fired_rules(title, text)]


_WHERE = {"release": "title"}  # how a reason names where its rule looked


RULES = len(_SPONSORED)  # the number of rules (features of :mod:`digest.intel.sponsored_model`)


def fired_rules(title: str, text: str) -> list[tuple[int, float, str]]:
    """``(rule index, weight, matched text)`` of each rule an item fires."""
    ends = f"{text[:1500]}\n{text[-1500:]}" if len(text) > 3000 else text
    out: list[tuple[int, float, str]] = []
    threat_m = _THREAT_TITLE.search(title)
    threat = threat_m is not None
    ticker = _TICKER_TITLE.search(title) is not None
    release_news = _RELEASE_NEWS_TITLE.search(title) is not None
    threat_at = threat_m.start() if threat_m else -1
    for n, (pat, where, weight, veto) in enumerate(_SPONSORED_RE):
        if where == "release":
            # "X Launches Coverage for Ransomware and Fraud": a threat word after the company's verb is
            # what the product is for; only one before it ("Hacked X Announces ...") reports an incident
            m = pat.search(title)
            incident = threat and (threat_at < (m.end() if m else 0) or _INCIDENT_TITLE.search(title) is not None)
            if m and not (veto and (incident or _RESEARCH_TITLE.search(title))):
                out.append((n, weight, m.group(0)))
            continue
        if (threat and veto) or (where == "ticker" and not ticker) or (where == "wire" and release_news):
            continue
        m = pat.search(title if where == "title" else text[:800] if where in ("ticker", "wire") else ends)
        if m:
            out.append((n, weight, m.group(0)))
    return out


def is_sponsored(reasons: Sequence[str]) -> bool:
    """Whether the weights of :func:`sponsored_reasons` total 1.0 or more."""
    return sum(float(r.split(" ", 1)[0]) for r in reasons) >= 1.0


def sponsored(title: str, text: str) -> bool:
    """Whether an item is sponsored (its rules total 1.0 or more)."""
    return is_sponsored(sponsored_reasons(title, text))
