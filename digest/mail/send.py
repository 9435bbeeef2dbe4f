"""`digest send` and the worker's daily job: compose (or resume) an issue and deliver it.

An open issue ('sending': a run is at it or crashed; 'partial': the last run ended with readers
still waiting, for a sick relay or a refused message) is resumed before a new one is composed,
so a crash or a bad day of the relay is finished by the next run and no reader is dropped.
Composition is serialised per database (:func:`digest.ops.lock.compose_lock`): two runs
started together make one issue. With ``worker=True`` the process only helps deliver the issue
that is open (several such workers share it on PostgreSQL).

Large sends use several sender processes on this machine (one per CPU while each gets at least
500 messages; ``smtp.processes`` when that setting exists and is > 0): they share the ledger like
separate workers do, so a run is as safe to kill and resume as a single process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from digest.config import Config
from digest.errors import MailError, RelayUnreachable
from digest.issue.factory import factory_for, former_actor_ids, make_factory, rendered_of
from digest.issue.serialize import issue_to_json
from digest.issue.variants import VariantChooser, due_now, has_hour, wants_today
from digest.mail.deliver import SendReport, check_smtp, deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.parallel import auto_processes, deliver_parallel, spawn_senders, stop_senders
from digest.ops.lock import compose_lock
from digest.store import Issue, Store, utcnow


@dataclass(frozen=True)
class SendOutcome:
    issue_id: int | None
    resumed: bool
    report: SendReport | None
    message: str
    #: readers of the issue still waiting when the run ended (the issue is 'partial'); 0 when done
    waiting: int = 0


#: issue states the next run resumes
OPEN_STATES = ("sending", "partial")


def send_issue(store: Store, config: Config, *, worker: bool = False, send_empty: bool = False,
               progress: Callable[[int, int], None] | None = None, processes: int | None = None,
               respect_hours: bool = False, now: datetime | None = None) -> SendOutcome:
    """Resume the issue being sent, or compose, store and send a new one.

    ``processes`` overrides the number of sender processes (default: decided from the work).
    With ``respect_hours`` (the scheduled send) subscribers who chose a delivery hour are left for
    :func:`send_due` to enqueue at that hour; otherwise everyone confirmed gets it now.
    """
    now = now or utcnow()
    issue = store.open_issue()
    resumed = issue is not None
    if issue is None:
        if worker:
            return SendOutcome(None, False, None, "no issue is being sent; nothing to do")
        newest = _newest_issue_id(store)
        with compose_lock(store):
            issue = store.open_issue()  # composed by a run that held the lock while we waited
            resumed = issue is not None
            if issue is None:
                latest = _newest_issue_id(store)
                if latest != newest and latest is not None:
                    return SendOutcome(latest, False, None, f"issue {latest} was composed and sent by another "
                                                            f"`digest send` meanwhile; nothing sent")
                from digest.issue import build as issues  # composing: only then the composer and renderer

                prepared = issues.prepare(store, config, now)
                if prepared.content.empty and not send_empty:
                    return SendOutcome(None, False, None, "nothing new since the last issue; nothing sent")
                issue = issues.create(store, config, prepared)
                _set_status(store, issue.id, "sending")
    ledger = DeliveryLedger(store, issue.id)
    if not worker:
        ledger.enqueue(due_subscribers(store, config, now) if respect_hours else None)
    remaining = ledger.remaining()
    db_url = store.engine.url.render_as_string(hide_password=False)
    n = processes if processes is not None else auto_processes(
        remaining, db_url, int(getattr(config.smtp, "processes", 0) or 0))
    # the sender processes start now and import while this one builds the factory and checks the relay
    senders = spawn_senders(n) if n > 1 and remaining else None
    try:
        factory = factory_for(store, config, issue, rendered_of(issue))
        chooser = variant_chooser(store, config, issue, factory, now)
        if remaining:  # fail in seconds, not after the retry deadline, when the relay is down
            _reach_relay(store, config, issue.id, ledger)
        if resumed and issue.status != "sending":
            _set_status(store, issue.id, "sending")
    except BaseException:
        if senders is not None:
            stop_senders(senders)
        raise
    if n > 1:
        report = deliver_parallel(store, db_url, config.smtp, issue.id, factory, n, progress=progress,
                                  enqueue=False, factory_for=chooser, started=senders)
    else:
        report = deliver(store, config.smtp, issue.id, factory, enqueue=False, progress=progress,
                         factory_for=chooser)
    # rows a dead sender held while this run started (a process killed a moment before) come back
    for _ in range(3):
        if report.fatal or not ledger.remaining() or not ledger.reclaim_stale():
            break
        more = deliver(store, config.smtp, issue.id, factory, enqueue=False, factory_for=chooser)
        report.add(more)
    final = DeliveryLedger(store, issue.id)
    counts = final.counts()
    waiting, others = counts.get("pending", 0), counts.get("sending", 0)
    reasons = final.waiting()[1] if waiting else []
    report.waiting = waiting
    if waiting:
        _set_status(store, issue.id, "partial")
    elif not others:  # rows another live sender holds: that one sets the state when it is done
        _set_status(store, issue.id, "sent")
    if report.fatal:
        raise MailError(f"the SMTP server refused the message or the session: {report.fatal}; "
                        f"nobody was struck off, {waiting} readers wait and `digest send` resumes issue "
                        f"{issue.id} once the cause is fixed")
    prefix = f"resumed issue {issue.id}; " if resumed else ""
    message = prefix + report.summary()
    if others:
        message += f"; {others} being sent by another `digest send`"
    if waiting:
        why = f" (last error: {reasons[0][0]})" if reasons else ""
        message += (f"; issue {issue.id} is partly sent: {waiting} readers wait{why}, "
                    f"the next `digest send` resumes it")
    return SendOutcome(issue.id, resumed, report, message, waiting)


def _reach_relay(store: Store, config: Config, issue_id: int, ledger: DeliveryLedger) -> None:
    """Probe the relay before sending: fail in seconds, not after the retry deadline, when it is
    down. Then the issue is partly sent, its waiting readers carry the reason (`digest status`
    shows it), and the next run resumes it."""
    try:
        check_smtp(config.smtp)
    except RelayUnreachable as exc:
        ledger.note_waiting(exc.reason)
        _set_status(store, issue_id, "partial")
        raise RelayUnreachable(f"{exc.reason}; nothing was sent: issue {issue_id} is partly sent, "
                               f"{ledger.remaining()} readers wait and the next `digest send` resumes it",
                               exc.reason) from None


def _newest_issue_id(store: Store) -> int | None:
    with store.session() as s:
        return s.scalar(select(func.max(Issue.id)))


def variant_chooser(store: Store, config: Config, issue: Issue, factory: Any, now: datetime) -> VariantChooser:
    """The per-subscriber variant picker for ``issue`` (a weekly digest is composed when someone needs it)."""
    weekly = None
    tz = config.schedule.timezone
    if any(wants_today(prefs, now, tz) for _sid, prefs in store.confirmed_preferences()
           if (prefs or {}).get("frequency") == "weekly"):
        from digest.issue import build as issues

        weekly = issue_to_json(issues.prepare(store, config, now, since=now - timedelta(days=7)).content)
    archive = f"{config.newsletter.base_url.rstrip('/')}/archive/{issue.id}"
    return VariantChooser(config, store.secret_key(config.security.secret_key), issue.id, factory,
                          issue.content, weekly, archive, now, make_factory=make_factory,
                          former_ids=former_actor_ids(store, config))


def due_subscribers(store: Store, config: Config, now: datetime) -> list[int]:
    """Confirmed subscribers whose delivery hour is now (or who chose none)."""
    tz = config.schedule.timezone
    return [sid for sid, prefs in store.confirmed_preferences() if due_now(prefs, now, tz)]


def send_due(store: Store, config: Config, now: datetime | None = None) -> SendOutcome:
    """The hourly job: deliver the latest issue (composed in the last 24 h) to subscribers whose hour is now."""
    now = now or utcnow()
    with store.session() as s:
        issue = s.scalar(select(Issue).where(Issue.status.in_((*OPEN_STATES, "sent")),
                                             Issue.created_at >= now - timedelta(hours=24))
                         .order_by(Issue.id.desc()).limit(1))
    if issue is None:
        return SendOutcome(None, False, None, "no issue in the last 24 hours")
    tz = config.schedule.timezone
    ids = [sid for sid, prefs in store.confirmed_preferences() if has_hour(prefs) and due_now(prefs, now, tz)]
    ledger = DeliveryLedger(store, issue.id)
    if not ids or not ledger.enqueue(ids):
        return SendOutcome(issue.id, False, None, "nobody's delivery hour")
    _reach_relay(store, config, issue.id, ledger)
    factory = factory_for(store, config, issue, rendered_of(issue))
    report = deliver(store, config.smtp, issue.id, factory, enqueue=False,
                     factory_for=variant_chooser(store, config, issue, factory, now))
    if report.waiting:  # the next run (the worker's next hour) resumes it, as after `digest send`
        _set_status(store, issue.id, "partial")
    elif issue.status != "sent" and not ledger.remaining():
        _set_status(store, issue.id, "sent")
    if report.fatal:
        raise MailError(f"the SMTP server refused the message or the session: {report.fatal}; nobody was struck "
                        f"off, {report.waiting} readers wait and the next run resumes issue {issue.id}")
    return SendOutcome(issue.id, True, report, f"local-hour delivery of issue {issue.id}: {report.summary()}",
                       report.waiting)


def _set_status(store: Store, issue_id: int, status: str) -> None:
    with store.session() as s:
        row = s.get(Issue, issue_id)
        if row is not None and row.status != status:
            row.status = status
            if status == "sent" and row.sent_at is None:  # an issue resumed after it was sent keeps its date
                row.sent_at = utcnow()
