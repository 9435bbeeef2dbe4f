"""End to end on real parts: local feeds over HTTP -> poll -> dry run -> send via aiosmtpd -> send again.

Uses the project's own demo feeds (config/demo) and a programmable local server for bad feeds.
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT, SmtpSink, write_config
from httpserver import LocalHTTPServer

from digest.cli.main import cli
from digest.ops.demo import demo_feed_urls, serve_demo
from digest.store import Store

BOILERPLATE = ("Subscribe below", "Advertisements", "Share on", "Related articles", "Copyright")
GOOD_RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good Feed</title><link>http://x/</link>
<item><title>Akira ransomware gang hits a logistics firm</title><link>http://127.0.0.1:9/nowhere-1</link>
<guid>good-1</guid><description>The Akira ransomware gang claimed an attack on a logistics firm in Ohio on
Monday, leaking 40 GB of data. The company said its operations were restored within two days.</description>
</item></channel></rss>"""


def run(config_file: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--config", str(config_file), *args], catch_exceptions=False)
    return result


@pytest.fixture
def demo_env(tmp_path: Path, smtp_server: SmtpSink):  # type: ignore[no-untyped-def]
    with serve_demo() as base:
        feeds = "".join(f'[[feed]]\nname = "{n}"\nurl = "{u}"\nkind = "{k}"\n\n' for u, n, k in demo_feed_urls(base))
        (tmp_path / "feeds.toml").write_text(feeds)
        cfg = write_config(tmp_path, f'[smtp]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\n')
        yield cfg, tmp_path


def test_demo_feeds_poll_compose_send_exactly_once(demo_env, smtp_server: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    cfg, tmp = demo_env
    polled = run(cfg, "poll")
    assert polled.exit_code == 0, polled.output
    m = re.search(r"polled (\d+) feeds: (\d+) updated, (\d+) not modified, (\d+) failed; (\d+) new articles",
                  polled.output)
    assert m and m.group(1) == "4" and m.group(4) == "0" and int(m.group(5)) >= 12, polled.output

    # a second poll finds nothing new
    again = run(cfg, "poll")
    assert "0 new articles" in again.output

    out = tmp / "dry"
    dry = run(cfg, "send", "--dry-run", "--out", str(out))
    assert dry.exit_code == 0, dry.output
    html = (out / "digest.html").read_text()
    text = (out / "digest.txt").read_text()
    eml = BytesParser(policy=policy.default).parsebytes((out / "digest.eml").read_bytes())
    assert "would go to 0 confirmed subscribers" in dry.output
    assert smtp_server.messages == []  # a dry run sends nothing
    # one actor section for the four names of Jewelbug, with who calls it what
    assert "Jewelbug" in html and "Earth Alux" in html
    assert "THREAT ACTORS" in text
    for phrase in BOILERPLATE:
        assert phrase not in text, phrase
    assert eml.get_content_type() == "multipart/alternative"
    assert "/unsubscribe/" in str(eml["List-Unsubscribe"])

    for addr in ("a@example.org", "b@example.org"):
        assert run(cfg, "subscribe", "--confirmed", addr).exit_code == 0
    sent = run(cfg, "send")
    assert sent.exit_code == 0, sent.output
    assert "sent 2" in sent.output
    assert sorted(r for _f, to, _d in smtp_server.messages for r in to) == ["a@example.org", "b@example.org"]
    msg = smtp_server.parsed()[0]
    assert msg.is_multipart() and msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    second = run(cfg, "send")
    assert second.exit_code == 0
    assert "nothing new since the last issue" in second.output
    assert len(smtp_server.messages) == 2


def test_bad_feeds_are_reported_and_the_run_goes_on(tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/good.xml", body=GOOD_RSS, headers={"Content-Type": "application/rss+xml"})
    http_server.route("/html.xml", body=b"<!doctype html><html><body><h1>Welcome</h1></body></html>",
                      headers={"Content-Type": "text/html"})
    http_server.route("/invalid.xml", body=(ROOT / "tests" / "fixtures" / "feeds" / "invalid.xml").read_bytes(),
                      headers={"Content-Type": "application/rss+xml"})
    http_server.route("/empty.xml", body=b"<?xml version='1.0'?><rss version='2.0'><channel><title>E</title>"
                      b"</channel></rss>", headers={"Content-Type": "application/rss+xml"})
    http_server.route("/slow.xml", body=GOOD_RSS, delay=8.0)
    feeds = {"good": "/good.xml", "html": "/html.xml", "missing": "/404[/x].xml", "invalid": "/invalid.xml",
             "empty": "/empty.xml", "slow": "/slow.xml"}
    toml = "".join(f'[[feed]]\nname = "{n}"\nurl = "{http_server.url(p)}"\n\n' for n, p in feeds.items())
    (tmp_path / "feeds.toml").write_text(toml)
    cfg = write_config(tmp_path, "[feeds]\ntimeout_seconds = 2.0\nfetch_pages = false\n"
                                 "allow_private_networks = false\n")
    # the test server is on loopback, which the SSRF guard refuses unless private networks are
    # allowed; the refusal itself is tested below
    cfg_text = cfg.read_text().replace("allow_private_networks = false", "allow_private_networks = true")
    cfg.write_text(cfg_text)
    result = run(cfg, "poll")
    assert result.exit_code == 1, result.output  # some feeds failed
    assert re.search(r"polled 6 feeds: 2 updated, 0 not modified, 4 failed; 1 new articles", result.output), \
        result.output
    out = result.output
    assert "html.xml" in out and "HTML" in out
    assert "404" in out
    assert "invalid.xml" in out
    assert "timed out" in out
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    rows = {r.name: r for r in store.feed_rows()}
    assert rows["good"].article_count == 1 and rows["good"].last_error is None
    assert rows["empty"].last_error is None and rows["empty"].consecutive_failures == 0
    for bad in ("html", "missing", "invalid", "slow"):
        assert rows[bad].consecutive_failures == 1 and rows[bad].last_error, bad
    assert "\n" not in (rows["html"].last_error or "")


def test_a_feed_on_a_private_address_is_refused_when_private_networks_are_off(
        tmp_path: Path, http_server: LocalHTTPServer) -> None:
    http_server.route("/good.xml", body=GOOD_RSS, headers={"Content-Type": "application/rss+xml"})
    (tmp_path / "feeds.toml").write_text(f'[[feed]]\nname = "loop"\nurl = "{http_server.url("/good.xml")}"\n\n'
                                         '[[feed]]\nname = "meta"\nurl = "http://169.254.169.254/latest/"\n')
    cfg = write_config(tmp_path, "[feeds]\nallow_private_networks = false\n")
    cfg.write_text(cfg.read_text().replace("allow_private_networks = true", "allow_private_networks = false"))
    result = run(cfg, "poll")
    assert result.exit_code == 2  # every feed failed
    assert "2 failed" in result.output and "0 new articles" in result.output
    assert "loopback" in result.output and "allow_private_networks" in result.output
    assert http_server.hits("/good.xml") == 0  # refused before connecting


def test_demo_issue_matches_the_expectations(demo_env) -> None:  # type: ignore[no-untyped-def]
    """Actors (all names of one actor in one group, no traps), topics and multi-source stories."""
    import tomllib
    from datetime import timedelta

    from digest.config import load_config
    from digest.issue.build import load_records, prepare
    from digest.store import utcnow

    cfg_file, _tmp = demo_env
    assert run(cfg_file, "poll").exit_code == 0
    config = load_config(cfg_file, env={})
    store = Store.open(config)
    exp = tomllib.loads((ROOT / "tests" / "data" / "demo_expectations.toml").read_text())
    records = {r.url.rsplit("/", 1)[-1].removesuffix(".html"): r
               for r in load_records(store, config, utcnow() - timedelta(days=3), utcnow() + timedelta(hours=1))}
    assert set(records) == {p["slug"] for p in exp["page"]}
    problems = []
    actor_ids: dict[str, set[str]] = {}
    for page in exp["page"]:
        rec = records[page["slug"]]
        names = {a.name for a in rec.actors} | {al.name for a in rec.actors for al in a.aliases} | \
                {m for a in rec.actors for m in a.mentions}
        for key in page["actors"]:
            wanted = set(exp["actors"][key]["names"])
            hits = [a for a in rec.actors if ({a.name} | {x.name for x in a.aliases} | set(a.mentions)) & wanted]
            if not hits:
                problems.append(f"{page['slug']}: missed {key}")
            actor_ids.setdefault(key, set()).update(a.id for a in hits)
        if not page["actors"] and rec.actors:
            problems.append(f"{page['slug']}: trap acquired {[a.name for a in rec.actors]}")
        for bad in page.get("not_actors", []):
            if bad in {m for a in rec.actors for m in a.mentions}:
                problems.append(f"{page['slug']}: reported {bad!r}")
        if rec.topic not in page["topics_ok"] and not page["actors"]:
            problems.append(f"{page['slug']}: topic {rec.topic} not in {page['topics_ok']}")
        if sorted(rec.cves) != sorted(page["cves"]):
            problems.append(f"{page['slug']}: cves {rec.cves} != {page['cves']}")
        del names
    for key, ids in actor_ids.items():
        if len(ids) > 1:
            problems.append(f"actor {key} split into {sorted(ids)}")
    issue = prepare(store, config).content
    stories = [s for sec in issue.sections for s in sec.stories]
    by_slug = {aid: s for s in stories for aid in s.article_ids}
    slug_id = {slug: r.id for slug, r in records.items()}
    for key, story in exp["stories"].items():
        ids = {slug_id[s] for s in story["slugs"]}
        keys = {by_slug[i].key for i in ids if i in by_slug}
        if len(keys) != 1:
            problems.append(f"story {key} is {len(keys)} items")
    assert not problems, "\n".join(problems)


def test_send_with_the_relay_down_fails_fast_and_resumes_later(demo_env, smtp_server: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    from conftest import free_port

    cfg, _tmp = demo_env
    assert run(cfg, "poll").exit_code == 0
    assert run(cfg, "subscribe", "--confirmed", "a@example.org").exit_code == 0
    good = cfg.read_text()
    cfg.write_text(good.replace(f"port = {smtp_server.port}", f"port = {free_port()}"))
    down = CliRunner().invoke(cli, ["--config", str(cfg), "send"])
    assert down.exit_code != 0
    assert "cannot reach the SMTP server" in down.output and "resume" in down.output
    assert len([ln for ln in down.output.splitlines() if ln.startswith("Error")]) == 1
    cfg.write_text(good)
    up = run(cfg, "send")
    assert up.exit_code == 0 and "resumed issue" in up.output and "sent 1" in up.output
    assert [to for _f, to, _d in smtp_server.messages] == [["a@example.org"]]


@pytest.mark.parametrize("analyse", [True, False])
def test_polling_step_alone_stores_the_feed_text_without_analysis(tmp_path: Path, http_server: LocalHTTPServer,
                                                                   analyse: bool) -> None:
    from sqlalchemy import func, select

    from digest.config import load_config
    from digest.ingest.feedlist import FeedSpec
    from digest.ingest.poll import poll
    from digest.store import Article, ArticleActor

    http_server.route("/good.xml", body=GOOD_RSS, headers={"Content-Type": "application/rss+xml"})
    cfg_file = write_config(tmp_path, "[feeds]\nfetch_pages = false\nallow_private_networks = true\n"
                                      "[summarizer]\nwhen = \"poll\"\n")
    config = load_config(cfg_file, env={})
    store = Store.open(config)
    report = poll(store, config, feed_specs=[FeedSpec(http_server.url("/good.xml"))], analyse=analyse)
    assert report.new_articles == 1
    with store.session() as s:
        art = s.scalars(select(Article)).one()
        actors = s.scalar(select(func.count()).select_from(ArticleActor))
    assert "Akira ransomware gang claimed" in art.text
    steps = {"actors", "topic", "summarize"}
    if analyse:
        assert art.summary and art.topic == "ransomware" and actors == 1
        assert steps <= report.stage_seconds.keys()  # each analysis step is timed on its own
        assert all(report.stage_seconds[k] > 0 for k in steps)
    else:
        assert art.summary == "" and art.topic == "other" and actors == 0
        assert not steps & report.stage_seconds.keys()


def test_by_default_poll_stores_no_summary_and_the_issue_summarizes_what_it_shows(
        tmp_path: Path, http_server: LocalHTTPServer) -> None:
    """summarizer.when = "compose" (the default): the summary work is done for the stories an issue holds."""
    from sqlalchemy import select

    from digest.config import load_config
    from digest.ingest.feedlist import FeedSpec
    from digest.ingest.poll import poll
    from digest.issue.build import prepare
    from digest.store import Article

    http_server.route("/good.xml", body=GOOD_RSS, headers={"Content-Type": "application/rss+xml"})
    cfg_file = write_config(tmp_path, "[feeds]\nfetch_pages = false\nallow_private_networks = true\n")
    config = load_config(cfg_file, env={})
    assert config.summarizer.when == "compose"
    store = Store.open(config)
    report = poll(store, config, feed_specs=[FeedSpec(http_server.url("/good.xml"))])
    assert report.new_articles == 1 and "summarize" not in report.stage_seconds
    with store.session() as s:
        art = s.scalars(select(Article)).one()
    assert art.summary == "" and art.topic == "ransomware"
    story = prepare(store, config).content.sections[0].stories[0]
    assert story.summary and "Akira" in story.summary and story.summary.split()[0] in art.text
    with store.session() as s:  # composing writes nothing
        assert s.scalars(select(Article)).one().summary == ""


def test_a_summary_that_fails_at_composition_leaves_that_story_without_one_and_the_issue_goes_on(
        tmp_path: Path, http_server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    from digest.config import load_config
    from digest.ingest.feedlist import FeedSpec
    from digest.ingest.poll import poll
    from digest.intel import summarize as summarize_mod
    from digest.issue.build import prepare

    two = GOOD_RSS.replace(b"</channel>", b"<item><title>Water utility hit by a phishing campaign</title>"
                                          b"<link>http://127.0.0.1:9/nowhere-2</link><guid>good-2</guid><description>"
                                          b"A water utility in Oregon said a phishing campaign reached 40 staff "
                                          b"mailboxes last week.</description></item></channel>")
    http_server.route("/good.xml", body=two, headers={"Content-Type": "application/rss+xml"})
    config = load_config(write_config(tmp_path, "[feeds]\nfetch_pages = false\nallow_private_networks = true\n"),
                         env={})
    store = Store.open(config)
    assert poll(store, config, feed_specs=[FeedSpec(http_server.url("/good.xml"))]).new_articles == 2
    real = summarize_mod.ExtractiveSummarizer.summarize

    def flaky(self, title, text, *, key_terms=()):  # type: ignore[no-untyped-def]
        if "Akira" in title:
            raise ValueError("a text the summarizer chokes on")
        return real(self, title, text, key_terms=key_terms)

    monkeypatch.setattr(summarize_mod.ExtractiveSummarizer, "summarize", flaky)
    stories = {s.headline: s for sec in prepare(store, config).content.sections for s in sec.stories}
    assert set(stories) == {"Akira ransomware gang hits a logistics firm", "Water utility hit by a phishing campaign"}
    assert stories["Akira ransomware gang hits a logistics firm"].summary == ""
    assert "phishing campaign" in stories["Water utility hit by a phishing campaign"].summary
    assert any("summary failed for article" in r.getMessage() for r in caplog.records)


def test_a_poll_with_nothing_new_starts_no_pool_and_loads_no_links(tmp_path: Path, http_server: LocalHTTPServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.config import load_config
    from digest.ingest import poll as poll_mod
    from digest.ingest.feedlist import FeedSpec

    http_server.route("/good.xml", body=GOOD_RSS, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'},
                      not_modified_etag='"v1"')
    cfg_file = write_config(tmp_path, "[feeds]\nfetch_pages = false\nallow_private_networks = true\n")
    config = load_config(cfg_file, env={})
    store = Store.open(config)
    spec = [FeedSpec(http_server.url("/good.xml"))]
    starts: list[bool] = []
    real_start = poll_mod._Pool.start
    monkeypatch.setattr(poll_mod._Pool, "start", lambda self: starts.append(True) or real_start(self))
    assert poll_mod.poll(store, config, feed_specs=spec).new_articles == 1
    assert starts == [True]  # a new entry to analyse: the pool starts (and loads the stored links)
    starts.clear()
    again = poll_mod.poll(store, config, feed_specs=spec)
    assert again.not_modified == 1 and again.new_articles == 0
    assert starts == []  # nothing new: no pool, no analyzer, no stored links loaded
