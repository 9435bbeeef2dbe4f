"""Feed lists: OPML, TOML, CSV and plain text, lenient and strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import ConfigError
from digest.ingest.feedlist import FeedSpec, load_feeds_toml, normalise_url, read_feed_list

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_opml_nested_outlines_and_bad_entries() -> None:
    specs, problems = read_feed_list(FIXTURES / "list_small.opml")
    assert specs == [
        FeedSpec("https://news.example.org/feed.xml", "Example News", "news", "News"),
        FeedSpec("http://deep.example.net/rss", "Deep Feed", "news", "News / Nested folder"),
        FeedSpec("http://vendor.example.com/blog/atom", "Vendor Blog", "vendor", "Vendors"),
        FeedSpec("https://cert.example.gov/advisories.xml", "Gov Advisories", "government", "Vendors"),
    ]
    joined = "\n".join(problems)
    assert len(problems) == 5, joined
    assert all(p.startswith("list_small.opml line ") and "\n" not in p for p in problems)
    assert "duplicate of line 6: https://news.example.org/feed.xml" in joined
    assert "unsupported scheme 'file'" in joined
    assert "not a URL" in joined and "alerts@example.org" in joined
    assert "'No URL at all' has no xmlUrl" in joined
    assert "unknown kind 'blog'" in joined


def test_opml_entities_not_expanded() -> None:
    try:
        specs, _problems = read_feed_list(FIXTURES / "list_entities.opml")
    except ConfigError as exc:
        assert "entit" in str(exc)
        return
    assert {s.url for s in specs} == {"https://safe.example.org/feed", "https://laughs.example.org/feed"}
    assert all("root:" not in s.name and "lollol" not in s.name for s in specs)


def test_plain_text_list() -> None:
    specs, problems = read_feed_list(FIXTURES / "list_plain.txt")
    assert specs == [
        FeedSpec("https://news.example.org/feed.xml", "Example News"),
        FeedSpec("http://deep.example.net/rss"),
        FeedSpec("https://third.example.com/atom.xml"),
        FeedSpec("https://fourth.example.com/rss"),
    ]
    assert problems == [
        "list_plain.txt line 6: unsupported scheme 'ftp': 'ftp://files.example.org/feed.xml'",
        "list_plain.txt line 7: not a URL (no http:// or https://): 'not'",
        "list_plain.txt line 8: duplicate of line 2: https://news.example.org/feed.xml",
    ]


def test_csv_list() -> None:
    specs, problems = read_feed_list(FIXTURES / "list_plain.csv")
    assert specs == [FeedSpec("https://alpha.example.org/feed.xml", "Alpha Blog", category="Analyst")]
    assert len(problems) == 3
    assert "unsupported scheme 'javascript'" in problems[0]
    assert problems[1] == "list_plain.csv line 4: row has no url"
    assert "duplicate of line 2" in problems[2]


def test_toml_list_lenient() -> None:
    specs, problems = read_feed_list(FIXTURES / "list_bad_feeds.toml")
    assert [s.url for s in specs] == ["https://good.example.org/feed", "https://typo.example.org/feed2"]
    assert len(problems) == 5
    assert any("(Broken Scheme): unsupported scheme 'file'" in p for p in problems)
    assert any("(No URL): missing url" in p for p in problems)
    assert any("(Bad kind): unknown kind 'blog'" in p for p in problems)
    assert any("(Typo key): unknown key 'ulr'" in p for p in problems)
    assert any("(Good again): duplicate of [[feed]] #1" in p for p in problems)


def test_load_feeds_toml_strict_ok() -> None:
    assert load_feeds_toml(FIXTURES / "list_feeds.toml") == [
        FeedSpec("https://news.example.org/feed.xml", "Example News", "news"),
        FeedSpec("https://vendor.example.com/blog/atom", "Example Vendor", "vendor"),
        FeedSpec("https://cert.example.gov/advisories.xml", "", "government"),
    ]
    assert read_feed_list(FIXTURES / "list_feeds.toml") == (load_feeds_toml(FIXTURES / "list_feeds.toml"), [])


def test_load_feeds_toml_strict_names_the_bad_entry() -> None:
    with pytest.raises(ConfigError) as info:
        load_feeds_toml(FIXTURES / "list_bad_feeds.toml")
    msg = str(info.value)
    assert "[[feed]] #2 (Broken Scheme)" in msg and "unsupported scheme 'file'" in msg and "\n" not in msg


@pytest.mark.parametrize("text, needle", [
    ("[[feed]\nurl = 1", "invalid TOML"),
    ('feed = "x"', "[[feed]] tables"),
    ('title = "x"\n[[feed]]\nurl = "https://a.example/"', "unknown key 'title'"),
    ('[[feed]]\nurl = 5', "must be strings"),
])
def test_load_feeds_toml_errors(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_feeds_toml(path)


def test_missing_file_and_broken_opml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_feed_list(tmp_path / "nope.opml")
    bad = tmp_path / "bad.opml"
    bad.write_text("<html><body>not opml</body></html>")
    with pytest.raises(ConfigError, match="not an OPML file"):
        read_feed_list(bad)


def test_opml_with_unescaped_ampersand_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "sloppy.opml"
    path.write_text('<opml version="1.0"><body><outline text="Blue & Purple" type="rss" '
                    'xmlUrl="https://bp.example.org/feed?a=1&b=2"/></body></opml>')
    specs, _problems = read_feed_list(path)
    assert specs == [FeedSpec("https://bp.example.org/feed?a=1&b=2", "Blue & Purple")]


@pytest.mark.parametrize("raw, expected", [
    ("HTTPS://Example.ORG/Feed", "https://example.org/Feed"),
    ("https://example.org", "https://example.org/"),
    ("feed://example.org/rss", "http://example.org/rss"),
    ("https://example.org:8443/rss#top", "https://example.org:8443/rss"),
])
def test_normalise_url(raw: str, expected: str) -> None:
    assert normalise_url(raw) == expected


@pytest.mark.parametrize("raw", ["", "mailto:a@example.org", "https://user:pw@example.org/", "http:///x",
                                 "https://exa mple.org/", "https://example.org:99999/"])
def test_normalise_url_refuses(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(raw)


def _corpus_lists() -> list[Path]:
    return sorted((SHARED / "corpus" / "feedlists").rglob("*.opml.xml"))


@pytest.mark.skipif(not _corpus_lists(), reason=f"no shared OPML lists under {SHARED}/corpus/feedlists")
@pytest.mark.parametrize("path", _corpus_lists(), ids=lambda p: p.name)
def test_shared_corpus_opml(path: Path) -> None:
    specs, problems = read_feed_list(path)
    assert len(specs) >= 200
    assert all(s.url.startswith(("http://", "https://")) for s in specs)
    assert len({s.url for s in specs}) == len(specs)
    assert sum(1 for s in specs if s.name) > len(specs) * 0.9
    assert all("\n" not in p for p in problems)
