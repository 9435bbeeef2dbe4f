"""Shared text helpers for the content stage: cleaning, sentence splitting, sentence rules, tokens.

Sentence splitting is a regex splitter with abbreviation handling rather than pysbd: pysbd needs
about 60 ms for 5,000 characters (10+ s for 1,000 articles), far over the 5 s budget for
summarizing and clustering 1,000 articles. ``tests/test_summarize.py`` checks that this splitter
agrees with pysbd on prose, and covers the cases that matter (abbreviations, initials, decimals,
versions, domains, quotes, the ``U.S.`` ambiguity).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

import ahocorasick

__all__ = [
    "QUOTE_MARK",
    "STOPWORDS",
    "clean_text",
    "content_tokens",
    "html_to_text",
    "sentence_ok",
    "sentence_problems",
    "split_sentences",
    "words",
]

# --------------------------------------------------------------------------- cleaning

_TAG_BREAK = re.compile(r"<\s*(?:br|/p|p|/div|div|/li|li|/h[1-6]|h[1-6]|/tr|tr|/blockquote)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


_BLOCKQUOTE = re.compile(r"<blockquote\b[^>]*>(.*?)</blockquote\s*>", re.IGNORECASE | re.DOTALL)
#: a line of quoted matter (a blockquote, an embedded post): kept in the text, never quoted in a summary
QUOTE_MARK = "> "


def _mark_quote(m: re.Match[str]) -> str:
    inner = _TAG.sub(" ", _TAG_BREAK.sub("\n", m.group(1)))
    lines = [ln.strip() for ln in inner.split("\n") if ln.strip()]
    return "\n" + "\n".join(QUOTE_MARK + ln for ln in lines) + "\n"


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: block tags become line breaks, entities decoded.

    Lines of a blockquote (a quoted post, an embedded tweet) start with :data:`QUOTE_MARK`.
    """
    s = _SCRIPT.sub(" ", markup)
    if "<blockquote" in s.lower():
        s = _BLOCKQUOTE.sub(_mark_quote, s)
    s = _TAG_BREAK.sub("\n", s)
    s = _TAG.sub(" ", s)
    s = clean_text(html.unescape(s))
    if m := _GLUED_STANDFIRST.match(s):
        # a feed that flattened its standfirst onto the first paragraph: "... patched it Threat actors have ..."
        s = f"{m.group(1)}\n{s[m.end():]}"
    return s


# trailing "continue reading" markers of feed teasers: "[...]", "[…]", "…" after a full stop
_TEASER_TAIL = re.compile(r"\s*(?:\[\s*(?:\.\.\.|…)\s*\]|\(\s*(?:\.\.\.|…)\s*\)|(?<=[.!?\"”’])\s*(?:…|\.\.\.))\s*$")


_TEASER_ENDS = ("]", ")", "…", "...")
_SPACED_DECIMAL = re.compile(
    r"\b\d+\. \d+(?=\s?(?:m|bn|k|million|billion|trillion|thousand|%|percent|tbps|gbps|mbps|tb|gb|pb)\b)|\bU\. (?:S|K|N)\.",
    re.IGNORECASE)
_SPACED_THOUSANDS = re.compile(r"\b\d{1,3}(?:, \d{3})+\b(?!,? \d)")
# what every match of the two above contains (IGNORECASE lets "s" and "k" match "ſ" and the Kelvin sign)
_SPACED_DECIMAL_HINT = re.compile("\\. (?:\\d|[SsKkNn\u017f\u212a]\\.)")
_SPACED_THOUSANDS_HINT = re.compile(r"\d, \d\d\d")
_GLUED_STANDFIRST = re.compile(
    r"([^.!?\n]{15,200}?[a-z0-9’'”)])(?:\s+Updated)?\s+(?=(?:The|A|An|In|More|Some|Many|Most|Several|Multiple|"
    r"Government|Threat|Researchers|Police|Hackers|Attackers|Officials|Authorities|Fashion|"
    r"Two|Three|Four|Five|Updated)\s+[a-z])")
_MD_LINK = re.compile(r"\[(\[?[^\[\]\n]{0,300}\]?)\]\([^)\s]{0,500}\)")
_GLUED = re.compile(r"([a-z]{3}[.!?])([A-Z][A-Za-z]+\s)")
_GLUED_HINT = re.compile(r"[.!?][A-Z]")


def clean_text(text: str) -> str:
    """Normalise whitespace (keeping line breaks), quotes stay as they are; drop teaser tails."""
    s = text.replace("\r\n", "\n").replace("\r", "\n")
    s = s.replace("\xa0", " ").replace("\u200b", "").replace("\u00ad", "")
    # each substitution only when it has something to do (a cheap C-level test first: most
    # extracted text has no runs of blanks, and these passes dominate the summarizer's cost)
    if "  " in s or "\t" in s or "\f" in s or "\v" in s:
        s = re.sub(r"[ \t\f\v]+", " ", s)
    if " \n" in s or "\n " in s:
        s = re.sub(r" *\n *", "\n", s)
    if "\n\n\n" in s:
        s = re.sub(r"\n{3,}", "\n\n", s)
    # (the hints are literal-led, so the regex engine skips to candidates: 10-100x cheaper scans)
    if _SPACED_DECIMAL_HINT.search(s):  # "$2. 8 million", "U. S." -> "$2.8 million", "U.S."
        s = _SPACED_DECIMAL.sub(lambda m: m.group(0).replace(" ", ""), s)
    if _SPACED_THOUSANDS_HINT.search(s):  # "2, 501, 324 people" -> "2,501,324 people"
        s = _SPACED_THOUSANDS.sub(lambda m: m.group(0).replace(", ", ","), s)
    if "](" in s or "**" in s:  # Markdown: a link keeps its words, emphasis marks go
        s = _MD_LINK.sub(lambda m: "" if m.group(1).startswith("[") else m.group(1), s).replace("**", "")
    if _GLUED_HINT.search(s):
        s = _GLUED.sub(r"\1 \2", s)  # "economy.Yet this" -> "economy. Yet this"
    lines = [_TEASER_TAIL.sub("", ln) if ln.endswith(_TEASER_ENDS) else ln for ln in s.split("\n")]
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------- splitting

_ABBREVIATIONS = frozenset(
    ["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "inc", "corp", "co", "ltd", "llc", "plc", "gmbh", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "nos", "fig", "figs", "gen", "gov", "sen", "rep", "lt", "col", "capt", "sgt", "cmdr", "adm", "approx", "dept", "est", "mt", "ave", "al", "ca", "cf", "op", "vol", "pp", "ed", "eds", "rev", "hon", "pres", "supt", "det", "insp", "u.s", "u.k", "u.n", "e.u", "e.g", "i.e", "a.m", "p.m", "ph.d", "m.d", "b.a", "m.a", "u.s.a"]
)
# abbreviations that are followed by a number ("Art. 361", "Sec. 4"); plain words otherwise ("state of the art.")
_NUMBERED = frozenset(["art", "arts", "sec", "secs", "para", "paras", "ch", "chap", "reg", "cl", "ss", "p", "pt"])
# words that, after "U.S." and the like, show a new sentence has begun
_SENTENCE_STARTERS = frozenset(
    ["the", "a", "an", "it", "this", "that", "these", "those", "he", "she", "they", "we", "i", "in", "on", "at", "but", "however", "meanwhile", "according", "as", "its", "their", "his", "her", "our", "there", "some", "many", "most", "after", "before", "while", "when", "since"]
)
_TERMINAL = re.compile(r"([.!?]+|…)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_boundary(chunk: str, end: int, punct: str, following: str) -> bool:
    """Decide whether the terminal punctuation ending at ``end`` in ``chunk`` ends a sentence."""
    if punct != ".":
        return True  # "!", "?", "...", "…": always a boundary before a capital
    before = chunk[:end - 1]
    m = _WORD_BEFORE.search(before)
    if not m:
        return True  # "... 2025." or ")."
    word = m.group(1).lower().rstrip(".")
    nxt = re.match(r"[\"'“‘(\[]?([A-Za-z]+)", following)
    next_word = nxt.group(1).lower() if nxt else ""
    if "." in word or word in ("u.s", "u.k"):
        # "U.S." / "e.g." : a boundary only when a typical sentence opener follows
        if word in ("e.g", "i.e", "cf"):
            return False
        return next_word in _SENTENCE_STARTERS
    if word in _NUMBERED and following[:1].isdigit():
        return False  # "Art. 361", "Sec. 4(b)": a reference, not the end of a sentence
    if word in _ABBREVIATIONS:
        if word in ("inc", "corp", "co", "ltd", "llc", "plc", "gmbh", "etc", "al"):
            return next_word in _SENTENCE_STARTERS
        return False
    glued = m.start() > 0 and before[m.start() - 1].isalnum()  # "M00nD3V." ends a name, not an initial
    return not (len(word) == 1 and m.group(1).isupper() and not glued)  # an initial: "J. Smith"


def _split_block(block: str) -> list[str]:
    out: list[str] = []
    start = 0
    for m in _TERMINAL.finditer(block):
        end = m.start(1) + len(m.group(1))
        if _is_boundary(block, end, m.group(1), block[m.end():]):
            piece = block[start:m.start(3)].strip()
            if piece:
                out.append(piece)
            start = m.end()
    tail = block[start:].strip()
    if tail:
        out.append(tail)
    return out


def _blocks(text: str) -> list[str]:
    """Lines of ``text`` with hard-wrapped lines re-joined (a line continues when the next starts lowercase)."""
    blocks: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            blocks.append("")
            continue
        if blocks and blocks[-1] and not re.search(r"[.!?:\"”’)]$", blocks[-1]) and re.match(r"[a-z(]", line):
            blocks[-1] += " " + line
        else:
            blocks.append(line)
    return [b for b in blocks if b]


def split_sentences(text: str, *, cleaned: bool = False) -> list[str]:
    """Split plain text into sentences; a line break always ends a sentence (headings stay apart).

    ``cleaned=True`` skips :func:`clean_text` for text that has been through it already.
    """
    sentences: list[str] = []
    for block in _blocks(text if cleaned else clean_text(text)):
        sentences.extend(_split_block(block))
    return sentences


# --------------------------------------------------------------------------- sentence rules

_BOILERPLATE = re.compile(
    r"""\b(?:subscribe|newsletters?\b(?!\ (?:platform|service|provider|company))|advertisements?|
    sponsored\ (?:content|post|by)|sign\ up\ (?:for\ (?:our|the|free|a\ free)|now|here|today|below)|
    (?:sign|log)[ -]?in\ to\ (?:continue|comment|read|your\ account\ to)|create\ (?:an|a\ free)\ account|
    (?:accept|use|uses|our|allow)\ (?:all\ )?cookies|cookie\ (?:policy|settings|preferences|consent|banner)|
    privacy\ policy|terms\ of\ (?:use|service)|all\ rights\ reserved|copyright\ (?:©|\(c\)|\d{4})|
    share\ (?:on|via)\b|share\ this\ (?:article|post|story|page)|related\ (?:articles?|posts?|stories|reading|news)|
    read\ (?:more|the\ full|next|also)|continue\ reading|click\ here|follow\ us|appeared\ first\ on|
    this\ (?:article|story)\ (?:was|has|is)|in\ this\ (?:article|post|blog)|leave\ a\ (?:comment|reply)|
    download\ (?:our|now|the\ (?:full\ )?(?:report|whitepaper|e-?book))|register\ (?:now|here|today)|
    webinar|our\ podcast|(?:our|your)\ inbox|join\ (?:us|our)\b|tags?:|filed\ under|last\ updated|
    editor['’]?s\ note|free\ trial|request\ a\ demo|learn\ more|get\ started|let\ us\ know|
    you\ (?:might|may)\ also\ like|recommended\ for\ you|trending\ now|most\ popular|don'?t\ miss|
    (?:please\ )?enable\ javascript|skip\ to\ (?:main\ )?content)|©|^(?:posted|written|published)\ (?:by|in|on)\b|
    ^the\ post\b.{0,300}\bappeared\b|^tl;?\ ?dr\b|download\ the\ (?:pdf|full|complete)\b|\bno\ results?\ view\ all\ results?\b|
    ^(?:note|update|updated|editor'?s\ note|disclosure|sponsored|advertisement)\s*[:\-–—]|^by\ [A-Z][a-z]+\ [A-Z][a-z]+\s*(?:[|,–—-]|$)|
    ^by\ (?:the\ )?[^.]{0,60}\b(?:team|staff|desk|unit|editors?|newsroom|contributors?|reporters?)\.?$""",
    re.IGNORECASE | re.VERBOSE,
)
_CAPTION = re.compile(
    r"""^(?:image|photo|picture|figure|fig\.|screenshot|video|source|credit|caption|illustration)s?\b\s*
    (?:\d+\s*)?[:|–—-]|\b(?:image|photo|picture)\s+(?:credit|courtesy|by|via|source)\b|
    \b(?:getty\ images|shutterstock|istock|alamy|reuters/|ap\ photo|afp\ via)\b|
    ^\(?(?:photo|image|credit)s?\b|\((?:photo|image|credit|pictured)\b""",
    re.IGNORECASE | re.VERBOSE,
)
_URL = re.compile(r"(?:https?://|www\.|hxxps?://)\S+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|org|net|io|gov|html?|php)\b(?:/\S*)?",
                  re.IGNORECASE)
_DANGLING = re.compile(
    r"""^(?:[\"'“‘(])?(?:he|she|they|them|it|its|his|her|their|
    (?:this|that|these|those)(?!\ (?:week|year|month|morning|afternoon|evening|weekend|quarter|summer|winter|spring|
    fall|autumn)\b)|such|there|here|
    however|but|and|or|so|also|additionally|moreover|furthermore|meanwhile|still|yet|instead|thus|
    therefore|hence|then|nevertheless|nonetheless|otherwise|likewise|similarly|besides|again|plus|
    as\ a\ result|as\ such|in\ addition|in\ turn|on\ the\ other\ hand|in\ contrast|by\ contrast|
    for\ example|for\ instance|in\ that\ case|at\ the\ same\ time|even\ so|after\ that|
    the\ (?:former|latter|same)|said|according\ to\ (?:him|her|them|the\ (?:company|researchers|report))|
    (?:more|most|even\ more)\ importantly|what['’]s\ more|on\ top\ of\ (?:that|this)|both|neither|either|another|
    despite\ (?:this|that|these|those|it)|because\ of\ (?:this|that)|in\ the\ meantime|
    (?:in|at|on|inside|within|from|with|for|under|during|after|before|through|beyond|to)\ (?:this|that|these|those|
    such|both)\b(?!\ (?:year|week|month|morning|afternoon|evening|weekend|quarter)\b)|
    in\ (?:doing\ so|response)|by\ doing\ so|to\ (?:this|that)\ end|as\ (?:mentioned|noted|explained|described|
    discussed|shown|seen)\ (?:above|below|earlier|before|previously)|
    the\ (?:new|same|other|second|third|latter|former)\ [\w-]+\ (?:was|were|is|are|has|had|have|will|would|can|could)|
    let['’]s|let\ us|interestingly|importantly|ironically|curiously|(?:un)?surprisingly|luckily|(?:un)?fortunately|
    admittedly|that\ said|having\ said\ that|in\ fact|indeed|of\ course|after\ all|even\ then|at\ least|
    in\ the\ (?:blog\ )?(?:post|article|report|advisory|paper|document|video|interview))\b|
    ^the\ (?:first|second|third|last|latter|former)\ (?:is|was|are|were|describes|shows|explains|one|of\ (?:these|them|those))\b|
    ^(?:al)?though,|^(?:notably|essentially|basically|lastly|finally|firstly|secondly|thirdly|next|specifically|
    first\ of\ all),|^(?:please\ )?note\ that\b|
    ^(?:in\ the\ (?:final|last|next)|further\ (?:analysis|investigation|research|digging))\b|
    ^the\ [\w-]+(?:\ [\w-]+)?\ (?:is|was|are|were|has|have|had|can|will)\ also\b|
    ^[^,]{0,40},\ (?:this|these|those)\ (?!(?:week|year|month|morning|afternoon|evening|weekend|quarter)\b)|
    ^(?:[\w’'-]+\ ){0,4}(?:this|that|these|those)\ (?!(?:week|year|month|morning|afternoon|evening|weekend|quarter|
    summer|winter|spring|fall|autumn)\b)[\w-]+(?:\ [\w-]+)?,""",
    re.IGNORECASE | re.VERBOSE,
)
# cheap substring tests that must hold before the (slower) regexes above can match
_BOILER_HINTS = (
    "subscri", "newsletter", "advertis", "sponsored", "sign up", "sign in", "log in", "login", "log-in", "sign-in",
    "account", "cookie", "privacy", "terms of", "rights reserved", "copyright", "share", "related", "read ",
    "continue reading", "click here", "follow us", "appeared first", "this article", "this story", "in this",
    "leave a", "download", "register", "webinar", "podcast", "inbox", "join ", "tag", "filed under",
    "last updated", "free trial", "demo", "learn more", "get started", "let us know", "also like", "recommended",
    "trending", "most popular", "miss", "javascript", "skip to", "©", "view all result",
)
_BOILER_STARTS = ("the post ", "tldr", "tl;dr", "tl dr", "posted", "written", "published", "by ", "note", "update", "editor", "disclosure", "sponsored",
                  "advertisement")
_CAPTION_HINTS = ("image", "photo", "picture", "figure", "fig.", "screenshot", "video", "source", "credit",
                  "caption", "illustration", "getty", "shutterstock", "istock", "alamy", "reuters/", "afp via",
                  "pictured")
_URL_HINTS = ("://", "www.", ".com", ".org", ".net", ".io", ".gov", ".htm", ".php")


# newsroom furniture and ad copy that the boilerplate rule does not name
_FURNITURE = re.compile(
    r"""\b(?:can\ be\ (?:found|read|seen|viewed|downloaded)\ (?:here|below|online|in\ (?:this|the|our)\ (?:report|
    blog|post|article|advisory|paper|appendix))|(?:is|are)\ available\ here|
    reached\ out\ to\b.{0,80}\b(?:comment|update|hear\ back|respond)|will\ update\ (?:this|the|our)\ (?:post|article|story|
    report)|(?:did\ not|didn['’]t|has\ not|hasn['’]t|have\ not|haven['’]t)\ (?:yet\ |immediately\ )?(?:respond(?:ed)?|replied)\ to
    \ (?:a|our|an|multiple|repeated|the)?\ ?(?:email(?:ed)?\ )?(?:requests?|inquir(?:y|ies)|questions?)|declined\ to\ comment|
    (?:could\ not|couldn['’]t)\ be\ reached\ for\ comment|editor['’]?s\ note|this\ (?:post|article|story)\ (?:has\ been|was)
    \ updated|(?:^|\ )updated?\ \(|this\ (?:blog|post|write-?up)\b|(?:have|got)\ a\ tip\b|
    limited[\ -]time|\d+\s?%\ off\b|promo\ code|coupon|use\ (?:the\ )?code\b|for\ (?:just|only)\ [$€£]|save\ (?:up\ to\ )?[$€£]\d|
    free\ shipping|affiliate\ (?:link|commission)|(?:buy|shop|order)\ now|best\ (?:vpn|antivirus|password\ manager)s?\b|
    deals?\ of\ the\ (?:day|week))""",
    re.IGNORECASE | re.VERBOSE,
)
_FURNITURE_HINTS = (
    "can be", "available here", "reached out", "will update", "respond", "replied", "declined to comment",
    "be reached", "editor", "updated", "update (", "this blog", "this post", "this write", "a tip", "limited",
    "% off", "%off", "promo", "coupon", "code", "for just", "for only", "save ", "shipping", "affiliate", " now",
    "best vpn", "best antivirus", "best password", "deal",
)
# a sentence that speaks to the reader ("Refer to the vendor's guidance ...") or a table cell ("Allows ...")
_IMPERATIVE = re.compile(
    r"""^(?:refer|implement|skip|click|visit|read|see|download|apply|install|ensure|consider|review|check|learn|
    join|register|contact|follow|enable|disable|monitor|prioriti[sz]e|upgrade|make\ sure|don['’]t|do\ not|never|
    always|remember|discover|explore|find\ out|watch|listen|subscribe|sign|get|try|allows|enables|provides|permits|
    lets)\b""",
    re.IGNORECASE | re.VERBOSE,
)
# a sentence that points at something the summary does not show: a figure, a table, a list below
_DEICTIC = re.compile(
    r"""\b(?:(?:the|this|these|that)\ (?:table|image|figure|screenshot|chart|graph|diagram|video|picture|map|list|
    graphic|infographic|snippet|code|listing)s?\ (?:above|below|here)|(?:shown|listed|seen|pictured|illustrated|
    depicted|displayed|outlined|detailed|summari[sz]ed|included|explained|mentioned|discussed|described)\ (?:above|
    below|here|earlier|previously)|
    ^the\ (?:image|screenshot|photo|picture|figure|chart|graphic)s?\b|(?:in|see)\ (?:figure|fig\.|table|
    image|listing)\ \d+|(?:figure|table)\ \d+\ (?:above|below)|as\ follows|the\ following)\b|^below\b""",
    re.IGNORECASE | re.VERBOSE,
)
_DEICTIC_HINTS = ("above", "below", "here", "earlier", "previously", "figure", "fig.", "table", "listing", "follow", "the image",
                  "the screenshot", "the photo", "the picture", "the chart", "the graphic")
# first person singular outside quotation marks: a blogger's aside or a quote cut loose from its speaker
_QUOTED = re.compile(r"[“\"][^”\"]*[”\"]")
_FIRST_PERSON_I = re.compile(
    r"(?<!War )(?<!Phase )(?<!Part )(?<!Type )(?<!Level )(?<!Stage )(?<!Tier )(?<!Class )(?<!Category )"
    r"\bI(?:['’](?:m|ve|ll|d))?\b(?=\s+[a-z]|['’])|\b(?:my|me|myself)\b")
# every match of _FIRST_PERSON_I is a match of this (no lookbehinds: about 6x cheaper to rule out);
# removing quoted parts only removes matches, so the hint may be tested on the whole sentence
_FIRST_PERSON_HINT = re.compile(r"\b(?:I|my|me|myself)\b")
# references left empty when the link was dropped: "(see: )", "[]", "()"
_EMPTY_REF = re.compile(r"\(\s*(?:see|cf\.?|source|via|link)?:?\s*\)|\[\s*\]")
# a sentence that starts as the tail of another: "361, part 3 of Art."
_CONTINUATION = re.compile(r"^\d[\d.]*,\s|^\d{1,2}[.)]\s*[A-Z]|^\d{1,2}\s+[A-Z][a-z]|"
                          r"^[A-Z][\w'’-]*(?:\s[\w'’-]+){0,2}:\s+[A-Z]")  # a heading glued on: "Attack chain: In"
# a heading glued to the text ("... for XDR : Sophisticated threats"), a teaser cut as "[.]"
_BROKEN = re.compile(r"\s:\s|\[\s*[.…]+\s*\]\.?$")  # also a numbered list item: "1.Indicator one"
_ABBREV_END = re.compile(r"\b(?:Art|Arts|Sec|Secs|No|Nos|Vol|Para|Ch|Chap|Fig|Figs|pp?|cf|approx|vs)\.$")

_READER_WORD = re.compile(r"[^\s]*[A-Za-z0-9][^\s]*")


def words(text: str) -> list[str]:
    """Words as a reader counts them (whitespace-separated tokens with a letter or digit)."""
    return _READER_WORD.findall(text)


def sentence_problems(sentence: str) -> list[str]:
    """Rule breaks of one sentence for summary use: empty list when the sentence is fit to quote."""
    s = sentence.strip()
    problems: list[str] = []
    if not s:
        return ["empty"]
    low = s.lower()
    if (_has_hint(_BOILER_AC, low) or low.startswith(_BOILER_STARTS)) and _BOILERPLATE.search(s):
        problems.append("boilerplate")
    if _has_hint(_CAPTION_AC, low) and _CAPTION.search(s):
        problems.append("caption")
    if "?" in s:
        problems.append("question")
    if "@" in s or (_has_hint(_URL_AC, low) and _URL.search(s)):
        problems.append("url")
    if _DANGLING.match(s):
        problems.append("dangling-start")
    if _is_fragment(s):
        problems.append("fragment")
    problems.extend(_context_problems(s, low))
    return problems


def _context_problems(s: str, low: str) -> list[str]:
    """The rules about context: quoted matter, furniture and ads, pointers, a first-person aside."""
    problems: list[str] = []
    if s.startswith(">"):
        problems.append("quote: from a blockquote or an embedded post")
    if _IMPERATIVE.match(s):
        problems.append("imperative: speaks to the reader or is a table cell")
    if _has_hint(_FURNITURE_AC, low) and _FURNITURE.search(s):
        problems.append("boilerplate")
    if _has_hint(_DEICTIC_AC, low) and _DEICTIC.search(s):
        problems.append("deictic: points at something the summary does not show")
    if ("i" in low or "m" in low) and _FIRST_PERSON_HINT.search(s) and \
            _FIRST_PERSON_I.search(_QUOTED.sub(" ", s) if ("“" in s or '"' in s) else s):
        problems.append("first-person")
    return problems


_TERMINAL_END = re.compile(r"(?<!\.\.)[.!](?:[\"'”’)\]]*)$")
_CAPITAL_START = re.compile(r"[\"'“‘(]?[A-Z0-9]")


def _automaton(hints: Iterable[str]) -> ahocorasick.Automaton:
    """One automaton over a hint list: whether a lowercased sentence holds any of them is one C call."""
    auto = ahocorasick.Automaton()
    for h in hints:
        auto.add_word(h, h)
    auto.make_automaton()
    return auto


_BOILER_AC, _CAPTION_AC, _URL_AC = _automaton(_BOILER_HINTS), _automaton(_CAPTION_HINTS), _automaton(_URL_HINTS)
_FURNITURE_AC, _DEICTIC_AC = _automaton(_FURNITURE_HINTS), _automaton(_DEICTIC_HINTS)


def _has_hint(auto: ahocorasick.Automaton, low: str) -> bool:
    return next(auto.iter(low), None) is not None


def sentence_ok(sentence: str, nwords: int | None = None) -> bool:
    """``not sentence_problems(sentence)``, with the cheap rules first (the summarizer's hot path).

    ``nwords`` is ``len(words(sentence))`` when the caller has counted already.
    """
    s = sentence.strip()
    if not s or "?" in s or "@" in s:
        return False
    if _is_fragment(s, nwords if s is sentence else None) or _DANGLING.match(s):
        return False
    low = s.lower()
    if (_has_hint(_BOILER_AC, low) or low.startswith(_BOILER_STARTS)) and _BOILERPLATE.search(s):
        return False
    if _has_hint(_CAPTION_AC, low) and _CAPTION.search(s):
        return False
    if _has_hint(_URL_AC, low) and _URL.search(s):
        return False
    return not _context_problems(s, low)


def _is_fragment(s: str, nwords: int | None = None) -> bool:
    """Not a whole sentence; ``nwords`` is ``len(words(s))`` when the caller has counted already."""
    # the end-anchored patterns are searched from near the end only (exact: lookbehinds and \b still
    # see the characters before the start position; ``$`` may also match before a final newline)
    tail = 0 if s.endswith("\n") else len(s)
    if not _TERMINAL_END.search(s, max(0, len(s.rstrip("\"'”’)]")) - 1) if tail else 0) or \
            s.endswith(("…", "...")):
        return True  # no terminal punctuation, or a teaser cut "…"
    if not _CAPITAL_START.match(s):
        return True  # starts mid-sentence
    if (len(words(s)) if nwords is None else nwords) < 5:
        return True
    # unbalanced quotes or brackets: a sentence cut out of a quotation
    if s.count("(") != s.count(")") or s.count("[") != s.count("]"):
        return True
    if s.count("“") != s.count("”") or s.count('"') % 2:
        return True
    if _CONTINUATION.match(s) or _ABBREV_END.search(s, max(0, tail - 9)) or \
            ((":" in s or "[" in s) and _BROKEN.search(s)) or (
            ("(" in s or "[" in s) and _EMPTY_REF.search(s)):
        return True  # the tail of a split sentence, a cut at "Art.", a reference whose link was dropped
    return bool(s.endswith((":", ";")))


# --------------------------------------------------------------------------- tokens for similarity

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "almost", "also", "although", "am", "among", "an", "and", "another", "any", "are", "around", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "done", "down", "during", "each", "either", "even", "ever", "every", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "however", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "least", "less", "like", "made", "make", "makes", "many", "may", "me", "might", "more", "most", "much", "must", "my", "near", "new", "news", "no", "nor", "not", "now", "of", "off", "often", "on", "once", "one", "only", "or", "other", "our", "out", "over", "own", "per", "put", "rather", "said", "same", "say", "says", "see", "seen", "she", "should", "since", "so", "some", "still", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "though", "through", "thus", "to", "too", "under", "until", "up", "upon", "us", "use", "used", "using", "very", "via", "was", "we", "were", "what", "when", "where", "whether", "which", "while", "who", "whom", "whose", "why", "will", "with", "within", "without", "would", "yet", "you", "your", "week", "weeks", "day", "days", "today", "yesterday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "year", "years", "month", "months", "time", "report", "reported", "reports", "according", "company", "companies", "researchers", "researcher", "security", "cybersecurity", "firm", "told", "statement", "update", "updated", "first", "last", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "well", "two-thirds", "attack", "attacks", "attacker", "attackers", "threat", "threats", "actor", "actors", "hacker", "hackers", "group", "groups"]
)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    if len(word) <= 4 or word[0].isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: len(word) - len(suffix)] + repl
    return word


_TOKEN = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z]")


def content_tokens(text: str) -> list[str]:
    """Lowercased, lightly stemmed content words (stopwords dropped) for similarity measures."""
    out: list[str] = []
    for w in _TOKEN.findall(text.lower()):
        if w in STOPWORDS or len(w) < 2:
            continue
        out.append(_stem(w))
    return out


def first_words(text: str, n: int) -> str:
    """The first ``n`` whitespace-separated words of ``text``."""
    parts = text.split(None, n)
    return " ".join(parts[:n])


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order, duplicates dropped."""
    seen: set[str] = set()
    out: list[str] = []
    for it in items:
        if it not in seen:
            seen.add(it)
            out.append(it)
    return out
