"""`digest worker`: APScheduler runs the poll and the daily send.

* poll every ``feeds.poll_interval_minutes`` (and read the bounce mailbox then, when
  ``bounces.mailbox`` is set);
* send at ``schedule.send_time`` in ``schedule.timezone`` (a cron trigger in that zone, so the
  local time holds across daylight-saving changes); an issue left partly sent (readers waiting
  for a sick relay) is resumed by the hourly job;
* ``max_instances=1``: one run of a job at a time; ``coalesce=True`` with a day-long misfire
  grace time: a worker that was down for three days sends one issue, not three;
* after each poll, confirmation mails that could not be sent at sign-up (the mail server was
  down) are sent again, for addresses whose link would still be valid;
* a lock keeps a second worker on the same database from starting;
* SIGTERM/SIGINT let the running job finish, then the worker stops.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import Config
from digest.errors import DigestError

log = logging.getLogger("digest.ops.worker")


def build_scheduler(config: Config, poll_job: Callable[[], None], send_job: Callable[[], None],
                    scheduler: BaseScheduler | None = None,
                    hourly_job: Callable[[], None] | None = None) -> BaseScheduler:
    """Add the two jobs to ``scheduler`` (a new BlockingScheduler by default) and return it."""
    sched = scheduler or BlockingScheduler(timezone=config.schedule.timezone)
    hour, minute = (int(x) for x in config.schedule.send_time.split(":"))
    common = {"max_instances": 1, "coalesce": True, "misfire_grace_time": 24 * 3600, "replace_existing": True}
    sched.add_job(poll_job, IntervalTrigger(minutes=config.feeds.poll_interval_minutes), id="poll",
                  name="poll feeds", next_run_time=datetime.now(sched.timezone), **common)
    sched.add_job(send_job, CronTrigger(hour=hour, minute=minute, timezone=config.schedule.timezone),
                  id="send", name="send daily issue", **common)
    if hourly_job is not None:  # subscribers who chose a delivery hour get the issue then
        sched.add_job(hourly_job, CronTrigger(minute=(minute + 5) % 60, timezone=config.schedule.timezone),
                      id="hourly", name="local-hour deliveries", **{**common, "misfire_grace_time": 1800})
    return sched


def _jobs(config: Config) -> tuple[Callable[[], None], Callable[[], None], Callable[[], None]]:
    from digest.ingest.feedlist import configured_feeds
    from digest.ingest.poll import poll
    from digest.mail.send import send_due, send_issue
    from digest.mail.subscribers import owed_confirmations, resend_confirmations
    from digest.mail.welcome import resume_welcomes
    from digest.ops.health import alert_operator
    from digest.store import Store, utcnow

    lock = threading.Lock()  # poll and send never write at the same time

    def job(name: str, body: Callable[[Store], None]) -> Callable[[], None]:
        """One scheduled job: exclusive, on its own store; an expected failure is logged, not raised."""
        def run() -> None:
            with lock:
                store = Store.open(config)
                try:
                    body(store)
                except DigestError as exc:
                    log.error("%s failed: %s", name, exc, extra={"event_kind": f"{name}_error"})
                except Exception:  # a bug: logged with its traceback, and the next run goes on
                    log.exception("%s failed unexpectedly", name, extra={"event_kind": f"{name}_error"})
                finally:
                    store.close()
        return run

    def poll_body(store: Store) -> None:
        specs = configured_feeds(config)
        report = poll(store, config, due_only=True, feed_specs=specs)
        for url, reason in report.errors:
            log.warning("feed failed: %s: %s", url, reason, extra={"event_kind": "feed_error", "feed": url})
        alert_operator(store, config)
        resend_owed(store)
        log.info("poll: %s", report.summary(), extra={
            "event_kind": "poll", "polled": report.feeds, "new": report.new_articles, "failed": report.failed,
            "not_due": report.not_due, "backoff": report.backoff})
        if config.bounces.mailbox:
            from digest.mail.mailbox import fetch

            try:  # a mailbox that cannot be read is its own one-line error; the poll has been done
                bounces = fetch(store, config)
            except DigestError as exc:
                log.error("bounce mailbox failed: %s", exc, extra={"event_kind": "bounces_error"})
            else:
                log.info("bounces: %s", bounces.summary(), extra={
                    "event_kind": "bounces", "read": bounces.read, "suppressed": bounces.suppressed,
                    "set_aside": bounces.set_aside})

    def resend_owed(store: Store) -> None:
        """Confirmation mails that could not be sent at sign-up (the mail server was down): again now."""
        days = timedelta(days=config.security.confirm_token_days)
        if not owed_confirmations(store, since=utcnow() - days):
            return
        report = resend_confirmations(store, config, max_age=days)
        for email, reason in report.failed:
            log.warning("confirmation mail not sent: %s", reason, extra={"event_kind": "confirm_error",
                                                                           "subscriber": email})
        log.log(logging.WARNING if report.failed else logging.INFO, "confirmations: %s", report.summary(),
                extra={"event_kind": "confirm_resend", "sent": len(report.sent), "failed": len(report.failed)})

    def send_body(store: Store) -> None:
        outcome = send_issue(store, config, respect_hours=True)
        failed = bool(outcome.report and outcome.report.bounced) or outcome.waiting > 0
        log.log(logging.WARNING if failed else logging.INFO, "send: %s", outcome.message, extra={
            "event_kind": "send", "issue": outcome.issue_id or "", "sent": outcome.report.sent if outcome.report else 0})

    def hourly_body(store: Store) -> None:
        open_issue = store.open_issue()
        if open_issue is not None and open_issue.status == "partial":
            # readers left waiting by a sick relay get the issue within the hour, not tomorrow
            resumed = send_issue(store, config, worker=True)
            log.info("resumed send: %s", resumed.message, extra={
                "event_kind": "send_resumed", "issue": resumed.issue_id,
                "sent": resumed.report.sent if resumed.report else 0, "waiting": resumed.waiting})
        outcome = send_due(store, config)
        if outcome.report is not None:
            log.info("local-hour send: %s", outcome.message, extra={
                "event_kind": "send_hourly", "issue": outcome.issue_id, "sent": outcome.report.sent})
        welcomed = resume_welcomes(store, config)  # those the relay refused to take at confirmation
        if welcomed:
            log.info("welcome mails sent: %s", welcomed, extra={"event_kind": "welcome", "sent": welcomed})

    poll_job, send_job, hourly_job = job("poll", poll_body), job("send", send_body), job("hourly", hourly_body)
    return poll_job, send_job, hourly_job


def _unfinished_send(config: Config) -> bool:
    from digest.store import Store

    store = Store.open(config)
    try:
        return store.open_issue() is not None
    finally:
        store.close()


def run_worker(config: Config) -> None:
    """Run until SIGTERM/SIGINT. A crashed send is resumed by the next send job."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from digest.ops.lock import WorkerLock

    stop_requested = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if stop_requested.is_set():  # a second SIGTERM or Ctrl-C: the operator wants it gone now
            log.warning("signal %s again: stopping now; the job in flight is abandoned (what it stored is "
                        "kept, an unfinished send resumes on the next run)", signum)
            logging.shutdown()
            os._exit(0)  # the job threads are not daemons; only this leaves without waiting for them
        log.info("signal %s: finishing the running job, then stopping", signum)
        stop_requested.set()

    # Handlers before anything else: a signal that comes while the worker sets up stops it cleanly too.
    # The handler only sets an event; the main thread stops the scheduler, so a second signal never
    # reaches a scheduler that is already shutting down.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with WorkerLock(config):
        poll_job, send_job, hourly_job = _jobs(config)
        sched = build_scheduler(config, poll_job, send_job, BackgroundScheduler(timezone=config.schedule.timezone),
                                hourly_job=hourly_job)
        if _unfinished_send(config):  # a crash interrupted a send: finish it now, not tomorrow
            log.info("an issue was being sent when the last worker stopped: resuming it now")
            sched.add_job(send_job, id="resume", name="resume unfinished send", max_instances=1)
        if stop_requested.is_set():
            log.info("stopped before the first job ran")
            return
        sched.start()
        log.info("worker started; polling every %s min; daily issue at %s %s",
                 config.feeds.poll_interval_minutes, config.schedule.send_time, config.schedule.timezone)
        while not stop_requested.wait(1.0):
            pass
        sched.shutdown(wait=True)
        log.info("worker stopped")
