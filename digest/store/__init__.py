"""Persistence: one :class:`Store` over SQLAlchemy, the same code on SQLite and PostgreSQL."""

from digest.store.db import Store
from digest.store.tables import (
    Actor,
    ActorLink,
    Article,
    ArticleActor,
    Base,
    BounceEvent,
    Delivery,
    Feed,
    Issue,
    Meta,
    Subscriber,
    utcnow,
)

__all__ = [
    "Actor", "ActorLink", "Article", "ArticleActor", "Base", "BounceEvent", "Delivery", "Feed", "Issue", "Meta",
    "Store", "Subscriber", "utcnow",
]
