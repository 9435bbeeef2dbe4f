"""The delivery ledger: one row per (issue, subscriber), claimed before sending, marked after.

Exactly-once rests on three rules:

1. rows are created once (unique constraint on issue and subscriber; ``INSERT ... SELECT ... ON
   CONFLICT DO NOTHING``, so the subscriber list is streamed by the database, never loaded here);
2. a batch of rows is claimed (status 'sending', ``claimed_by`` = host:pid:start) by one committed
   ``UPDATE ... RETURNING`` before any of its messages goes out; on PostgreSQL the rows are picked
   with ``SELECT ... FOR UPDATE SKIP LOCKED``, so any number of processes on any number of
   machines share one issue without ever claiming the same row;
3. rows are marked 'sent' after the SMTP server accepted them, as a group commit (the sender writes
   whatever was accepted while its previous write ran, in one transaction).

A process killed between 2 and 3 leaves 'sending' rows whose owner is dead; the next run returns
only those to 'pending', so at most the messages that were in flight, or accepted and not yet
written, are repeated. The owner includes the process start time, so a recycled pid is not
mistaken for the dead claimant.

A row is final when 'sent', 'bounced' (a 5xx answer to its RCPT) or 'skipped'. Temporary
failures never end a row: past the retry deadline it stays 'pending' with its ``last_error``,
and the issue waits for the next run ('failed' rows exist only in databases from before that).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from digest.store import Delivery, Store, Subscriber, utcnow

HOST = socket.gethostname()
CHUNK = 500


def _stat(pid: int | str) -> list[bytes]:
    """The fields of /proc/PID/stat after the command name ([0] is the state), [] where unavailable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rpartition(b")")[2].split()
    except OSError:
        return []


def _start_ticks(pid: int | str) -> str:
    """The process start time (clock ticks since boot) from /proc, '' where unavailable."""
    fields = _stat(pid)
    return fields[19].decode() if len(fields) > 19 else ""


def worker_id() -> str:
    pid = os.getpid()
    return f"{HOST}:{pid}:{_start_ticks(pid)}"


def _alive(owner: str | None) -> bool:
    """Is the process that claimed a row still running? Only decidable on this host."""
    if not owner:
        return False
    parts = owner.rsplit(":", 2)
    if len(parts) == 3 and parts[0] == HOST:
        host, pid, start = parts
    else:
        host, _, pid = owner.rpartition(":")
        start = ""
    if host != HOST:
        return True  # another machine: trust the lease timeout instead
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    except PermissionError:
        return True
    fields = _stat(pid)
    if fields and fields[0] in (b"Z", b"X"):  # killed, not yet reaped
        return False
    return not start or not fields or len(fields) <= 19 or fields[19].decode() == start


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    subscriber_id: int
    email: str
    nonce: str
    attempts: int
    preferences: dict[str, object] | None = None


@dataclass(frozen=True)
class Retry:
    delivery_id: int
    error: str
    at: datetime


@dataclass(frozen=True)
class Failure:
    delivery_id: int
    subscriber_id: int
    error: str
    hard: bool


def _chunks(seq: Sequence[int], n: int = CHUNK) -> Iterable[list[int]]:
    for i in range(0, len(seq), n):
        yield list(seq[i:i + n])


class DeliveryLedger:
    """Ledger operations for one issue."""

    def __init__(self, store: Store, issue_id: int, *, lease: timedelta = timedelta(minutes=15),
                 only: Sequence[int] | None = None) -> None:
        self.store = store
        self.issue_id = issue_id
        self.lease = lease
        self.me = worker_id()
        #: claim, count and wait for these subscribers' rows only (a welcome mail), not the whole issue's
        self.only = list(only) if only is not None else None

    def _rows(self) -> list:  # type: ignore[type-arg]
        """The WHERE terms naming this ledger's rows: the issue's, or those of ``only`` in it."""
        terms = [Delivery.issue_id == self.issue_id]
        if self.only is not None:
            terms.append(Delivery.subscriber_id.in_(self.only))
        return terms

    def enqueue(self, subscriber_ids: Sequence[int] | None = None) -> int:
        """Create pending rows for every confirmed subscriber (or the given ones) not yet in the ledger."""
        count = select(func.count()).select_from(Delivery).where(Delivery.issue_id == self.issue_id)
        with self.store.session() as s:
            before = s.scalar(count) or 0
            have = select(Delivery.subscriber_id).where(Delivery.issue_id == self.issue_id)
            q = select(Subscriber.id, literal(self.issue_id), literal("pending"), literal(0)).where(
                Subscriber.status == "confirmed", Subscriber.id.not_in(have))
            if subscriber_ids is not None:
                q = q.where(Subscriber.id.in_(list(subscriber_ids)))
            dialect_insert = pg_insert if self.store.dialect == "postgresql" else sqlite_insert
            # ON CONFLICT DO NOTHING: two workers enqueueing at the same moment both succeed
            ins = dialect_insert(Delivery).from_select(
                ["subscriber_id", "issue_id", "status", "attempts"], q).on_conflict_do_nothing()
            result = s.execute(ins)
            if result.rowcount is not None and result.rowcount >= 0:
                return result.rowcount
            return (s.scalar(count) or 0) - before

    def reclaim_stale(self, now: datetime | None = None) -> int:
        """Return rows claimed by dead processes (or past the lease) to 'pending'."""
        now = now or utcnow()
        with self.store.session() as s:
            rows = s.execute(select(Delivery.claimed_by, func.min(Delivery.claimed_at)).where(
                Delivery.issue_id == self.issue_id, Delivery.status == "sending").group_by(Delivery.claimed_by)).all()
            owners = [r[0] for r in rows if r[0] != self.me and (
                not _alive(r[0]) or (r[1] is not None and r[1] < now - self.lease))]
            n = 0
            for owner in owners:
                cond = Delivery.claimed_by.is_(None) if owner is None else Delivery.claimed_by == owner
                result = s.execute(update(Delivery).where(Delivery.issue_id == self.issue_id,
                                                          Delivery.status == "sending", cond)
                                   .values(status="pending", claimed_by=None))
                n += result.rowcount or 0
            return n

    def claim(self, n: int, now: datetime | None = None) -> list[Claimed]:
        """Claim up to ``n`` pending rows whose retry time has come; committed before returning.

        On PostgreSQL ``SELECT ... LIMIT n FOR UPDATE SKIP LOCKED`` then ``UPDATE ... RETURNING``; on
        SQLite one ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``; then one SELECT of
        the addresses; all in one transaction.
        """
        now = now or utcnow()
        pick = (select(Delivery.id).where(
                    *self._rows(), Delivery.status == "pending",
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now))
                .order_by(Delivery.id).limit(n))
        claim = (update(Delivery)
                 .values(status="sending", claimed_at=now, claimed_by=self.me, attempts=Delivery.attempts + 1)
                 .returning(Delivery.id, Delivery.subscriber_id, Delivery.attempts))
        with self.store.session() as s:
            if self.store.dialect == "postgresql":
                # pick and lock first: inside an UPDATE, PostgreSQL may run a LIMIT ... SKIP LOCKED
                # subquery more than once and so claim more than n rows
                ids = list(s.scalars(pick.with_for_update(skip_locked=True)))
                if not ids:
                    return []
                rows = s.execute(claim.where(Delivery.id.in_(ids))).all()
            else:
                # one statement: SQLite takes the write lock for it at once
                rows = s.execute(claim.where(Delivery.id.in_(pick.scalar_subquery()),
                                             Delivery.status == "pending")).all()
            if not rows:
                return []
            subs = {r[0]: r for r in s.execute(
                select(Subscriber.id, Subscriber.email, Subscriber.token_nonce, Subscriber.preferences,
                       Subscriber.status)
                .where(Subscriber.id.in_([r[1] for r in rows])))}
            # suppressed (a bounce or a complaint came in) or unsubscribed since the row was queued
            gone = [did for did, sid, _a in rows if sid in subs and subs[sid][4] != "confirmed"]
            if gone:
                s.execute(update(Delivery).where(Delivery.id.in_(gone))
                          .values(status="skipped", claimed_by=None))
        out = []
        for did, sid, attempts in sorted(rows):
            sub = subs.get(sid)
            if sub is not None and sub[4] == "confirmed":
                out.append(Claimed(did, sid, sub[1], sub[2] or "", attempts, sub[3] or None))
        return out

    def mark_sent(self, delivery_ids: Sequence[int]) -> None:
        if delivery_ids:
            self.record(sent=delivery_ids)

    def record(self, *, sent: Sequence[int] = (), retries: Sequence[Retry] = (), failures: Sequence[Failure] = (),
               skipped: Sequence[int] = (), released: Sequence[int] = (), max_hard_bounces: int = 3) -> list[int]:
        """Write a batch of outcomes in one transaction; return the subscriber ids suppressed.

        ``released``: rows claimed but not tried (the run stopped first): 'pending' again, the
        attempt the claim counted taken back.
        """
        suppressed: list[int] = []
        if not (sent or retries or failures or skipped or released):
            return suppressed
        now = utcnow()
        # a fresh session holds no Delivery objects to keep in step: skip the ORM's evaluation of
        # each UPDATE against the identity map (a noticeable part of a sender's CPU per write)
        plain = {"synchronize_session": False}
        with self.store.session() as s:
            for chunk in _chunks(list(released)):
                s.execute(update(Delivery).where(Delivery.id.in_(chunk), Delivery.status == "sending")
                          .values(status="pending", claimed_by=None,
                                  attempts=func.max(Delivery.attempts - 1, 0) if self.store.dialect == "sqlite"
                                  else func.greatest(Delivery.attempts - 1, 0)), execution_options=plain)
            for chunk in _chunks(list(sent)):
                s.execute(update(Delivery).where(Delivery.id.in_(chunk))
                          .values(status="sent", sent_at=now, last_error=None), execution_options=plain)
            for chunk in _chunks(list(skipped)):
                s.execute(update(Delivery).where(Delivery.id.in_(chunk)).values(status="skipped", claimed_by=None),
                          execution_options=plain)
            for r in retries:
                s.execute(update(Delivery).where(Delivery.id == r.delivery_id)
                          .values(status="pending", next_attempt_at=r.at, last_error=r.error[:1000], claimed_by=None),
                          execution_options=plain)
            for f in failures:
                s.execute(update(Delivery).where(Delivery.id == f.delivery_id)
                          .values(status="bounced" if f.hard else "failed", last_error=f.error[:1000]))
                if f.hard:
                    sub = s.get(Subscriber, f.subscriber_id,
                                with_for_update=self.store.dialect == "postgresql")
                    if sub is not None:
                        sub.hard_bounces = (sub.hard_bounces or 0) + 1
                        if sub.hard_bounces >= max_hard_bounces and sub.status == "confirmed":
                            sub.status = "suppressed"
                            sub.suppressed_at = now
                            sub.suppressed_reason = (f"{sub.hard_bounces} hard bounces at SMTP time "
                                                     f"(the relay refused the address); last: {f.error[:200]}, "
                                                     f"on {now:%Y-%m-%d}")
                            suppressed.append(sub.id)
        return suppressed

    def mark_retry(self, delivery_id: int, error: str, at: datetime) -> None:
        self.record(retries=[Retry(delivery_id, error, at)])

    def mark_failed(self, delivery_id: int, subscriber_id: int, error: str, *, hard: bool,
                    max_hard_bounces: int) -> bool:
        """Record a final failure; a hard bounce counts toward suppression. Returns True if suppressed."""
        return bool(self.record(failures=[Failure(delivery_id, subscriber_id, error, hard)],
                                max_hard_bounces=max_hard_bounces))

    def counts(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(Delivery.status, func.count()).where(*self._rows())
                                  .group_by(Delivery.status)).all())

    def remaining(self) -> int:
        """Rows not yet final: pending (also those waiting for a retry) or being sent."""
        with self.store.session() as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(
                *self._rows(),
                or_(Delivery.status == "pending", and_(Delivery.status == "sending")))) or 0

    def waiting(self, limit: int = 3) -> tuple[int, list[tuple[str, int]]]:
        """Rows not yet delivered, and their most common last errors (error, count), most frequent first."""
        with self.store.session() as s:
            rows = s.execute(select(Delivery.last_error, func.count()).where(
                *self._rows(), Delivery.status.in_(("pending", "sending")))
                .group_by(Delivery.last_error).order_by(func.count().desc())).all()
        total = sum(n for _e, n in rows)
        return total, [(e, n) for e, n in rows if e][:limit]

    def note_waiting(self, reason: str) -> int:
        """Record why the pending rows wait (a relay that could not be reached before any was tried);
        the number of rows."""
        with self.store.session() as s:
            result = s.execute(update(Delivery).where(Delivery.issue_id == self.issue_id, Delivery.status == "pending")
                               .values(last_error=reason[:1000]))
            return result.rowcount or 0

    def pending(self) -> tuple[int, datetime | None]:
        """How many rows are pending, and the earliest retry time among them (None: due now)."""
        with self.store.session() as s:
            n, due_now, earliest = s.execute(select(
                func.count(), func.count().filter(Delivery.next_attempt_at.is_(None)),
                func.min(Delivery.next_attempt_at)).where(
                *self._rows(), Delivery.status == "pending")).one()
        if not n:
            return 0, None
        if due_now:
            return n, None
        from digest.store.tables import UTCDateTime

        return n, UTCDateTime().process_result_value(earliest, None)
