"""`digest status`: feeds, issues, deliveries and subscribers at a glance."""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from digest.context import AppContext
from digest.mail.ledger import DeliveryLedger
from digest.mail.subscribers import owed_confirmations
from digest.ops.health import flagged_feeds
from digest.store import Delivery, Issue, utcnow


def ago(now: datetime, then: datetime | None) -> str:
    """A short relative time: "just now", "12 min ago", "5 h ago", "3 d ago", or "never"."""
    if then is None:
        return "never"
    secs = max(0, int((now - then).total_seconds()))
    if secs < 60:
        return "just now"
    if secs < 3600:
        return f"{secs // 60} min ago"
    if secs < 2 * 86400:
        return f"{secs // 3600} h ago"
    return f"{secs // 86400} d ago"


def print_status(app: AppContext, console: Console) -> None:
    store = app.open_store()
    cfg = app.config
    now = utcnow()
    rows = store.feed_rows(now)
    flags = {f.feed_id: f.reason for f in flagged_feeds(store, cfg, now)}
    # the table keeps to short columns (it must read in 80 columns); errors are listed below it
    table = Table(title="Feeds", box=box.SIMPLE_HEAD)
    table.add_column("feed", no_wrap=True, overflow="ellipsis", max_width=30)
    table.add_column("last ok", no_wrap=True, min_width=10)
    for col in ("fails", "7 days", "latency"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    table.add_column("state", no_wrap=True, min_width=7)
    problems: list[str] = []
    for r in rows:
        name = r.name or r.url  # from the feed itself: printed as text, never as rich markup
        flag = flags.get(r.id)
        state = "[red]flagged[/]" if flag else ("[yellow]error[/]" if r.consecutive_failures else "ok")
        table.add_row(escape(name), ago(now, r.last_success_at), str(r.consecutive_failures), str(r.recent_count),
                      f"{r.last_latency_ms} ms" if r.last_latency_ms is not None else "", state)
        if flag:
            problems.append(f"  [red]![/] {escape(name)}: {escape(flag)}")
        elif r.consecutive_failures and r.last_error:
            problems.append(f"  - {escape(name)}: {escape(r.last_error)}")
    console.print(table)
    if problems:
        console.print("Problems:")
        for line in problems:
            console.print(line, overflow="fold")
    flagged = len(flags)
    lat = [r.last_latency_ms for r in rows if r.last_latency_ms is not None]
    console.print(f"{plural(len(rows), 'feed')}, {flagged} flagged ({cfg.feeds.failure_alert_threshold}+ failures in a row, "
                  f"or silent far longer than usual)"
                  + (f", median latency {median(lat):.0f} ms" if lat else ""))
    with store.session() as s:
        last: Any = s.scalar(select(Issue).order_by(Issue.id.desc()).limit(1))
        deliveries = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    if last is not None:
        state = "partly sent" if last.status == "partial" else last.status
        console.print(f"last issue: #{last.id} {last.issue_date} ({state}, {last.story_count} {'story' if last.story_count == 1 else 'stories'})")
    else:
        console.print("last issue: none yet")
    _print_waiting(store, console)
    console.print(f"next issue: daily at {cfg.schedule.send_time} {cfg.schedule.timezone}")
    console.print("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(deliveries.items())) or "none"))
    subs = store.subscriber_counts()
    console.print("subscribers: " + (", ".join(f"{k} {v}" for k, v in sorted(subs.items())) or "none"))
    owed = owed_confirmations(store)
    if owed:
        console.print(f"[yellow]{plural(len(owed), 'confirmation mail')} not sent yet[/] (the mail server "
                      "failed); the worker retries, or run `digest subscribers resend-confirm`")
    for line in compliance_warnings(cfg):
        console.print(f"[yellow]warning:[/] {escape(line)}")


def plural(n: int, word: str) -> str:
    """'1 feed', '2 feeds'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def compliance_warnings(cfg: Any) -> list[str]:
    """What a sender of bulk mail should set and has not (printed by `status` and `send`)."""
    if not cfg.newsletter.postal_address.strip():
        return [("[newsletter] postal_address is empty: CAN-SPAM asks for the sender's postal address in "
                 "every commercial mail; set it and it is printed in the footer")]
    return []


def _print_waiting(store: Any, console: Console) -> None:
    """Readers of the open issue still waiting for it, and why (the relay's last answers)."""
    issue = store.open_issue()
    if issue is None:
        return
    waiting, reasons = DeliveryLedger(store, issue.id).waiting()
    if not waiting:
        return
    console.print(f"[yellow]waiting:[/] {plural(waiting, 'reader')} of issue #{issue.id} {'has' if waiting == 1 else 'have'} not got it yet; "
                  f"`digest send` resumes it")
    for error, n in reasons:  # the relay's words: printed as text, never as rich markup
        console.print(f"  - {n} x {escape(error)}", overflow="fold", highlight=False)
