"""extract_article on fixture pages and the shared corpus pages."""

from __future__ import annotations

import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import ExtractError
from digest.ingest import extract as extract_mod
from digest.ingest.extract import Extracted, drop_boilerplate, extract_article

PAGES = Path(__file__).parent / "fixtures" / "pages"
SHARED = Path(__file__).resolve().parents[2] / "shared"

BOILERPLATE = [
    "Subscribe to our newsletter", "Sign up for the daily briefing", "Advertisement", "FirewallMax",
    "Share on", "Related articles", "All rights reserved", "Copyright ©", "Accept all cookies",
    "We use cookies", "Privacy policy", "INJECTED BY SCRIPT", "tracker.example", "document.cookie",
    "NOSCRIPT CONTENT",
]


def test_article_with_boilerplate_around_it() -> None:
    html = (PAGES / "article_with_boilerplate.html").read_bytes()
    got = extract_article(html, "https://news.example/storm-0000")
    assert isinstance(got, Extracted) and got.note == ""
    assert got.title == "Storm-0000 targets water utilities with new wiper"
    assert got.published == datetime(2025, 5, 14, tzinfo=UTC)
    assert "previously unknown wiper" in got.text and "offline backups" in got.text
    assert "no impact on water quality" in got.text  # the paragraph after the subscribe box
    for junk in BOILERPLATE:
        assert junk.lower() not in got.text.lower(), junk


def test_str_input_works_too() -> None:
    html = (PAGES / "article_with_boilerplate.html").read_text(encoding="utf-8")
    assert "AquaWipe" in extract_article(html, "https://news.example/a").text


def test_page_without_article_raises() -> None:
    with pytest.raises(ExtractError) as info:
        extract_article((PAGES / "no_article.html").read_bytes(), "https://news.example/login")
    assert "\n" not in str(info.value) and ("too short" in str(info.value) or "no article" in str(info.value))


@pytest.mark.parametrize("html", [b"", b"   ", "<html><body></body></html>", b"\x00\x01\x02 binary"])
def test_empty_or_garbage_raises(html: bytes | str) -> None:
    with pytest.raises(ExtractError):
        extract_article(html, "https://news.example/x")


def test_huge_input_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_mod, "MAX_HTML_BYTES", 200_000)  # keep the test fast; same code path
    cap = extract_mod.MAX_HTML_BYTES
    para = "<p>Case {}: ransomware operators exploited an unpatched appliance and moved laterally.</p>\n"
    count = cap // len(para) + 2000
    html = "<html><body><article><h1>Big</h1>" + "".join(para.format(i) for i in range(count)) + "</article></body></html>"
    got = extract_article(html.encode(), "https://news.example/big")
    assert got.note.startswith(f"input cut at {cap} bytes")
    assert len(got.text) > 1000


def test_drop_boilerplate_lines() -> None:
    text = "\n".join([  # noqa: FLY002 - one line per list item reads better
        "Attackers breached the network through an exposed VPN appliance that had not been patched.",
        "Advertisement",
        "Share on Facebook",
        "Subscribe to our weekly newsletter!",
        "Get updates from", "Acme", "Networks!",
        "The company said customer data was not affected, and it has since reset all credentials.",
        ("Attackers asked victims to subscribe to a fake security alert service, a lure used in several "
         "campaigns this year that investigators say netted thousands of credentials from employees."),
        "Copyright © 2025 Example Media",
        "This site uses cookies to improve your experience.",
        "Related articles",
        "Another breach story",
        "Yet another story",
    ])
    got = drop_boilerplate(text).splitlines()
    assert got == [
        "Attackers breached the network through an exposed VPN appliance that had not been patched.",
        "The company said customer data was not affected, and it has since reset all credentials.",
        ("Attackers asked victims to subscribe to a fake security alert service, a lure used in several "
         "campaigns this year that investigators say netted thousands of credentials from employees."),
    ]


def test_result_and_function_are_picklable() -> None:
    got = extract_article((PAGES / "article_with_boilerplate.html").read_bytes(), "https://news.example/a")
    assert pickle.loads(pickle.dumps(got)) == got
    assert pickle.loads(pickle.dumps(extract_article)) is extract_article
    err = pickle.loads(pickle.dumps(ExtractError("no article text found")))
    assert str(err) == "no article text found"


@pytest.mark.timeout(120)
def test_runs_in_a_process_pool() -> None:
    html = (PAGES / "article_with_boilerplate.html").read_bytes()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        got = pool.submit(extract_article, html, "https://news.example/a").result(timeout=100)
    assert "AquaWipe" in got.text


def _corpus_pages() -> list[Path]:
    return sorted((SHARED / "corpus" / "pages").glob("*.html"))


# boilerplate seen around these pages: never anywhere in the text
CORPUS_BOILERPLATE = [
    "Sign up to receive the latest news", "Get updates from", "View all posts",
    "This post is also available in", "All rights reserved", "Accept all cookies", "This site uses cookies",
    "Cookie Policy", "Try Group-IB Threat Intelligence now",
]
# generic furniture: never a line of its own (the words may appear in article sentences)
CORPUS_BOILERPLATE_LINES = ["advertisement", "share on", "related articles", "subscribe", "tags", "newsletter"]


@pytest.mark.skipif(not _corpus_pages(), reason=f"no shared corpus pages under {SHARED}/corpus/pages")
@pytest.mark.parametrize("path", _corpus_pages(), ids=lambda p: p.name)
def test_shared_corpus_page(path: Path) -> None:
    got = extract_article(path.read_bytes(), f"https://corpus.example/{path.name}")
    assert len(got.text) > 2000 and got.title
    assert len(got.text.split()) > 300
    assert "function(" not in got.text and "{display:" not in got.text  # no scripts or styles
    for junk in CORPUS_BOILERPLATE:
        assert junk.lower() not in got.text.lower(), junk
    for line in got.text.lower().splitlines():
        assert not any(line.startswith(junk) for junk in CORPUS_BOILERPLATE_LINES), line
