"""Preferences honoured by the send: followed actors/topics only, weekly, and the local delivery hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import SmtpSink

from digest.config import Config
from digest.mail.ledger import DeliveryLedger
from digest.mail.send import send_due, send_issue
from digest.store import Article, Store

APT29_TEXT = ("APT29, the Russian espionage group that Microsoft tracks as Midnight Blizzard, sent wine-tasting "
              "invitations to diplomats at 14 European embassies in November, according to a report published "
              "by Sample Labs on Tuesday. The emails carried a loader that side-loads a malicious DLL. "
              "Sample Labs said the campaign was still active.")
VPN_TEXT = ("Arcline disclosed CVE-2026-41234, a critical flaw in its SecureEdge VPN appliances that attackers are "
            "actively exploiting in the wild, and released fixes on Monday. The national CERT added the bug to its "
            "catalogue of known exploited vulnerabilities. Administrators were told to patch within a week.")


def seed(store: Store, now: datetime) -> None:
    feed, _ = store.add_feed("https://news.example/feed", "News Wire")
    with store.session() as s:
        for i, (title, text) in enumerate([("APT29 Targets Diplomats With Wine-Tasting Invitations", APT29_TEXT),
                                           ("Arcline VPN Zero-Day CVE-2026-41234 Exploited in the Wild", VPN_TEXT)]):
            s.add(Article(feed_id=feed.id, guid=f"g{i}", url=f"https://news.example/{i}", title=title, text=text,
                          summary=text.split(". ")[0] + ".", content_hash=f"h{i}", published_at=now - timedelta(hours=2),
                          fetched_at=now - timedelta(hours=1), topic="exploited" if i else "other",
                          cves=["CVE-2026-41234"] if i else [], exploited=bool(i)))


def sub(store: Store, email: str, prefs: dict[str, object] | None = None) -> int:
    s, _ = store.add_subscriber(email, confirmed=True)
    if prefs is not None:
        store.set_preferences(s.id, prefs)
    return s.id


def html_of(msg) -> str:  # type: ignore[no-untyped-def]
    return next(p.get_payload(decode=True).decode() for p in msg.walk() if p.get_content_type() == "text/html")


def test_variants_weekly_and_local_hour(smtp_config: Config, smtp_server: SmtpSink) -> None:
    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # a Thursday, 07:00 UTC
    store = Store.open(smtp_config)
    seed(store, now)
    sub(store, "all@example.org")
    sub(store, "apt29@example.org", {"mode": "custom", "actors": ["apt29"], "countries": [], "topics": []})
    sub(store, "ransomware@example.org", {"mode": "custom", "actors": [], "countries": [], "topics": ["ransomware"]})
    sub(store, "weekly-monday@example.org", {"mode": "all", "frequency": "weekly", "weekday": 0})
    sub(store, "weekly-thursday@example.org", {"mode": "all", "frequency": "weekly", "weekday": 3})
    late = sub(store, "berlin-18h@example.org", {"mode": "all", "hour": 18, "timezone": "Europe/Berlin"})

    outcome = send_issue(store, smtp_config, respect_hours=True, now=now, processes=1)
    assert outcome.report is not None
    got = {to[0] for _f, to, _d in smtp_server.messages}
    assert got == {"all@example.org", "apt29@example.org", "weekly-thursday@example.org"}
    everything = html_of(smtp_server.to("all@example.org")[0])
    assert "APT29" in everything and "CVE-2026-41234" in everything
    only_actor = html_of(smtp_server.to("apt29@example.org")[0])
    assert "APT29" in only_actor and "CVE-2026-41234" not in only_actor
    assert "Arcline" not in only_actor
    counts = DeliveryLedger(store, outcome.issue_id).counts()
    assert counts == {"sent": 3, "skipped": 2}  # nothing followed today; weekly on another day

    # the Berlin reader's hour has not come: nothing more at 10:00 UTC, then at 17:00 UTC (18:00 CET)
    assert send_due(store, smtp_config, now + timedelta(hours=3)).report is None
    due = send_due(store, smtp_config, now.replace(hour=17))
    assert due.report is not None and due.report.sent == 1
    assert len(smtp_server.to("berlin-18h@example.org")) == 1
    assert send_due(store, smtp_config, now.replace(hour=17, minute=30)).report is None  # exactly once
    assert store.subscriber(id=late).status == "confirmed"


def test_dry_run_previews_one_subscribers_version(smtp_config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from digest.errors import DigestError
    from digest.issue.build import dry_run

    now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    store = Store.open(smtp_config)
    seed(store, now)
    sub(store, "apt29@example.org", {"mode": "custom", "actors": ["apt29"], "countries": [], "topics": []})
    sub(store, "weekly-monday@example.org", {"mode": "all", "frequency": "weekly", "weekday": 0})
    result = dry_run(store, smtp_config, tmp_path / "p", now=now, to="apt29@example.org")
    html = result.html.read_text()
    assert "APT29" in html and "CVE-2026-41234" not in html
    assert "apt29@example.org" in result.eml.read_text()
    full = dry_run(store, smtp_config, tmp_path / "f", now=now)
    assert "CVE-2026-41234" in full.html.read_text()
    with pytest.raises(DigestError, match="would get nothing today"):
        dry_run(store, smtp_config, tmp_path / "w", now=now, to="weekly-monday@example.org")
    with pytest.raises(DigestError, match="not a subscriber"):
        dry_run(store, smtp_config, tmp_path / "x", now=now, to="nobody@example.org")
    from digest.store import Delivery

    with store.session() as s:
        assert s.query(Delivery).count() == 0
