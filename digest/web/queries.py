"""Small atomic store updates the web app needs (conditional UPDATEs: safe under concurrent requests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, text, update
from sqlalchemy.exc import IntegrityError

from digest.store import Store, Subscriber, utcnow
from digest.store.tables import new_nonce

CONFIRM_INTERVAL = timedelta(days=1)


def register(store: Store, address: str) -> Subscriber | None:
    """Add ``address`` as pending (or re-open an unsubscribed one); the row, or None if it vanished."""
    sub = store.subscriber(email=address)
    if sub is None or sub.status == "unsubscribed":
        try:
            sub, _changed = store.add_subscriber(address)
        except IntegrityError:  # a concurrent sign-up for the same address inserted it first
            sub = store.subscriber(email=address)
    return sub


def claim_confirmation(store: Store, subscriber_id: int, now: datetime | None = None,
                       interval: timedelta = CONFIRM_INTERVAL) -> tuple[datetime, datetime | None] | None:
    """Reserve the right to mail a confirmation: at most one per ``interval``, pending subscribers only.

    Returns (the claim time, the previous confirm_sent_at) or None when no mail may go out.
    """
    now = now or utcnow()
    with store.session() as s:
        previous = s.scalar(select(Subscriber.confirm_sent_at).where(Subscriber.id == subscriber_id))
        result = s.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id, Subscriber.status == "pending",
                   or_(Subscriber.confirm_sent_at.is_(None), Subscriber.confirm_sent_at <= now - interval))
            .values(confirm_sent_at=now))
        return (now, previous) if result.rowcount == 1 else None


def release_confirmation(store: Store, subscriber_id: int, claimed: datetime, previous: datetime | None) -> None:
    """Undo a claim whose mail could not be sent, so a later sign-up may try again."""
    with store.session() as s:
        s.execute(update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.confirm_sent_at == claimed)
                  .values(confirm_sent_at=previous))


def confirm(store: Store, subscriber_id: int) -> str | None:
    """pending -> confirmed; returns the status after the call (None: no such subscriber)."""
    with store.session() as s:
        s.execute(update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.status == "pending")
                  .values(status="confirmed", confirmed_at=utcnow(), unsubscribed_at=None))
        return s.scalar(select(Subscriber.status).where(Subscriber.id == subscriber_id))


def unsubscribe(store: Store, subscriber_id: int) -> str | None:
    """pending|confirmed -> unsubscribed (suppressed stays suppressed); the status after the call.

    The confirm nonce rotates with it: a confirm link mailed before stops working.
    """
    with store.session() as s:
        s.execute(update(Subscriber)
                  .where(Subscriber.id == subscriber_id, Subscriber.status.in_(("pending", "confirmed")))
                  .values(status="unsubscribed", unsubscribed_at=utcnow(), confirm_nonce=new_nonce()))
        return s.scalar(select(Subscriber.status).where(Subscriber.id == subscriber_id))


def ping(store: Store) -> None:
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
