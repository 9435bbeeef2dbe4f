"""Feed health: flag feeds that keep failing or have gone silent, and tell the operator once.

A feed is flagged when it failed ``failure_alert_threshold`` times in a row, or when nothing new
arrived for longer than both ``silence_alert_days`` and five times its usual gap between new
articles. The operator (``feeds.alert_email``) gets one mail listing the newly flagged feeds;
a feed is not alerted again until it has recovered (``alerted_at`` is cleared on success).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from itertools import pairwise
from statistics import median

from sqlalchemy import select

from digest.config import Config
from digest.errors import MailError
from digest.store import Article, Feed, Store, utcnow

log = logging.getLogger("digest.ops.health")


@dataclass(frozen=True)
class FlaggedFeed:
    feed_id: int
    url: str
    name: str
    reason: str


def usual_gap(times: list[datetime]) -> timedelta | None:
    """Median gap between consecutive article times (None with fewer than three)."""
    times = sorted(times)
    if len(times) < 3:
        return None
    gaps = [(b - a).total_seconds() for a, b in pairwise(times) if b > a]
    return timedelta(seconds=median(gaps)) if gaps else None


def flagged_feeds(store: Store, config: Config, now: datetime | None = None) -> list[FlaggedFeed]:
    now = now or utcnow()
    out: list[FlaggedFeed] = []
    threshold = config.feeds.failure_alert_threshold
    silence = timedelta(days=config.feeds.silence_alert_days)
    with store.session() as s:
        for feed in s.scalars(select(Feed).where(Feed.active.is_(True)).order_by(Feed.id)):
            if feed.consecutive_failures >= threshold:
                out.append(FlaggedFeed(feed.id, feed.url, feed.name,
                                       f"failed {feed.consecutive_failures} times in a row: {feed.last_error}"))
                continue
            last_new = feed.last_new_at
            if last_new is None:
                continue
            times = list(s.scalars(select(Article.published_at).where(Article.feed_id == feed.id,
                                                                     Article.published_at.is_not(None))
                                   .order_by(Article.published_at.desc()).limit(50)))
            gap = usual_gap([t for t in times if t is not None])
            limit = max(silence, 5 * gap) if gap else silence
            if now - last_new > limit:
                days = (now - last_new).days
                out.append(FlaggedFeed(feed.id, feed.url, feed.name, f"nothing new for {days} days"))
    return out


def alert_operator(store: Store, config: Config, now: datetime | None = None) -> list[FlaggedFeed]:
    """Mail the operator about feeds flagged since the last alert; returns the feeds alerted."""
    flagged = flagged_feeds(store, config, now)
    with store.session() as s:
        fresh = [f for f in flagged if (row := s.get(Feed, f.feed_id)) is not None and row.alerted_at is None]
    if not fresh or not config.feeds.alert_email:
        return []
    # imported only to mail (it brings the issue renderer, jinja2, the SMTP client: 0.3 s of every poll)
    from digest.mail.subscribers import send_one

    msg = EmailMessage()
    msg["From"] = config.newsletter.sender
    msg["To"] = config.feeds.alert_email
    msg["Subject"] = f"{config.newsletter.title}: {len(fresh)} feed{'s' if len(fresh) != 1 else ''} need attention"
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid()
    msg["Auto-Submitted"] = "auto-generated"
    lines = [f"- {f.name or f.url}\n  {f.url}\n  {f.reason}" for f in fresh]
    msg.set_content("These feeds were flagged by digest:\n\n" + "\n".join(lines)
                    + "\n\nRun `digest status` for the full picture. You will not be told again about a feed "
                      "until it has recovered.\n")
    try:
        asyncio.run(send_one(config, msg))
    except MailError as exc:
        log.error("feed alert not sent: %s", exc)
        return []
    stamp = now or utcnow()
    with store.session() as s:
        for f in fresh:
            row = s.get(Feed, f.feed_id)
            if row is not None:
                row.alerted_at = stamp
    return fresh
