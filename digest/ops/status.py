"""`digest status`: feeds, issues, deliveries and subscribers at a glance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from digest.store import BounceEvent, Delivery, Issue, utcnow

COUNTED = ("scored", "suppressed")


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


#: up to this many polled feeds, `status` shows them all; above it, the failing ones (capped)
FULL_TABLE_UP_TO = 20
MAX_FAILING_SHOWN = 10


def print_status(app: AppContext, console: Console, *, show_all: bool = False) -> None:
    """The state at a glance; short for any number of feeds: the feed table lists every feed up to
    :data:`FULL_TABLE_UP_TO` (or with ``show_all``), above that only the failing ones, at most
    :data:`MAX_FAILING_SHOWN`."""
    store = app.open_store()
    cfg = app.config
    now = utcnow()
    every = store.feed_rows(now)
    rows = [r for r in every if r.active]
    removed = len(every) - len(rows)
    flags = {f.feed_id: f.reason for f in flagged_feeds(store, cfg, now)}
    failing = [r for r in rows if r.id in flags or r.consecutive_failures]
    failing.sort(key=lambda r: (r.id not in flags, -r.consecutive_failures, r.name or r.url))
    full = show_all or len(rows) <= FULL_TABLE_UP_TO
    shown = rows if full else failing[:MAX_FAILING_SHOWN]
    # the table keeps to short columns (it must read in 80 columns); errors are listed below it
    table = Table(title="Feeds" if full else "Failing feeds", box=box.SIMPLE_HEAD)
    table.add_column("feed", no_wrap=True, overflow="ellipsis", max_width=30)
    table.add_column("last ok", no_wrap=True, min_width=10)
    for col in ("fails", "7 days", "latency"):
        table.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    table.add_column("state", no_wrap=True, min_width=7)
    problems: list[str] = []
    for r in shown:
        name = r.name or r.url  # from the feed itself: printed as text, never as rich markup
        flag = flags.get(r.id)
        state = "[red]flagged[/]" if flag else ("[yellow]error[/]" if r.consecutive_failures else "ok")
        table.add_row(escape(name), ago(now, r.last_success_at), str(r.consecutive_failures), str(r.recent_count),
                      f"{r.last_latency_ms} ms" if r.last_latency_ms is not None else "", state)
        if flag:
            problems.append(f"  [red]![/] {escape(name)}: {escape(flag)}")
        elif r.consecutive_failures and r.last_error:
            problems.append(f"  - {escape(name)}: {escape(r.last_error)}")
    if shown:
        console.print(table)
    if problems:
        console.print("Problems:")
        for line in problems[:len(problems) if show_all else MAX_FAILING_SHOWN]:
            console.print(line, overflow="fold")
    hidden = len(failing) - min(len(failing), MAX_FAILING_SHOWN)
    if not show_all and hidden > 0:
        console.print(f"  ... and {hidden} more failing; `digest status --all` lists every feed")
    flagged = len(flags)
    lat = [r.last_latency_ms for r in rows if r.last_latency_ms is not None]
    never = sum(1 for r in rows if r.last_polled_at is None)
    ok = sum(1 for r in rows if r.last_success_at is not None and not r.consecutive_failures)
    console.print(f"{plural(len(rows), 'feed')}, {flagged} flagged ({cfg.feeds.failure_alert_threshold}+ failures in a row, "
                  f"or silent far longer than usual)"
                  + (f", median latency {median(lat):.0f} ms" if lat else ""))
    console.print(f"feeds: {ok} ok, {len(failing)} failing, {never} not polled yet"
                  + (f"; {removed} removed (no longer polled)" if removed else ""))
    with store.session() as s:
        last: Any = s.scalar(select(Issue).order_by(Issue.id.desc()).limit(1))
        deliveries = dict(s.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    if last is not None:
        state = last.status
        if last.status == "partial":
            state = f"partly sent: {DeliveryLedger(store, last.id).waiting()[0]} waiting"
        console.print(f"last issue: #{last.id} {last.issue_date} ({state}, {plural(last.story_count, 'story')})")
    else:
        console.print("last issue: none yet")
    _print_waiting(store, console)
    console.print(f"next issue: daily at {cfg.schedule.send_time} {cfg.schedule.timezone}")
    console.print("deliveries: " + (", ".join(f"{k} {v}" for k, v in sorted(deliveries.items())) or "none"))
    subs = store.subscriber_counts()
    console.print("subscribers: " + (", ".join(f"{k} {v}" for k, v in sorted(subs.items())) or "none"))
    print_bounces(bounce_stats(store, now), cfg.bounces.complaint_warn_rate, console)
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


@dataclass
class BounceStats:
    #: (issue id, date, delivered, hard, soft, complaints) of the latest issues
    issues: list[tuple[int, str, int, int, int, int]] = field(default_factory=list)
    delivered_30d: int = 0
    hard_30d: int = 0
    soft_30d: int = 0
    complaints_30d: int = 0
    set_aside_30d: int = 0

    def rate(self, n: int) -> float:
        return n / self.delivered_30d if self.delivered_30d else 0.0


def bounce_stats(store: Any, now: datetime, issues: int = 5, days: int = 30) -> BounceStats:
    """Bounces and complaints per issue (the latest ``issues``) and over the last ``days`` days,
    against the messages delivered then. Only counted events (a verified token, an authenticated
    provider) count; what was set aside is shown on its own."""
    since = now - timedelta(days=days)
    stats = BounceStats()
    with store.session() as s:
        stats.delivered_30d = s.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.status == "sent", Delivery.sent_at >= since)) or 0
        kinds = dict(s.execute(select(BounceEvent.kind, func.count()).where(
            BounceEvent.received_at >= since, BounceEvent.outcome.in_(COUNTED)).group_by(BounceEvent.kind)).all())
        stats.hard_30d, stats.soft_30d = kinds.get("hard", 0), kinds.get("soft", 0)
        stats.complaints_30d = kinds.get("complaint", 0)
        stats.set_aside_30d = s.scalar(select(func.count()).select_from(BounceEvent).where(
            BounceEvent.received_at >= since,
            BounceEvent.outcome.in_(("not-understood", "forged", "no-token")))) or 0
        latest = s.execute(select(Issue.id, Issue.issue_date).where(Issue.status.in_(("sent", "partial", "sending")))
                           .order_by(Issue.id.desc()).limit(issues)).all()
        ids = [r[0] for r in latest]
        if ids:
            sent = dict(s.execute(select(Delivery.issue_id, func.count()).where(
                Delivery.issue_id.in_(ids), Delivery.status == "sent").group_by(Delivery.issue_id)).all())
            per: dict[tuple[int, str], int] = {}
            for iid, kind, n in s.execute(select(BounceEvent.issue_id, BounceEvent.kind, func.count()).where(
                    BounceEvent.issue_id.in_(ids), BounceEvent.outcome.in_(COUNTED))
                    .group_by(BounceEvent.issue_id, BounceEvent.kind)):
                per[(iid, kind)] = n
            stats.issues = [(iid, date, sent.get(iid, 0), per.get((iid, "hard"), 0), per.get((iid, "soft"), 0),
                             per.get((iid, "complaint"), 0)) for iid, date in latest]
    return stats


def print_bounces(stats: BounceStats, warn_rate: float, console: Console) -> None:
    for iid, date, delivered, hard, soft, complaints in stats.issues:
        console.print(f"  issue #{iid} {date}: delivered {delivered}, hard bounces {hard}, soft bounces {soft}, "
                      f"complaints {complaints}")
    rate = stats.rate(stats.complaints_30d)
    line = (f"bounces (30 days): hard {stats.hard_30d} ({stats.rate(stats.hard_30d):.2%}), soft {stats.soft_30d}, "
            f"complaints {stats.complaints_30d} ({rate:.2%} of {stats.delivered_30d} delivered; "
            f"Gmail's line {warn_rate:.1%})"
            + (f", {stats.set_aside_30d} not understood or forged, set aside" if stats.set_aside_30d else ""))
    if stats.delivered_30d and rate > warn_rate:
        console.print(f"[red]![/] {line}: [red]complaint rate over {warn_rate:.1%}: Gmail and Yahoo throttle and "
                      f"junk senders above it[/]")
    else:
        console.print(line)


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
