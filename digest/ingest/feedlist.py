"""Read lists of feeds: OPML, TOML ``[[feed]]`` tables, CSV with a URL column, or plain text.

:func:`read_feed_list` is lenient, for importing lists found in the wild: every outline, table,
row or line that cannot be used is skipped and reported as a one-line problem, and the rest are
returned. :func:`load_feeds_toml` is strict, for the project's own ``config/feeds.toml``: the
first bad entry raises :class:`ConfigError` naming it.

OPML is parsed with lxml without DTD loading, network access or entity expansion, after any
DOCTYPE has been removed, so a hostile list cannot read files or blow up memory.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from dataclasses import dataclass
from html.entities import name2codepoint
from pathlib import Path
from typing import Any

from lxml import etree

from digest.errors import ConfigError
from digest.ingest.rules import MAX_RULES, compile_rule
from digest.ingest.urls import feed_key, normalise_url
from digest.textfile import looks_binary

__all__ = ["KINDS", "FeedSpec", "configured_feeds", "feeds_file", "guess_kind", "load_feeds_toml", "normalise_url",
           "read_feed_list"]

KINDS = ("news", "vendor", "government")
MAX_FILE_BYTES = 20_000_000
_FEED_KEYS = {"url", "name", "kind", "category", "drop", "keep"}
_STR_KEYS = ("url", "name", "kind", "category")
_URL_COLUMNS_ORDER = ("feed_url", "xmlurl", "url", "feed", "rss")
_URL_COLUMNS = set(_URL_COLUMNS_ORDER)
_BARE_AMP = re.compile(rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")


@dataclass(frozen=True)
class FeedSpec:
    """One feed to poll: its URL, an optional display name and its kind (news, vendor, government)."""

    url: str
    name: str = ""
    kind: str = "news"
    category: str = ""
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    def rules(self) -> dict[str, list[str]] | None:
        """The drop/keep rules as stored on the feed row (None: no rules)."""
        return {"drop": list(self.drop), "keep": list(self.keep)} if self.drop or self.keep else None


_VENDOR = re.compile(r"\bvendors?\b", re.IGNORECASE)
_GOVERNMENT = re.compile(r"\b(government|gov|cert|csirt|lea|advisor(y|ies))\b", re.IGNORECASE)


def guess_kind(category: str) -> str:
    """The kind a list's category names ("Vendors & Product Blogs" → vendor), else news."""
    if _GOVERNMENT.search(category):
        return "government"
    if _VENDOR.search(category):
        return "vendor"
    return "news"


def _key(url: str) -> str:
    """Duplicate key: scheme-insensitive, trailing slash ignored."""
    return feed_key(url)


def _kind(raw: Any) -> str:
    kind = str(raw or "news").strip().lower()
    if kind not in KINDS:
        raise ValueError(f"unknown kind {raw!r} (expected {', '.join(KINDS)})")
    return kind


def _clean_name(raw: Any) -> str:
    return re.sub(r"\s+", " ", str(raw or "")).strip()[:300]


class _Collector:
    """Accumulates specs, skipping duplicates and recording problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.specs: list[FeedSpec] = []
        self.problems: list[str] = []
        self._seen: dict[str, tuple[str, int]] = {}

    def add(self, where: str, url: Any, name: Any = "", kind: Any = None, category: Any = "",
            drop: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> None:
        shown = re.sub(r"\s+", " ", str(url or ""))[:120]
        cat = _clean_name(category)
        try:
            clean = normalise_url(str(url or ""))
            k = _kind(kind) if kind else guess_kind(cat)
        except ValueError as exc:
            self.problem(where, f"{exc}: {shown!r}" if shown else str(exc))
            return
        key = _key(clean)
        if key in self._seen:
            first, index = self._seen[key]
            kept = self.specs[index]
            if clean.startswith("https:") and kept.url.startswith("http:"):  # the https form is kept
                self.specs[index] = FeedSpec(clean, kept.name, kept.kind, kept.category, kept.drop, kept.keep)
                self.problem(where, f"duplicate of {first}: {kept.url} (the https:// form is kept)")
            else:
                self.problem(where, f"duplicate of {first}: {clean}")
            return
        self._seen[key] = (where, len(self.specs))
        self.specs.append(FeedSpec(url=clean, name=_clean_name(name), kind=k, category=cat, drop=drop, keep=keep))

    def problem(self, where: str, reason: str) -> None:
        self.problems.append(f"{self.source} {where}: {reason}")


# ----------------------------------------------------------------------------- formats
def _strip_doctype(data: bytes) -> bytes:
    """Remove DOCTYPE declarations (with any entity declarations) from the prolog."""
    from digest.ingest.feeds import _prolog_end  # one prolog scanner for feeds and lists

    view = data.decode("latin-1")
    _end, doctypes = _prolog_end(view)
    for start, stop in reversed(doctypes):
        view = view[:start] + view[stop:]
    end, _ = _prolog_end(view)
    if re.search(r"<!\s*ENTITY", view[:end], re.IGNORECASE):
        raise ConfigError("feed list: refused: XML entity declarations are not allowed")
    return view.encode("latin-1")


def _xml_entities(data: bytes) -> bytes:
    """Bare ``&`` escaped and HTML named entities (``&nbsp;``, ``&eacute;``) turned into characters:
    hand-written OPML has both, and XML knows neither."""
    data = _BARE_AMP.sub(b"&amp;", data)

    def named(m: re.Match[bytes]) -> bytes:
        name = m.group(1).decode("ascii")
        if name in ("amp", "lt", "gt", "quot", "apos") or name not in name2codepoint:
            return m.group(0)
        return f"&#{name2codepoint[name]};".encode("ascii")

    return re.sub(rb"&([A-Za-z][A-Za-z0-9]*);", named, data)


def _read_opml(data: bytes, out: _Collector) -> None:
    try:
        data = _strip_doctype(data)
    except ConfigError:
        raise ConfigError(f"feed list {out.source}: refused: XML entity declarations are not allowed") from None
    data = _xml_entities(data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, recover=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:  # a truncated or broken list: nothing of it is imported
        raise ConfigError(f"feed list {out.source}: invalid XML: {str(exc).splitlines()[0]}") from None
    if root is None or not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise ConfigError(f"feed list {out.source}: not an OPML file (no <opml> root element)")
    _outlines(root, (), out)


def _outlines(parent: Any, folders: tuple[str, ...], out: _Collector) -> None:
    """Walk the outlines; a feed's category is the path of the folders it sits in (or its own
    ``category`` attribute)."""
    for el in parent:
        if not isinstance(el.tag, str):
            continue
        if etree.QName(el).localname.lower() != "outline":
            _outlines(el, folders, out)  # <body>, or an unknown wrapper
            continue
        attrs = {k.lower(): v for k, v in el.attrib.items() if isinstance(k, str)}
        where = f"line {el.sourceline}"
        label = _clean_name(attrs.get("text") or attrs.get("title"))
        url = attrs.get("xmlurl")
        if url is None:
            typ = attrs.get("type", "").lower()
            if typ in ("rss", "atom") and attrs.get("url"):
                url = attrs["url"]
            elif len(el) == 0 and typ in ("rss", "atom", "feed"):
                out.problem(where, f"outline {label!r} has no xmlUrl")
                continue
            else:  # a folder (or a plain link, which has no children)
                _outlines(el, (*folders, label) if label else folders, out)
                continue
        name = attrs.get("title") or attrs.get("text") or ""
        category = attrs.get("category") or " / ".join(folders)
        out.add(where, url, name, attrs.get("kind"), category.strip("/ "))


def _read_toml_tables(data: bytes, out: _Collector, *, strict: bool) -> None:
    try:
        doc = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"feeds file {out.source}: invalid TOML: {exc}") from None
    extra = set(doc) - {"feed"}
    if extra and strict:
        raise ConfigError(f"feeds file {out.source}: unknown key {min(extra)!r} (expected [[feed]] tables)")
    tables = doc.get("feed", [])
    if not isinstance(tables, list):
        raise ConfigError(f"feeds file {out.source}: 'feed' must be [[feed]] tables")
    for i, table in enumerate(tables, 1):
        where = f"[[feed]] #{i}"
        if not isinstance(table, dict):
            out.problem(where, "not a table")
            continue
        label = table.get("name") or table.get("url") or ""
        if label:
            where += f" ({_clean_name(label)[:60]})"
        unknown = set(table) - _FEED_KEYS
        if unknown:
            out.problem(where, f"unknown key {min(unknown)!r} (expected url, name, kind, category, drop, keep)")
            if strict:
                continue
        if "url" not in table:
            out.problem(where, "missing url")
            continue
        if not all(isinstance(table.get(k, ""), str) for k in _STR_KEYS):
            out.problem(where, "url, name, kind and category must be strings")
            continue
        try:
            drop, keep = _rule_list(table, "drop"), _rule_list(table, "keep")
        except ValueError as exc:
            out.problem(where, str(exc))
            continue
        out.add(where, table["url"], table.get("name", ""), table.get("kind"), table.get("category", ""),
                drop, keep)


def _rule_list(table: dict[str, Any], key: str) -> tuple[str, ...]:
    rules = table.get(key, [])
    if isinstance(rules, str):
        rules = [rules]
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise ValueError(f"{key} must be a list of strings (keywords, or /regular expressions/)")
    if len(rules) > MAX_RULES:
        raise ValueError(f"{key}: more than {MAX_RULES} rules")
    for r in rules:
        try:
            compile_rule(r)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return tuple(rules)


def _read_csv(text: str, out: _Collector) -> None:
    rows = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(rows, [])]
    url_col = next((header.index(c) for c in _URL_COLUMNS_ORDER if c in header), None)
    if url_col is None:
        raise ConfigError(f"feed list {out.source}: CSV has no url column (feed_url, xmlUrl or url)")
    name_col = next((header.index(c) for c in ("name", "title") if c in header), None)
    kind_col = header.index("kind") if "kind" in header else None
    cat_col = next((header.index(c) for c in ("category", "group", "folder", "type") if c in header), None)
    for n, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"line {n}"
        if len(row) <= url_col:
            out.problem(where, "row has no url")
            continue
        name = row[name_col] if name_col is not None and name_col < len(row) else ""
        kind = row[kind_col] if kind_col is not None and kind_col < len(row) else None
        category = row[cat_col] if cat_col is not None and cat_col < len(row) else ""
        out.add(where, row[url_col], name, kind or None, category)


def _read_text(text: str, out: _Collector) -> None:
    for n, line in enumerate(text.splitlines(), 1):
        line = re.split(r"\s#", line, maxsplit=1)[0].strip()
        if not line or line.startswith("#"):
            continue
        url, _, name = line.partition(" ")
        if "\t" in url:
            url, _, name = line.partition("\t")
        out.add(f"line {n}", url, name.strip())


def _load(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"feed list {path}: not found") from None
    except OSError as exc:
        raise ConfigError(f"feed list {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"feed list {path}: larger than {MAX_FILE_BYTES} bytes")
    return data


def read_feed_list(path: Path) -> tuple[list[FeedSpec], list[str]]:
    """Read an OPML, TOML, CSV or plain-text feed list; return (specs, one-line problems).

    The format is chosen by content (``<`` → OPML, ``[[feed]]`` → TOML) and then by suffix
    (``.csv``). Unusable entries are reported, not raised; an unreadable or unparsable file as a
    whole raises :class:`ConfigError`.
    """
    path = Path(path)
    data = _load(path)
    out = _Collector(path.name)
    if looks_binary(data):
        raise ConfigError(f"feed list {path.name}: not a text file (binary data); expected OPML, "
                          f"a feeds.toml, CSV or one URL a line")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        _read_opml(data, out)
    elif path.suffix.lower() == ".toml" or re.search(rb"^\s*\[\[\s*feed\s*\]\]", data, re.MULTILINE):
        _read_toml_tables(data, out, strict=False)
    else:
        text = data.decode("utf-8-sig", errors="replace")
        first = next(csv.reader([text.lstrip().split("\n", 1)[0]]), [])
        if path.suffix.lower() == ".csv" or _URL_COLUMNS & {c.strip().lower() for c in first}:
            _read_csv(text, out)
        else:
            _read_text(text, out)
    return out.specs, out.problems


def load_feeds_toml(path: Path | str) -> list[FeedSpec]:
    """Load ``[[feed]]`` tables (url, name, kind, category, drop, keep) strictly: the first bad entry raises ConfigError."""
    path = Path(path)
    out = _Collector(str(path))
    _read_toml_tables(_load(path), out, strict=True)
    if out.problems:
        raise ConfigError(f"feeds file {out.problems[0]}")
    return out.specs


def feeds_file(config: Any) -> Path | None:
    """The configured feeds file, or None for ``[feeds] file = ""`` (no file: the database alone)."""
    return config.feeds_path() if str(config.feeds.file).strip() else None


def configured_feeds(config: Any) -> list[FeedSpec] | None:
    """The feeds file's feeds (strict), or None when there is no file (``""`` or not found)."""
    path = feeds_file(config)
    if path is None or not path.exists():
        return None
    return load_feeds_toml(path)
