"""The delivery ledger: one row per (issue, subscriber), claimed before sending, marked after.

Exactly-once rests on three rules: rows are created once (unique constraint); a row is claimed
(status 'sending', claimed_by = host:pid) in its own committed transaction before its message
goes out; it is marked 'sent' after the SMTP server accepted it. A process killed between the
two leaves 'sending' rows whose owner is dead; the next run re-claims only those, so at most the
messages that were in flight are repeated. On PostgreSQL claims use FOR UPDATE SKIP LOCKED so
several workers share one issue.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..store import Delivery, Store, Subscriber, utcnow

HOST = socket.gethostname()


def worker_id() -> str:
    return f"{HOST}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Is the process that claimed a row still running? Only decidable on this host."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != HOST:
        return True  # another machine: trust the lease timeout instead
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    subscriber_id: int
    email: str
    nonce: str
    attempts: int


class DeliveryLedger:
    """Ledger operations for one issue."""

    def __init__(self, store: Store, issue_id: int, *, lease: timedelta = timedelta(minutes=15)) -> None:
        self.store = store
        self.issue_id = issue_id
        self.lease = lease
        self.me = worker_id()

    def enqueue(self, subscriber_ids: Sequence[int] | None = None) -> int:
        """Create pending rows for every confirmed subscriber (or the given ones) not yet in the ledger."""
        with self.store.session() as s:
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
            return result.rowcount or 0

    def reclaim_stale(self, now: datetime | None = None) -> int:
        """Return rows claimed by dead processes (or past the lease) to 'pending'."""
        now = now or utcnow()
        with self.store.session() as s:
            rows = s.execute(select(Delivery.id, Delivery.claimed_by, Delivery.claimed_at).where(
                Delivery.issue_id == self.issue_id, Delivery.status == "sending")).all()
            stale = [r.id for r in rows if r.claimed_by != self.me and (
                not _alive(r.claimed_by) or (r.claimed_at is not None and r.claimed_at < now - self.lease))]
            for i in range(0, len(stale), 500):
                s.execute(update(Delivery).where(Delivery.id.in_(stale[i:i + 500]))
                          .values(status="pending", claimed_by=None))
            return len(stale)

    def claim(self, n: int, now: datetime | None = None) -> list[Claimed]:
        """Claim up to ``n`` pending rows whose retry time has come; committed before returning."""
        now = now or utcnow()
        with self.store.session() as s:
            q = (select(Delivery.id).where(
                    Delivery.issue_id == self.issue_id, Delivery.status == "pending",
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now))
                 .order_by(Delivery.id).limit(n))
            if self.store.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list(s.scalars(q))
            if not ids:
                return []
            s.execute(update(Delivery).where(Delivery.id.in_(ids), Delivery.status == "pending")
                      .values(status="sending", claimed_at=now, claimed_by=self.me,
                              attempts=Delivery.attempts + 1))
            rows = s.execute(select(Delivery.id, Delivery.subscriber_id, Subscriber.email, Subscriber.token_nonce,
                                    Delivery.attempts)
                             .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                             .where(Delivery.id.in_(ids), Delivery.claimed_by == self.me,
                                    Delivery.status == "sending")
                             .order_by(Delivery.id)).all()
            return [Claimed(r[0], r[1], r[2], r[3] or "", r[4]) for r in rows]

    def mark_sent(self, delivery_ids: Sequence[int]) -> None:
        if not delivery_ids:
            return
        now = utcnow()
        with self.store.session() as s:
            for i in range(0, len(delivery_ids), 500):
                s.execute(update(Delivery).where(Delivery.id.in_(list(delivery_ids[i:i + 500])))
                          .values(status="sent", sent_at=now, last_error=None))

    def mark_retry(self, delivery_id: int, error: str, at: datetime) -> None:
        with self.store.session() as s:
            s.execute(update(Delivery).where(Delivery.id == delivery_id)
                      .values(status="pending", next_attempt_at=at, last_error=error[:1000], claimed_by=None))

    def mark_failed(self, delivery_id: int, subscriber_id: int, error: str, *, hard: bool,
                    max_hard_bounces: int) -> bool:
        """Record a final failure; a hard bounce counts toward suppression. Returns True if suppressed."""
        suppressed = False
        with self.store.session() as s:
            s.execute(update(Delivery).where(Delivery.id == delivery_id)
                      .values(status="bounced" if hard else "failed", last_error=error[:1000]))
            if hard:
                sub = s.get(Subscriber, subscriber_id)
                if sub is not None:
                    sub.hard_bounces += 1
                    if sub.hard_bounces >= max_hard_bounces and sub.status == "confirmed":
                        sub.status = "suppressed"
                        suppressed = True
        return suppressed

    def counts(self) -> dict[str, int]:
        with self.store.session() as s:
            return dict(s.execute(select(Delivery.status, func.count()).where(Delivery.issue_id == self.issue_id)
                                  .group_by(Delivery.status)).all())

    def remaining(self) -> int:
        with self.store.session() as s:
            return s.scalar(select(func.count()).select_from(Delivery).where(
                Delivery.issue_id == self.issue_id,
                or_(Delivery.status == "pending", and_(Delivery.status == "sending")))) or 0
