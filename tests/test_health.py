"""Feed health: failing and silent feeds are flagged; the operator gets one alert, not one per poll."""

from __future__ import annotations

from datetime import datetime, timedelta

from conftest import SmtpSink

from digest.config import Config
from digest.ops.health import alert_operator, flagged_feeds, usual_gap
from digest.store import Article, Feed, Store, utcnow


def test_usual_gap_is_the_median_gap() -> None:
    now = utcnow()
    assert usual_gap([now, now + timedelta(hours=1)]) is None
    assert usual_gap([now, now + timedelta(hours=1), now + timedelta(hours=2), now + timedelta(hours=12)]) == \
        timedelta(hours=1)


def test_failing_feed_alerts_once_until_it_recovers(smtp_config: Config, smtp_server: SmtpSink) -> None:
    cfg = smtp_config.replace(feeds={"alert_email": "ops@example.org", "failure_alert_threshold": 3})
    store = Store.open(cfg)
    bad, _ = store.add_feed("https://bad.example/feed", "Bad feed")
    store.add_feed("https://good.example/feed", "Good feed")
    with store.session() as s:
        s.get(Feed, bad.id).consecutive_failures = 3
        s.get(Feed, bad.id).last_error = "HTTP 404"
    assert [f.name for f in flagged_feeds(store, cfg)] == ["Bad feed"]
    assert [f.name for f in alert_operator(store, cfg)] == ["Bad feed"]
    assert alert_operator(store, cfg) == []  # second poll: no second mail
    [mail] = smtp_server.to("ops@example.org")
    assert "Bad feed" in mail.get_payload() and "HTTP 404" in mail.get_payload()
    with store.session() as s:  # recovery then a new failure streak alerts again
        row = s.get(Feed, bad.id)
        row.alerted_at = None
    assert len(alert_operator(store, cfg)) == 1
    assert len(smtp_server.to("ops@example.org")) == 2


def _quiet_feed(store: Store, name: str, now: datetime) -> Feed:
    """A feed that had news every 6 hours 40 days ago and nothing new for 39 days."""
    feed, _ = store.add_feed("https://quiet.example/feed", name)
    with store.session() as s:
        for i in range(5):
            t = now - timedelta(days=40) + timedelta(hours=6 * i)
            s.add(Article(feed_id=feed.id, guid=f"g{i}", url=f"https://quiet.example/{i}", title="t",
                          content_hash=f"h{i}", published_at=t, fetched_at=t))
        s.get(Feed, feed.id).last_new_at = now - timedelta(days=39)
    return feed


def test_a_feed_silent_far_longer_than_its_rhythm_is_flagged(config: Config) -> None:
    store = Store.open(config)
    now = utcnow()
    feed = _quiet_feed(store, "Quiet", now)
    [flag] = flagged_feeds(store, config, now)
    assert "nothing new for 39 days" in flag.reason
    with store.session() as s:
        s.get(Feed, feed.id).last_new_at = now - timedelta(days=2)
    assert flagged_feeds(store, config, now) == []


def test_status_flags_silent_and_failing_feeds_and_lists_why(config: Config) -> None:
    from rich.console import Console

    from digest.context import AppContext
    from digest.ops.status import ago, print_status

    app = AppContext(config)
    store = app.open_store()
    now = utcnow()
    quiet = _quiet_feed(store, "Quiet feed", now)
    broken, _ = store.add_feed("https://broken.example/feed", "Broken feed")
    store.add_feed("https://odd.example/feed", "[/oops] [bold]Odd[/bold]")  # a feed's own title is not markup
    with store.session() as s:
        s.get(Feed, quiet.id).last_success_at = now - timedelta(minutes=5)
        row = s.get(Feed, broken.id)
        row.consecutive_failures, row.last_error = 1, "HTTP 503"
    console = Console(record=True, width=80)
    print_status(app, console)
    out = console.export_text()
    assert "Quiet feed: nothing new for 39 days" in out
    assert "Broken feed: HTTP 503" in out
    assert "3 feeds, 1 flagged" in out and "[/oops] [bold]Odd[/bold]" in out
    assert "5 min ago" in out and all(len(line) <= 80 for line in out.splitlines())
    assert ago(now, None) == "never" and ago(now, now - timedelta(days=3)) == "3 d ago"
