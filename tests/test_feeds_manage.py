"""Issue 17, feeds: the feeds file as source of truth, garbage in, URL identity, `feeds add` checks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import write_config
from httpserver import LocalHTTPServer

from digest.cli.main import cli
from digest.config import load_config
from digest.ingest.feedlist import read_feed_list
from digest.ingest.poll import poll
from digest.ingest.urls import feed_key, normalise_url
from digest.store import Article, Feed, Store

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
RSS = ("<?xml version='1.0'?><rss version='2.0'><channel><title>{title}</title><link>http://x/</link>{items}"
       "</channel></rss>")
ITEM = "<item><title>{t}</title><link>http://127.0.0.1:9/{g}</link><guid>{g}</guid><description>{d}</description></item>"


def rss(title: str, *items: tuple[str, str, str]) -> bytes:
    return RSS.format(title=title, items="".join(ITEM.format(t=t, g=g, d=d) for t, g, d in items)).encode()


def run(config_file: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config_file), *args], catch_exceptions=False)


def listing(config_file: Path, *extra: str) -> dict[str, dict[str, object]]:
    result = run(config_file, "feeds", "list", "--json", *extra)
    assert result.exit_code == 0, result.output
    return {row["url"]: row for row in map(json.loads, result.stdout.splitlines())}


def feeds_toml(tmp_path: Path, *feeds: tuple[str, str]) -> None:
    (tmp_path / "feeds.toml").write_text("".join(f'[[feed]]\nname = "{n}"\nurl = "{u}"\n\n' for n, u in feeds))


# ---- item 1: the feeds file decides for the feeds it lists ----------------------------------------
def test_a_feed_taken_out_of_the_file_stops_being_polled_and_keeps_its_articles(
        tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/a.xml", body=rss("A", ("Akira hits a port", "a-1", "Akira ransomware hit a port.")))
    http_server.route("/b.xml", body=rss("B", ("LockBit returns", "b-1", "LockBit is back with a new site.")))
    http_server.route("/c.xml", body=rss("C"))
    cfg_file = write_config(tmp_path, "[feeds]\nfetch_pages = false\n")
    feeds_toml(tmp_path, ("A", http_server.url("/a.xml")), ("B", http_server.url("/b.xml")))
    assert "added" in run(cfg_file, "feeds", "add", http_server.url("/c.xml")).output  # by command
    assert run(cfg_file, "poll").exit_code == 0
    assert http_server.hits("/b.xml") == 1

    feeds_toml(tmp_path, ("A", http_server.url("/a.xml")))  # B deleted from the file
    assert run(cfg_file, "poll").exit_code == 0
    assert http_server.hits("/b.xml") == 1, "a feed deleted from the file is still polled"
    assert http_server.hits("/a.xml") == 2
    assert http_server.hits("/c.xml") == 3  # `feeds add` fetched it once, then both polls: the command's feed stays
    rows = listing(cfg_file)
    b = rows[http_server.url("/b.xml")]
    assert (b["origin"], b["state"], b["articles"]) == ("file", "removed", 1)  # its article is kept
    assert rows[http_server.url("/a.xml")]["origin"] == "file"
    assert (rows[http_server.url("/c.xml")]["origin"], rows[http_server.url("/c.xml")]["state"]) == ("command", "ok")

    # a feed of the file is removed in the file, not by command; one added by command is removed by command
    refused = CliRunner().invoke(cli, ["--config", str(cfg_file), "feeds", "remove", http_server.url("/a.xml")])
    assert refused.exit_code == 1 and "listed in the feeds file" in refused.output
    assert "no longer polled" in run(cfg_file, "feeds", "remove", http_server.url("/c.xml")).output
    feeds_toml(tmp_path, ("A", http_server.url("/a.xml")), ("B", http_server.url("/b.xml")))  # B back in the file
    assert listing(cfg_file)[http_server.url("/b.xml")]["state"] == "ok"


def test_each_demo_on_a_new_port_leaves_no_stale_demo_feeds(tmp_path: Path) -> None:
    """`make demo` rewrites its feeds file with the new port; a database that uses the file follows it."""
    from digest.ops.demo import demo_feed_urls, write_demo_config

    cfg_file = write_demo_config(tmp_path, "http://127.0.0.1:41001")
    first = listing(cfg_file)
    write_demo_config(tmp_path, "http://127.0.0.1:41002")  # the next `make demo`, the same database
    active = listing(cfg_file, "--active")
    assert set(active) == {u for u, _n, _k in demo_feed_urls("http://127.0.0.1:41002")}
    assert len(active) == len(first) and all(":41002/" in u for u in active)


def test_feeds_from_before_origins_were_kept_become_file_or_command_without_stopping(config_file: Path) -> None:
    store = Store.open(load_config(config_file, env={}))
    for url in ("https://listed.example/feed", "https://added.example/feed"):
        store.add_feed(url)
    with store.session() as s:  # as migration 0005 leaves rows it cannot place
        for f in s.query(Feed):
            f.origin = ""
    feeds_toml(config_file.parent, ("Listed", "https://listed.example/feed"))
    rows = listing(config_file)
    assert rows["https://listed.example/feed"]["origin"] == "file"
    assert (rows["https://added.example/feed"]["origin"], rows["https://added.example/feed"]["active"]) == \
        ("command", True)


# ---- item 6: garbage in is an error -------------------------------------------------------------
@pytest.mark.parametrize(("content", "expected"), [
    (random.Random(17).randbytes(6000), "not a text file"),
    ((b"<?xml version='1.0'?><opml version='2.0'><body><outline text='A' xmlUrl='https://a.example/f'/>"
      b"<outline text='B' xmlUrl='https://b.exa"), "invalid XML"),
    (b"<?xml version='1.0'?><opml version='2.0'><head><title>t</title></head><body/></opml>", "no usable feed"),
    (b"", "no usable feed"),
])
def test_feeds_import_of_garbage_is_one_line_and_exit_1(config_file: Path, tmp_path: Path,
                                                        content: bytes, expected: str) -> None:
    bad = tmp_path / "list.opml"
    bad.write_bytes(content)
    result = CliRunner().invoke(cli, ["--config", str(config_file), "feeds", "import", str(bad)])
    assert result.exit_code == 1, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert listing(config_file) == {}


def test_subscribers_import_of_a_binary_file_says_so_without_the_bytes(config_file: Path, tmp_path: Path) -> None:
    blob = tmp_path / "subscribers.csv"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(5000))
    result = CliRunner().invoke(cli, ["--config", str(config_file), "subscribers", "import", str(blob)])
    assert result.exit_code == 1
    assert "not a text file" in result.output and len(result.output.strip().splitlines()) == 1
    assert len(result.output) < 300, result.output


# ---- item 7: one identity per feed; `feeds add` checks what it adds -------------------------------
def test_urls_are_normalised_and_http_https_or_a_trailing_slash_is_one_feed() -> None:
    assert normalise_url("HTTP://Blog.Example.NET:80/Feed.xml?utm_source=x&id=2&fbclid=y#top") == \
        "http://blog.example.net/Feed.xml?id=2"
    assert normalise_url("https://h.example:443/") == "https://h.example/"
    assert normalise_url("https://h.example:8443/rss") == "https://h.example:8443/rss"
    assert normalise_url("example.org/feed", assume_https=True) == "https://example.org/feed"
    with pytest.raises(ValueError):
        normalise_url("example.org/feed")  # only `feeds add` assumes https
    assert feed_key("http://h.example/feed/") == feed_key("https://h.example/feed")
    assert feed_key("https://h.example/feed?a=1") != feed_key("https://h.example/feed?a=2")


def test_import_reports_the_duplicates_and_keeps_the_https_form() -> None:
    specs, problems = read_feed_list(FIXTURES / "list_duplicates.opml")
    assert [s.url for s in specs] == ["https://research.example.com/feed", "https://cert.example.gov/alerts.xml?lang=en",
                                      "http://blog.example.net/rss.xml", "https://other.example.org/atom"]
    dups = [p for p in problems if "duplicate of" in p]
    assert len(dups) == 3 and len(problems) == 3, problems
    assert "(the https:// form is kept)" in dups[0]
    assert specs[3].name == "Other Blog Feed"  # an HTML entity in hand-written OPML is read, not an error
    # item 12: the OPML folders are kept as categories, and name the kind where they can
    assert [(s.category, s.kind) for s in specs] == [
        ("Vendors & Product Blogs", "vendor"), ("Government, CERT & Advisories", "government"),
        ("General Security & Blogs", "news"), ("General Security & Blogs", "news")]


def test_feeds_add_of_a_variant_is_already_present(config_file: Path) -> None:
    assert "added" in run(config_file, "feeds", "add", "--no-check", "http://host.example/feed.xml").output
    again = run(config_file, "feeds", "add", "--no-check", "HTTPS://HOST.example/feed.xml/")
    assert "already present: http://host.example/feed.xml" in again.output
    assert "added" in run(config_file, "feeds", "add", "--no-check", "example.org/feed").output
    assert set(listing(config_file)) == {"http://host.example/feed.xml", "https://example.org/feed"}


def test_feeds_add_refuses_what_polling_refuses(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/feed.xml", body=rss("Loop"))
    cfg_file = write_config(tmp_path)
    cfg_file.write_text(cfg_file.read_text().replace("allow_private_networks = true", "allow_private_networks = false"))
    for extra in ((), ("--no-check",)):
        result = CliRunner().invoke(cli, ["--config", str(cfg_file), "feeds", "add", *extra,
                                          http_server.url("/feed.xml")])
        assert result.exit_code == 1 and "loopback" in result.output and "allow_private_networks" in result.output
    assert http_server.hits("/feed.xml") == 0 and listing(cfg_file) == {}


def test_feeds_add_fetches_once_and_finds_a_pages_feed(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/", body=b"<!doctype html><html><head><title>Site</title>"
                      b"<link rel='stylesheet' href='/s.css'>"
                      b"<link rel='alternate' type='application/rss+xml' title='Posts' href='/blog/feed.xml'>"
                      b"</head><body>Hello</body></html>", headers={"Content-Type": "text/html"})
    http_server.route("/blog/feed.xml", body=rss("Site Posts", ("One", "g1", "d"), ("Two", "g2", "d")),
                      headers={"Content-Type": "application/rss+xml"})
    http_server.route("/plain", body=b"<!doctype html><html><body>no feed here</body></html>",
                      headers={"Content-Type": "text/html"})
    cfg_file = write_config(tmp_path)
    result = run(cfg_file, "feeds", "add", http_server.url("/"))
    assert result.exit_code == 0, result.output
    feed_url = http_server.url("/blog/feed.xml")
    assert f"its feed is {feed_url}" in result.output and "'Site Posts': 2 entries" in result.output
    assert listing(cfg_file)[feed_url]["name"] == "Site Posts"
    nothing = CliRunner().invoke(cli, ["--config", str(cfg_file), "feeds", "add", http_server.url("/plain")])
    assert nothing.exit_code == 1 and "without a feed" in nothing.output
    assert set(listing(cfg_file)) == {feed_url}


# ---- item 12: rules per feed in the feeds file, applied at poll --------------------------------
def test_drop_and_keep_rules_apply_at_poll(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/f.xml", body=rss("F", ("Join our webinar", "w1", "Register today."),
                                         ("Webinar: ransomware response", "w2", "How to respond."),
                                         ("APT29 phishes diplomats", "a1", "Midnight Blizzard again."),
                                         ("Sponsored: buy our SIEM", "s1", "A PROMO for you.")))
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "F"\nurl = "{http_server.url("/f.xml")}"\n'
                                         'drop = ["webinar", "/promo/i"]\nkeep = ["ransomware"]\n')
    config = load_config(write_config(tmp_path, "[feeds]\nfetch_pages = false\n"), env={})
    from digest.ingest.feedlist import configured_feeds

    store = Store.open(config)
    report = poll(store, config, feed_specs=configured_feeds(config), analyse=False)
    with store.session() as s:
        titles = sorted(a.title for a in s.query(Article))
    assert titles == ["APT29 phishes diplomats", "Webinar: ransomware response"]
    assert report.dropped == 2 and "2 entries dropped by feed rules" in report.summary()


def test_a_bad_rule_in_the_feeds_file_names_the_feed(tmp_path: Path) -> None:
    from digest.errors import ConfigError
    from digest.ingest.feedlist import load_feeds_toml

    (tmp_path / "feeds.toml").write_text('[[feed]]\nname = "F"\nurl = "https://f.example/rss"\ndrop = ["/(unclosed/"]\n')
    with pytest.raises(ConfigError, match=r"\(F\): drop: bad regular expression"):
        load_feeds_toml(tmp_path / "feeds.toml")


def test_feeds_add_of_a_feed_already_there_fetches_nothing(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/feed.xml", body=rss("Once"))
    cfg_file = write_config(tmp_path)
    assert "added" in run(cfg_file, "feeds", "add", http_server.url("/feed.xml")).output
    again = run(cfg_file, "feeds", "add", http_server.url("/feed.xml/"))
    assert "already present" in again.output and http_server.hits("/feed.xml") == 1
