"""`digest send` and the worker's daily job: compose (or resume) an issue and deliver it.

An issue in state 'sending' is resumed before a new one is composed, so a crash mid-send is
finished by the next run. With ``worker=True`` the process only helps deliver the issue that
is being sent (several such workers share it on PostgreSQL).

Large sends use several sender processes on this machine (one per CPU while each gets at least
500 messages; ``smtp.processes`` when that setting exists and is > 0): they share the ledger like
separate workers do, so a run is as safe to kill and resume as a single process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import issues
from .config import Config
from .mail.deliver import SendReport, deliver
from .mail.ledger import DeliveryLedger
from .mail.parallel import auto_processes, deliver_parallel
from .store import Issue, Store, utcnow


@dataclass(frozen=True)
class SendOutcome:
    issue_id: int | None
    resumed: bool
    report: SendReport | None
    message: str


def send_issue(store: Store, config: Config, *, worker: bool = False, send_empty: bool = False,
               progress: Callable[[int, int], None] | None = None, processes: int | None = None) -> SendOutcome:
    """Resume the issue being sent, or compose, store and send a new one.

    ``processes`` overrides the number of sender processes (default: decided from the work).
    """
    issue = store.open_issue()
    resumed = issue is not None
    if issue is None:
        if worker:
            return SendOutcome(None, False, None, "no issue is being sent; nothing to do")
        prepared = issues.prepare(store, config)
        if prepared.content.empty and not send_empty:
            return SendOutcome(None, False, None, "nothing new since the last issue; nothing sent")
        issue = issues.create(store, config, prepared)
        _set_status(store, issue.id, "sending")
    factory = issues.factory_for(store, config, issue, issues.rendered_of(issue))
    ledger = DeliveryLedger(store, issue.id)
    if not worker:
        ledger.enqueue()
    db_url = store.engine.url.render_as_string(hide_password=False)
    n = processes if processes is not None else auto_processes(
        ledger.remaining(), db_url, int(getattr(config.smtp, "processes", 0) or 0))
    if n > 1:
        report = deliver_parallel(store, db_url, config.smtp, issue.id, factory, n, progress=progress,
                                  enqueue=False)
    else:
        report = deliver(store, config.smtp, issue.id, factory, enqueue=False, progress=progress)
    # rows a dead sender held while this run started (a process killed a moment before) come back
    for _ in range(3):
        if not ledger.remaining() or not ledger.reclaim_stale():
            break
        more = deliver(store, config.smtp, issue.id, factory, enqueue=False)
        report.add(more)
    if DeliveryLedger(store, issue.id).remaining() == 0:
        _set_status(store, issue.id, "sent")
    prefix = f"resumed issue {issue.id}; " if resumed else ""
    return SendOutcome(issue.id, resumed, report, prefix + report.summary())


def _set_status(store: Store, issue_id: int, status: str) -> None:
    with store.session() as s:
        row = s.get(Issue, issue_id)
        if row is not None and row.status != status:
            row.status = status
            if status == "sent":
                row.sent_at = utcnow()
