"""Small atomic store updates the web app needs (conditional UPDATEs: safe under concurrent requests)."""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from digest.mail.subscribers import CONFIRM_INTERVAL, claim_confirmation, release_confirmation
from digest.store import Store, Subscriber, utcnow
from digest.store.tables import new_nonce

__all__ = ["CONFIRM_INTERVAL", "claim_confirmation", "release_confirmation"]  # shared with the CLI and worker


def register(store: Store, address: str) -> Subscriber | None:
    """Add ``address`` as pending (or re-open an unsubscribed one); the row, or None if it vanished."""
    sub = store.subscriber(email=address)
    if sub is None or sub.status == "unsubscribed":
        try:
            sub, _changed = store.add_subscriber(address)
        except IntegrityError:  # a concurrent sign-up for the same address inserted it first
            sub = store.subscriber(email=address)
    return sub


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
