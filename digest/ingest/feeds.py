"""Parse fetched feed bytes (RSS 0.9x/2.0, RSS 1.0/RDF, Atom, JSON Feed) into FeedEntry values.

feedparser does the format work; this module adds what a mail digest needs on top:

* a safety pass before feedparser sees the bytes: the DOCTYPE (and with it every ENTITY
  declaration: billion laughs, quadratic blowup, external entities/XXE) is removed, and a
  document whose entity declarations cannot be removed safely is refused. feedparser is always
  handed a byte stream, never a string it could take for a file name or URL;
* clear errors for what is not a feed (an HTML page, JSON, plain text, broken XML);
* clean values: one-line plain-text titles, plain-text summaries without scripts, absolute
  http(s) links, aware UTC dates with future dates clamped to now, guids that are unique within
  the feed even when every item reuses one link.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import logging
import re
import unicodedata
import xml.sax
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from digest.errors import FeedError
from digest.ingest.fastfeed import parse_fast
from digest.ingest.limits import MAX_NAME_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS, cut_at_word
from digest.intel.text import QUOTE_MARK
from digest.models import FeedEntry

log = logging.getLogger("digest.feeds")

__all__ = ["ParsedFeed", "clean_line", "content_hash", "html_to_text", "parse_feed"]

MAX_SUMMARY_CHARS = 50_000
MAX_KEY_CHARS = MAX_URL_CHARS  # guid and link columns hold 2048

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "section", "article", "header", "footer", "hr", "dd", "dt", "figure",
    "figcaption", "aside", "nav", "details", "summary",
}
_SKIP_TAGS = {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head"}


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed: its title and home link, and its entries (newest ``max_entries``).

    ``hashes`` holds each entry's :func:`content_hash`, in entry order.
    """

    title: str
    link: str
    entries: list[FeedEntry]
    hashes: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- text helpers
class _TextParser(HTMLParser):
    """HTML → text: drops scripts/styles, breaks lines at block elements, decodes entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0  # inside a blockquote: lines are marked, a summary never quotes them
        self._pre = 0  # inside <pre>: line breaks are the text's own

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "blockquote":
            self._quote += 1
        elif tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "blockquote":
            self._quote = max(0, self._quote - 1)
            self.parts.append("\n")
        elif tag == "pre":
            self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if not self._pre and "\n" in data:
            data = data.replace("\r", " ").replace("\n", " ")  # in HTML a line break in text is a space
        if self._quote and data.strip():
            at_line_start = not self.parts or self.parts[-1].endswith("\n")
            lines = data.split("\n")
            data = "\n".join(QUOTE_MARK + ln.lstrip() if ln.strip() and (i or at_line_start) else ln
                              for i, ln in enumerate(lines))
        self.parts.append(data)


_WRAPPED = re.compile(r"(?:\S+[ \t]+){7}\S*[a-z,]\r?\n(?=[ \t]*[A-Za-z0-9])")


def _unwrap(text: str) -> str:
    """Plain text hard-wrapped inside its sentences: a line of eight words or more that stops in
    mid-sentence (a lower-case word or a comma) runs on into the next line."""
    if "\n" not in text:
        return text
    return _WRAPPED.sub(lambda m: m.group(0).rstrip("\r\n") + " ", text)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: paragraphs on their own lines, spaces collapsed.

    A line break inside the text of an element is a space, as a browser shows it (not in <pre>);
    text without markup keeps its lines, except where they wrap a sentence.
    """
    if "<" not in html:
        text = unescape(html) if "&" in html else html  # no markup: what the parser would give, cheaper
        text = _unwrap(text)
    else:
        parser = _TextParser()
        try:
            parser.feed(html)
            parser.close()
        except (AssertionError, ValueError):  # pragma: no cover - HTMLParser is lenient
            pass
        text = "".join(parser.parts)
    lines = (re.sub(r"[^\S\n]+", " ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # Unicode categories Cc, Zl and Zp
_SPACES = re.compile(r"\s+")


def clean_line(text: str) -> str:
    """One line of plain text: tags stripped, entities decoded, all whitespace (CR/LF too) collapsed."""
    if "<" in text:
        text = html_to_text(text)
    elif "&" in text:
        text = unescape(text)
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def content_hash(entry: FeedEntry) -> str:
    """Stable SHA-256 (hex) of the normalised title and summary; dedup key when feeds reuse links."""
    def norm(s: str) -> str:
        return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s)).strip().casefold()

    return hashlib.sha256(f"{norm(entry.title)}\n{norm(entry.summary)}".encode()).hexdigest()


# ----------------------------------------------------------------------------- safety pass
_ENTITY_RE = re.compile(r"<!\s*ENTITY", re.IGNORECASE)


def _prolog_end(text: str) -> tuple[int, list[tuple[int, int]]]:
    """Scan the prolog: return (index of the root element or junk, [(start, end) of DOCTYPEs])."""
    i, n = 0, len(text)
    doctypes: list[tuple[int, int]] = []
    while i < n:
        c = text[i]
        if c in " \t\r\n\ufeff":
            i += 1
        elif text.startswith("\xef\xbb\xbf", i):  # a UTF-8 BOM seen through a latin-1 view
            i += 3
        elif text.startswith("<?", i):
            j = text.find("?>", i + 2)
            i = n if j < 0 else j + 2
        elif text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            i = n if j < 0 else j + 3
        elif text[i:i + 9].upper() == "<!DOCTYPE":
            j = _doctype_end(text, i + 9)
            doctypes.append((i, j))
            i = j
        else:
            break
    return i, doctypes


def _doctype_end(text: str, i: int) -> int:
    """End of a DOCTYPE declaration, honouring quotes, an internal subset and comments in it."""
    n, depth, quote = len(text), 0, ""
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif depth and text.startswith("<!--", i):
            j = text.find("-->", i + 4)
            i = n if j < 0 else j + 3
            continue
        elif c in "\"'":
            quote = c
        elif c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == ">" and not depth:
            return i + 1
        i += 1
    return n


def _declared_encoding(data: bytes, content_type: str) -> str | None:
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "utf-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if data[:4] in (b"\x00<\x00?", b"<\x00?\x00"):
        return "utf-16-be" if data[0] == 0 else "utf-16-le"
    m = re.search(rb"""^[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""", data[:300])
    if m:
        return m.group(1).decode("ascii")
    return _charset(content_type)


def _charset(content_type: str) -> str | None:
    """The charset a Content-Type header names, if any."""
    m = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]{1,40})", content_type or "", re.IGNORECASE)
    return m.group(1) if m else None


def _defuse(url: str, data: bytes, content_type: str) -> bytes:
    """Remove DOCTYPEs (and their entity declarations) from the prolog; refuse what can't be removed."""
    view = data.decode("latin-1")  # 1:1 with the bytes for any ASCII-compatible encoding
    end, doctypes = _prolog_end(view)
    for start, stop in reversed(doctypes):
        view = view[:start] + view[stop:]
    if doctypes:
        data = view.encode("latin-1")
        end, _ = _prolog_end(view)
    if _ENTITY_RE.search(view[:end]):
        raise FeedError(url, "refused: the feed declares XML entities outside a DOCTYPE")
    # feedparser re-decodes with the declared encoding; look at the prolog as it will see it
    enc = _declared_encoding(data, content_type)
    if enc:
        try:
            other = data.decode(enc, errors="replace")
        except LookupError:
            other = ""
        if other and other != view:
            o_end, o_doctypes = _prolog_end(other)
            if o_doctypes and any(_ENTITY_RE.search(other[a:b]) for a, b in o_doctypes):
                raise FeedError(url, f"refused: the feed declares XML entities (in {enc} encoding)")
            if _ENTITY_RE.search(other[:o_end]):
                raise FeedError(url, "refused: the feed declares XML entities")
    return data


def _sniff(url: str, data: bytes, content_type: str) -> str:
    """'xml', 'json' or raise FeedError for what is plainly not a feed."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise FeedError(url, "not a feed: the response is empty")
    if head[:1] in (b"{", b"["):
        return "json"
    text = head.decode("latin-1")
    end, doctypes = _prolog_end(text)
    if any(text[a:b].lower().startswith("<!doctype html") for a, b in doctypes) or \
            re.match(r"<(html|head|body)\b", text[end:]):
        raise FeedError(url, "not a feed: the server returned an HTML page")
    if "html" in content_type.lower() and not re.match(r"<(rss|feed|rdf:rdf|channel)\b", text[end:]):
        raise FeedError(url, "not a feed: the server returned an HTML page")
    return "xml"


# ----------------------------------------------------------------------------- values
_ABSOLUTE = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?", re.IGNORECASE)


def _link(base: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        return ""
    if _ABSOLUTE.fullmatch(raw) and "/." not in raw and len(raw) <= MAX_KEY_CHARS:
        return raw  # already absolute, nothing to join (the common case)
    link = urljoin(base, re.sub(r"\s+", "", raw))
    if urlsplit(link).scheme.lower() not in ("http", "https"):
        return ""
    if len(link) > MAX_URL_CHARS:  # cut, it would lead nowhere; the entry keeps its feed text
        log.warning("%s: link of %d characters dropped (at most %d)", base, len(link), MAX_URL_CHARS)
        return ""
    return link


def _date(parsed: Any, now: datetime) -> datetime | None:
    if not parsed:
        return None
    try:
        when = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return min(when, now)


def _iso_date(raw: Any, now: datetime) -> datetime | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return min(when, now)


def _summary_text(raw: str) -> str:
    text = html_to_text(raw)
    return text[:MAX_SUMMARY_CHARS]


def _finish(url: str, title: str, link: str, raw: list[FeedEntry], max_entries: int) -> ParsedFeed:
    """Make guids unique within the feed, drop exact repeats, keep the newest ``max_entries``."""
    seen: set[str] = set()
    seen_full: set[tuple[str, str]] = set()
    entries: list[FeedEntry] = []
    hashes: list[str] = []
    for e in raw:
        h = content_hash(e)
        guid = e.guid or e.link or f"sha256:{h}"
        if len(guid) > MAX_KEY_CHARS:
            guid = f"sha256:{hashlib.sha256(guid.encode()).hexdigest()}"
        if (guid, h) in seen_full:
            continue  # the very same item twice
        seen_full.add((guid, h))
        if guid in seen:
            guid = f"{guid[:MAX_KEY_CHARS - 20]}#{h[:16]}"
        seen.add(guid)
        entries.append(FeedEntry(feed_url=url, guid=guid, link=e.link, title=e.title, published=e.published,
                                 summary=e.summary, author=e.author))
        hashes.append(h)
    if len(entries) > max_entries:
        floor = datetime.min.replace(tzinfo=UTC)
        keep = set(sorted(range(len(entries)), key=lambda i: entries[i].published or floor,
                          reverse=True)[:max_entries])
        entries = [e for i, e in enumerate(entries) if i in keep]
        hashes = [h for i, h in enumerate(hashes) if i in keep]
    return ParsedFeed(title=cut_at_word(title, MAX_NAME_CHARS), link=link, entries=entries, hashes=hashes)


def _entry_title(title: str, summary: str) -> str:
    if title:
        return title
    if summary:
        first = clean_line(summary)
        return first if len(first) <= 100 else first[:99].rsplit(" ", 1)[0] + "…"
    return ""


def _entry(url: str, title: str, link: Any, guid: str, body: str, published: datetime | None,
           author: str) -> FeedEntry:
    """A clean FeedEntry from raw values (either parser's)."""
    summary = _summary_text(body)
    return FeedEntry(feed_url=url, guid=re.sub(r"\s+", " ", guid).strip(), link=_link(url, link),
                     title=cut_at_word(_entry_title(clean_line(title), summary), MAX_TITLE_CHARS),
                     published=published, summary=summary, author=cut_at_word(clean_line(author), MAX_NAME_CHARS))


def _parse_json(url: str, data: bytes, max_entries: int) -> ParsedFeed:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedError(url, f"invalid JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise FeedError(url, "not a feed: the server returned JSON that is not a JSON Feed")
    now = datetime.now(UTC)
    items = doc.get("items") if isinstance(doc.get("items"), list) else []
    raw: list[FeedEntry] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = _link(url, item.get("url") or item.get("external_url"))
        body = item.get("content_html") or item.get("content_text") or item.get("summary") or ""
        summary = _summary_text(body if isinstance(body, str) else "")
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = next((a.get("name", "") for a in authors if isinstance(a, dict)), "")
        raw.append(FeedEntry(
            feed_url=url, guid=str(item.get("id") or "").strip(), link=link,
            title=_entry_title(clean_line(str(item.get("title") or "")), summary),
            published=_iso_date(item.get("date_published") or item.get("date_modified"), now),
            summary=summary, author=clean_line(str(author or "")),
        ))
    return _finish(url, clean_line(str(doc.get("title") or "")), _link(url, doc.get("home_page_url")) or url,
                   raw, max_entries)


def _first_error_line(exc: BaseException | None) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        return f"{exc.getMessage()} at line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
    text = str(exc or "unknown error").strip().splitlines()
    return re.sub(r"\s+", " ", text[0] if text else type(exc).__name__)[:200]


def parse_feed(url: str, content: bytes, *, content_type: str = "", max_entries: int = 100,
               fast: bool = True) -> ParsedFeed:
    """Parse one fetched feed; raise FeedError with a one-line reason when it is not a usable feed.

    Plain RSS/RDF/Atom documents take the lxml fast path (:mod:`.fastfeed`); anything it declines,
    and every document when ``fast`` is false, goes through feedparser.

    An empty but valid feed gives a ParsedFeed without entries. Entries keep feed order; when there
    are more than ``max_entries`` the newest are kept.
    """
    kind = _sniff(url, content, content_type)
    if kind == "json":
        return _parse_json(url, content, max_entries)
    data = _defuse(url, content, content_type)
    quick = parse_fast(data, url, _charset(content_type)) if fast else None
    if quick is not None:
        return _finish(url, clean_line(quick.title), _link(url, quick.link) or url,
                       [_entry(url, e.title, e.link, e.guid, e.body, e.published, e.author) for e in quick.entries],
                       max_entries)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    d = feedparser.parse(io.BytesIO(data), response_headers=headers)
    version = d.get("version", "")
    feed = d.get("feed", {})
    if not version and not d.entries:
        if isinstance(d.get("bozo_exception"), xml.sax.SAXException):
            raise FeedError(url, f"invalid XML: {_first_error_line(d.get('bozo_exception'))}")
        raise FeedError(url, "not a feed: no RSS, Atom or RDF document found")
    if d.get("bozo") and not d.entries and isinstance(d.get("bozo_exception"), xml.sax.SAXException):
        raise FeedError(url, f"invalid XML: {_first_error_line(d.get('bozo_exception'))}")

    now = datetime.now(UTC)
    raw: list[FeedEntry] = []
    for e in d.entries:
        body = ""
        for c in e.get("content") or []:
            if len(c.get("value", "")) > len(body):
                body = c.get("value", "")
        if not body:
            body = e.get("summary", "") or e.get("description", "")
        link = e.get("link")
        if not _link(url, link) and e.get("guidislink"):
            link = e.get("id")
        published = (_date(e.get("published_parsed"), now) or _date(e.get("updated_parsed"), now)
                     or _date(e.get("created_parsed"), now))
        raw.append(_entry(url, e.get("title", ""), link, str(e.get("id") or ""), body, published,
                          e.get("author", "") or ""))
    return _finish(url, clean_line(feed.get("title", "")), _link(url, feed.get("link")) or url, raw,
                   max_entries)
