"""Database tables (SQLAlchemy 2 declarative). The same schema runs on SQLite and PostgreSQL.

The Alembic migrations in ``digest/store/migrations`` create exactly these tables; a test checks
that the migrated schema and this metadata agree.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_nonce() -> str:
    """A fresh token nonce: changing a subscriber's nonce revokes every link signed with the old one."""
    return secrets.token_hex(8)


# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Feed(Base):
    __tablename__ = "feeds"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    kind: Mapped[str] = mapped_column(String(20), default="news")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: "file" (the feeds file lists it: the file decides), "command" (feeds add/import), "" (not known yet)
    origin: Mapped[str] = mapped_column(String(10), default="command", server_default="")
    category: Mapped[str] = mapped_column(String(300), default="", server_default="")
    #: the feeds file's entry rules {"drop": [...], "keep": [...]}, applied at poll
    rules: Mapped[dict[str, list[str]] | None] = mapped_column(JSON, nullable=True)
    etag: Mapped[str | None] = mapped_column(String(500), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_new_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("feed_id", "guid", name="uq_articles_feed_guid"),
        Index("ix_articles_published", "published_at"),
        Index("ix_articles_fetched", "fetched_at"),
        Index("ix_articles_url", "url"),
        Index("ix_articles_hash", "content_hash"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    guid: Mapped[str] = mapped_column(String(2048))
    url: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    text: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    extract_note: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str] = mapped_column(String(30), default="other")
    cves: Mapped[list[str]] = mapped_column(JSON, default=list)
    exploited: Mapped[bool] = mapped_column(Boolean, default=False)


class Actor(Base):
    __tablename__ = "actors"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    country: Mapped[str | None] = mapped_column(String(100), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    aliases: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ArticleActor(Base):
    __tablename__ = "article_actors"
    __table_args__ = (Index("ix_article_actors_actor", "actor_id"),)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    actor_id: Mapped[str] = mapped_column(ForeignKey("actors.id", ondelete="CASCADE"), primary_key=True)
    mentions: Mapped[list[str]] = mapped_column(JSON, default=list)


class ActorLink(Base):
    """An alias link stated by an article ("X, also known as Y"), with its provenance."""

    __tablename__ = "actor_links"
    __table_args__ = (UniqueConstraint("name_a", "name_b", "relation", name="uq_actor_links"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name_a: Mapped[str] = mapped_column(String(300))
    name_b: Mapped[str] = mapped_column(String(300))
    relation: Mapped[str] = mapped_column(String(20), default="same")
    vendor: Mapped[str] = mapped_column(String(200), default="")
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), nullable=True)
    sentence: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (Index("ix_subscribers_status", "status"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|confirmed|unsubscribed|suppressed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirm_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0)
    token_nonce: Mapped[str] = mapped_column(String(64), default="")
    #: confirm links only; rotated on unsubscribe and on a new sign-up, so an old confirm link dies with them
    confirm_nonce: Mapped[str] = mapped_column(String(64), default=new_nonce, server_default="")
    preferences: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    #: Mailman-style bounce score (decayed to ``bounce_at``); suppressed at bounces.threshold
    bounce_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: when the score last changed, and what the bounces of that UTC day added (counted once a day)
    bounce_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    bounce_day_score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    #: why and when the address was suppressed (bounces, a complaint, SMTP refusals)
    suppressed_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BounceEvent(Base):
    """One bounce, complaint or message from the bounce intake, kept for audit with its raw text."""

    __tablename__ = "bounce_events"
    __table_args__ = (
        Index("ix_bounce_events_received", "received_at"),
        Index("ix_bounce_events_subscriber", "subscriber_id"),
        Index("ix_bounce_events_issue", "issue_id"),
        Index("ix_bounce_events_mailbox_key", "source", "mailbox_key"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: pipe, imap, pop3, maildir, mbox, ses, postmark, sendgrid, mailgun, smtp
    source: Mapped[str] = mapped_column(String(20))
    #: hard, soft, complaint, delayed, autoreply, ignored, unknown
    kind: Mapped[str] = mapped_column(String(20))
    #: scored, suppressed, ignored, forged, no-token, unknown-subscriber, not-understood
    outcome: Mapped[str] = mapped_column(String(30))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"),
                                                      nullable=True)
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issues.id", ondelete="SET NULL"), nullable=True)
    #: the failed or complaining recipient as the report names it
    address: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(20), default="")  # RFC 3463 code, e.g. 5.1.1
    detail: Mapped[str] = mapped_column(Text, default="")  # diagnostic / feedback type / reason
    #: where the message was in its mailbox (IMAP UID, POP3 UIDL, file key) or the provider's event id
    mailbox_key: Mapped[str] = mapped_column(String(300), default="")
    raw: Mapped[str] = mapped_column(Text, default="")


class Issue(Base):
    __tablename__ = "issues"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issue_date: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in the schedule's zone
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="composed")  # composed|sending|sent
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    story_count: Mapped[int] = mapped_column(Integer, default=0)
    actor_count: Mapped[int] = mapped_column(Integer, default=0)
    article_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    story_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    content: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)


class Delivery(Base):
    """The delivery ledger: one row per issue and subscriber, claimed before sending."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("issue_id", "subscriber_id", name="uq_deliveries_issue_subscriber"),
        Index("ix_deliveries_issue_status", "issue_id", "status"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("issues.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|sending|sent|failed|bounced
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Meta(Base):
    """Small key/value settings kept by the application (generated secret, KB version...)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
