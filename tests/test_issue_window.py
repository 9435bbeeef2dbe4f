"""The window an issue covers (`send --dry-run --since`, the first issue of a new install), and the
archive page that lists what did not fit the mail. Real SQLite store, the real CLI and web app."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from click.testing import CliRunner, Result
from conftest import write_config

from digest.cli.main import cli
from digest.config import Config, load_config
from digest.store import Article, Issue, Store, utcnow

# (hours before now it was published, headline, text): distinct events, so each is its own story
ITEMS = [
    (240, "Ransomware Gang Leaks Files of a Dutch Port Operator",
     ("A ransomware gang published files it says it stole from a Dutch port operator; the operator confirmed "
     "the attack and said cargo handling was not affected.")),
    (120, "Court Sentences Two Men for Running a Phishing Kit Service",
     "A court sentenced two men who sold phishing kits to hundreds of customers; police seized the servers."),
    (30, "Retail Chain Confirms Theft of Loyalty Card Data",
     ("A retail chain said attackers copied names and email addresses of loyalty card holders from a "
     "marketing database.")),
    (2, "Hospital Network Restores Systems After Weekend Outage",
     ("A hospital network restored its patient systems after an outage caused by an intrusion on Saturday; "
     "ambulances were diverted for a day.")),
]


def seed(store: Store, now: datetime, *, fetched_hours_ago: float = 0.05) -> None:
    """A new install's first poll: weeks of backlog fetched at once, published over ten days."""
    feed, _ = store.add_feed("https://news.example/feed", "News Wire")
    with store.session() as s:
        for i, (hours, title, text) in enumerate(ITEMS):
            s.add(Article(feed_id=feed.id, guid=f"g{i}", url=f"https://news.example/{i}", title=title, text=text,
                          summary=text.split("; ")[0] + ".", content_hash=f"h{i}",
                          published_at=now - timedelta(hours=hours),
                          fetched_at=now - timedelta(hours=fetched_hours_ago), topic="other", cves=[]))


def run(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)


def headlines_in(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    return {title for _h, title, _t in ITEMS if title in text}


def test_first_issue_takes_the_last_first_issue_hours_and_since_takes_the_window(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    store = Store.open(load_config(str(cfg)))
    seed(store, utcnow())
    store.close()
    titles = [t for _h, t, _x in ITEMS]

    def dry(*extra: str) -> set[str]:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        r = run(cfg, "send", "--dry-run", "--no-poll", "--out", str(out), *extra)
        assert r.exit_code == 0, r.output
        return headlines_in(out / "digest.txt")

    assert dry() == {titles[3]}  # newsletter.first_issue_hours = 24, not the whole backlog
    assert dry("--since", "36h") == {titles[2], titles[3]}
    assert dry("--since", "7d") == {titles[1], titles[2], titles[3]}
    assert dry("--since", "2w") == set(titles)
    day = (utcnow() - timedelta(days=3)).strftime("%Y-%m-%d")  # midnight (schedule.timezone) three days back
    assert dry("--since", day) == {titles[2], titles[3]}

    (tmp_path / "wide").mkdir()  # the same database, a first issue of two days
    wide = write_config(tmp_path / "wide", "[newsletter]\nfirst_issue_hours = 48\n",
                        db_url=f"sqlite:///{tmp_path / 'digest.db'}")
    out = tmp_path / "wide-out"
    r = run(wide, "send", "--dry-run", "--no-poll", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert headlines_in(out / "digest.txt") == {titles[2], titles[3]}


def test_since_needs_dry_run_and_a_readable_window(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    for bad in ("yesterday", "7x", "2026-13-45"):
        r = run(cfg, "send", "--dry-run", "--no-poll", "--since", bad)
        assert r.exit_code == 1 and "give a duration (7d, 36h, 90m, 2w) or a date" in r.output, r.output
        assert "Traceback" not in r.output
    future = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d")
    r = run(cfg, "send", "--dry-run", "--no-poll", "--since", future)
    assert r.exit_code == 1 and "is not in the past" in r.output
    r = run(cfg, "send", "--no-poll", "--since", "7d")
    assert r.exit_code == 2 and "needs --dry-run" in r.output


def test_the_archive_page_lists_the_stories_that_did_not_fit_the_mail(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from digest.issue import build as issues
    from digest.web import create_app

    cfg = write_config(tmp_path, "[newsletter]\nmax_stories = 2\nbase_url = \"https://digest.example.org\"\n")
    config: Config = load_config(str(cfg))
    store = Store.open(config)
    now = utcnow()
    seed(store, now, fetched_hours_ago=0.05)
    prepared = issues.prepare(store, config, now, since=now - timedelta(days=11))
    assert prepared.content.counts["stories"] == 2 and len(prepared.content.more) == 2
    issue = issues.create(store, config, prepared)
    with store.session() as s:
        row = s.get(Issue, issue.id)
        assert row is not None
        row.status, row.sent_at = "sent", now
    archive = f"https://digest.example.org/archive/{issue.id}"
    assert f'href="{archive}"' in issue.html and "2 more stories in this issue" in issue.html
    hidden = [s.headline for s in prepared.content.more]
    assert not any(h in issue.html for h in hidden)  # the mail has only the count
    with TestClient(create_app(config, store), base_url="https://digest.example.org") as client:
        page = client.get(f"/archive/{issue.id}")
    assert page.status_code == 200
    for _h, title, _t in ITEMS:
        assert title in page.text
    assert "%%" not in page.text
    store.close()
