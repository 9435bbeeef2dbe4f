"""`digest status`: feeds, issues, deliveries and subscribers at a glance."""

from __future__ import annotations

from statistics import median
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from .context import AppContext
from .store import Delivery, Issue, utcnow


def print_status(app: AppContext, console: Console) -> None:
    store = app.open_store()
    cfg = app.config
    now = utcnow()
    rows = store.feed_rows(now)
    table = Table(title="Feeds")
    for col in ("feed", "last success", "last error", "fails", "7 days", "latency"):
        table.add_column(col, overflow="fold")
    flagged = 0
    for r in rows:
        bad = r.consecutive_failures >= cfg.feeds.failure_alert_threshold
        flagged += bad
        table.add_row(("[red]! [/]" if bad else "") + (r.name or r.url),
                      r.last_success_at.strftime("%Y-%m-%d %H:%M") if r.last_success_at else "never",
                      (r.last_error or "")[:50], str(r.consecutive_failures), str(r.recent_count),
                      f"{r.last_latency_ms} ms" if r.last_latency_ms is not None else "")
    console.print(table)
    lat = [r.last_latency_ms for r in rows if r.last_latency_ms is not None]
    console.print(f"{len(rows)} feeds, {flagged} flagged (>= {cfg.feeds.failure_alert_threshold} failures in a row)"
                  + (f", median latency {median(lat):.0f} ms" if lat else ""))
    with store.session() as s:
        last: Any = s.scalar(select(Issue).order_by(Issue.id.desc()).limit(1))
        deliveries = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    if last is not None:
        console.print(f"last issue: #{last.id} {last.issue_date} ({last.status}, {last.story_count} stories)")
    else:
        console.print("last issue: none yet")
    console.print(f"next issue: daily at {cfg.schedule.send_time} {cfg.schedule.timezone}")
    console.print("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(deliveries.items())) or "none"))
    subs = store.subscriber_counts()
    console.print("subscribers: " + (", ".join(f"{k} {v}" for k, v in sorted(subs.items())) or "none"))
