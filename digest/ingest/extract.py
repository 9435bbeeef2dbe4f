"""Main text of an article page (trafilatura), without the boilerplate a digest must not quote.

:func:`extract_article` is a top-level function over plain values so it can run in a
``ProcessPoolExecutor``. It parses HTML with lxml through trafilatura and never runs scripts.
After trafilatura (no comments, no tables, precision first, recall as a fallback), lines that
are site furniture rather than article text are dropped: subscribe and newsletter boxes,
"Advertisement", share buttons, "Related articles" lists, copyright and cookie notices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura

from digest.errors import ExtractError
from digest.intel.prefilter import might_match, required_literals
from digest.intel.text import QUOTE_MARK

__all__ = ["MAX_HTML_BYTES", "MIN_TEXT_CHARS", "Extracted", "drop_boilerplate", "extract_article"]

MIN_TEXT_CHARS = 200  # less than this is a teaser, a paywall or an error page, not an article
MAX_HTML_BYTES = 3_000_000  # larger inputs are cut before parsing (real articles are far smaller)
_SHORT_LINE = 200  # whole-line boilerplate rules only apply to lines shorter than this
_SHORT_MENTION = 140  # a line this short that mentions "subscribe", "©"... is a box, not a paragraph

# one line is dropped when it matches, if it is short (a real paragraph may say "subscribe")
_BOILERPLATE = re.compile(
    r"""^(?:
        advertisements?|sponsored(?:\s+content)?|ad
      | (?:share|tweet|post|email)\s+(?:this|on|via|to)\b.*|share:?|share\s+this\s+(?:article|post|story):?
      | follow\s+us\b.*|print(?:\s+this)?|copy\s+link
      | (?:related|recommended|popular|trending)\s+(?:articles?|posts?|stories|reading|content|news)\b.*
      | (?:read|see)\s+(?:more|also|next)\b.*|you\s+(?:may|might)\s+also\s+(?:like|be\s+interested)\b.*
      | more\s+from\b.*|view\s+all\s+posts\b.*|tags?:?|categories:?|filed\s+under\b.*
      | this\s+(?:post|article|page)\s+is\s+also\s+available\s+in\b.*
      | (?:get|receive)\s+(?:updates|the\s+latest)\b.*|try\b.{0,60}\bnow!
      | privacy\s+policy|terms\s+of\s+(?:use|service)|cookie\s+settings|back\s+to\s+top
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_BOILERPLATE_ANYWHERE = re.compile(
    r"""\b(?:
        subscribe|unsubscribe|newsletter|sign\s*up\s+(?:for|to)|join\s+our\s+mailing
      | all\s+rights\s+reserved|copyright\s+(?:©|\(c\)|\d{4})|©\s*\d{4}
      | (?:this|our)\s+(?:site|website)\s+uses\s+cookies|cookie\s+(?:policy|settings|preferences|consent)
      | accept\s+(?:all\s+)?cookies|we\s+use\s+cookies
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# one of these occurs (lower-cased) in any line the pattern finds: on an ASCII line (where ignoring
# case is lower-casing) the search runs only when one does, about a third of the lines
_ANYWHERE_LITERALS = required_literals(_BOILERPLATE_ANYWHERE.pattern.lower(), verbose=True)
# a heading after which the rest of the page is lists of other content
_TAIL_START = re.compile(
    r"^(?:related\s+(?:articles?|posts?|stories|reading|content)|you\s+(?:may|might)\s+also\s+like"
    r"|recommended(?:\s+for\s+you)?|read\s+next|more\s+stories|popular\s+(?:posts|articles))\b.{0,40}$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Extracted:
    """The extracted article: plain text (one paragraph per line), title, date, and a note.

    ``note`` is '' for a clean extraction, else why it fell short ("input cut at 3000000 bytes",
    "used the recall fallback", ...).
    """

    text: str
    title: str
    published: datetime | None
    note: str


def drop_boilerplate(text: str) -> str:
    """Remove short site-furniture lines and a trailing 'Related articles' section from ``text``."""
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    total = len(lines)
    kept: list[str] = []
    after_drop = False
    for i, line in enumerate(lines):
        if total > 4 and i >= total * 0.6 and _TAIL_START.match(line):
            break
        if (len(line) < _SHORT_LINE and _BOILERPLATE.match(line.rstrip(" :|»›>-–—"))) or \
                (len(line) < _SHORT_MENTION and _mentions_furniture(line)):
            after_drop = True
            continue
        if after_drop and len(line) < 25 and not line.endswith((".", ":", "?")):
            continue  # the rest of a box split over lines ("Get updates from" / "Palo Alto" / "Networks!")
        after_drop = False
        kept.append(line)
    return "\n".join(kept)


def _mentions_furniture(line: str) -> bool:
    if line.isascii() and not might_match(_ANYWHERE_LITERALS, line.lower()):
        return False
    return _BOILERPLATE_ANYWHERE.search(line) is not None


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return min(when, datetime.now(UTC))


def _run(html: bytes | str, url: str, *, recall: bool, metadata: bool = True) -> tuple[str, str, str | None]:
    # The first, precision pass runs trafilatura's own extractor alone (``fast``: no comparison
    # with readability/justext), which gives the same text on every article page we measured at
    # about 60% of the cost; the recall retry, for pages where that falls short, runs the full
    # cascade.
    doc = trafilatura.bare_extraction(
        html,
        url=url or None,
        fast=not recall,
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        favor_precision=not recall,
        favor_recall=recall,
        with_metadata=metadata,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None or isinstance(doc, dict):  # as_dict is off: a Document or None
        return "", "", None
    return _mark_quotes(doc.text or "", doc.body), doc.title or "", doc.date


def _mark_quotes(text: str, body: object) -> str:
    """Prefix the lines of blockquotes and embedded posts with ``QUOTE_MARK``.

    They stay in the text (actors and stories may be named there) but a summary never quotes them:
    a sentence of a quoted tweet or a pulled quote reads as the digest's own claim.
    """
    if body is None or not text:
        return text
    quoted: set[str] = set()
    for q in body.iter("quote"):  # type: ignore[attr-defined]
        pieces = [q.text or ""]
        for child in q:
            pieces.extend(("".join(child.itertext()), child.tail or ""))
        for piece in pieces:
            for line in piece.splitlines():
                if line.strip():
                    quoted.add(" ".join(line.split()))
    if not quoted:
        return text
    return "\n".join(QUOTE_MARK + ln if " ".join(ln.split()) in quoted else ln for ln in text.split("\n"))


def extract_article(html: bytes | str, url: str, *, metadata: bool = True) -> Extracted:
    """Extract the main text of one page; raise ExtractError when there is no article worth keeping.

    Picklable (top-level, plain arguments and result) for use in a process pool. With
    ``metadata=False`` the page's title and date are not looked for, which halves the cost; the
    poller asks for them only when the feed entry has no date.
    """
    notes: list[str] = []
    size = len(html.encode("utf-8", "ignore")) if isinstance(html, str) else len(html)
    if size > MAX_HTML_BYTES:
        html = html[:MAX_HTML_BYTES]
        notes.append(f"input cut at {MAX_HTML_BYTES} bytes")
    if not html.strip():
        raise ExtractError("empty page")
    try:
        raw, title, date = _run(html, url, recall=False, metadata=metadata)
        text = drop_boilerplate(raw)
        if len(text) < MIN_TEXT_CHARS:
            raw2, title2, date2 = _run(html, url, recall=True, metadata=metadata)
            text2 = drop_boilerplate(raw2)
            if len(text2) > len(text):
                text, title, date = text2, title or title2, date or date2
                notes.append("used the recall fallback")
    except (ValueError, TypeError, RecursionError, UnicodeError) as exc:  # malformed markup
        raise ExtractError(f"could not parse the page: {type(exc).__name__}") from None
    if len(text) < MIN_TEXT_CHARS:
        what = "no article text found" if not text else f"article text too short ({len(text)} chars)"
        raise ExtractError(what)
    return Extracted(text=text, title=re.sub(r"\s+", " ", title).strip(), published=_date(date),
                     note="; ".join(notes))
