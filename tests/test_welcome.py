"""The welcome mail: a reader who confirms gets the latest issue once, through the ledger, from real aiosmtpd.

SQLite and PostgreSQL; the confirmation link is followed through the web app, so the welcome is
sent by the same background task a real confirmation runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import SmtpSink, decoded_subject, free_port
from issue_fixture import NOW, composed_issue
from sqlalchemy import select, update
from test_web import BASE, TestClient, body_text

from digest.config import Config
from digest.issue.render import render_issue
from digest.issue.serialize import issue_to_json
from digest.mail.welcome import resume_welcomes, send_welcome
from digest.store import Delivery, Issue, Store, utcnow
from digest.tokens import TokenSigner
from digest.web import create_app


@pytest.fixture
def wconfig(smtp_config: Config) -> Config:
    return smtp_config.replace(newsletter={"base_url": BASE}, security={"secret_key": "w" * 32})


@pytest.fixture
def wstore(wconfig: Config, db_url: str) -> Iterator[Store]:
    store = Store.open(wconfig.replace(database={"url": db_url}))
    try:
        yield store
    finally:
        store.close()


def sent_issue(store: Store, *, stories: bool = True) -> int:
    content = composed_issue()
    rendered = render_issue(content, base_url=BASE, now=NOW)
    with store.session() as s:
        row = Issue(issue_date="2026-11-28", period_start=NOW, period_end=NOW, subject=rendered.subject,
                    html=rendered.html, text=rendered.text, status="sent", sent_at=utcnow(),
                    story_count=7 if stories else 0, actor_count=5, article_ids=[], story_keys=[],
                    content=issue_to_json(content))
        s.add(row)
        s.flush()
        return row.id


def confirm_link(config: Config, store: Store, email: str) -> str:
    sub, _ = store.add_subscriber(email)
    signer = TokenSigner(store.secret_key(config.security.secret_key))
    return f"/confirm/{signer.sign('confirm', sub.id, sub.confirm_nonce)}"


def deliveries(store: Store, email: str) -> list[tuple[int, str]]:
    sub = store.subscriber(email=email)
    assert sub is not None
    with store.session() as s:
        return [(r.issue_id, r.status) for r in s.scalars(select(Delivery).where(Delivery.subscriber_id == sub.id))]


def test_confirming_sends_the_latest_issue_once(wconfig: Config, wstore: Store, smtp_server: SmtpSink) -> None:
    sent_issue(wstore)
    latest = sent_issue(wstore)
    sent_issue(wstore, stories=False)  # a later issue sent with --send-empty welcomes nobody
    link = confirm_link(wconfig, wstore, "new.reader@example.org")
    with TestClient(create_app(wconfig, wstore)) as c:
        r = c.get(link)
        assert r.status_code == 200 and "You are subscribed" in r.text
        mails = smtp_server.to("new.reader@example.org")
        assert len(mails) == 1
        mail = mails[0]
        assert decoded_subject(mail).startswith("Welcome! Cyber Digest, 28 Nov 2026")
        assert mail["List-Unsubscribe"] and "One-Click" in mail["List-Unsubscribe-Post"]
        parts = {p.get_content_type(): p for p in mail.walk() if not p.is_multipart()}
        text, html = body_text(parts["text/plain"]), body_text(parts["text/html"])
        for body in (text, html):
            assert "Welcome to Cyber Digest" in body and "thank you for confirming" in body
            assert "%%" not in body and f"{BASE}/unsubscribe/" in body
        assert "Jewelbug" in text  # the issue itself, not only a greeting
        assert deliveries(wstore, "new.reader@example.org") == [(latest, "sent")]

        # the same link again, and an unsubscribe followed by a new sign-up: no second welcome
        assert c.get(link).status_code == 200
        sub = wstore.subscriber(email="new.reader@example.org")
        assert sub is not None
        from digest.web import queries

        queries.unsubscribe(wstore, sub.id)
        c.get(confirm_link(wconfig, wstore, "new.reader@example.org"))
        assert wstore.subscriber(email="new.reader@example.org").status == "confirmed"  # type: ignore[union-attr]
    assert len(smtp_server.to("new.reader@example.org")) == 1
    assert send_welcome(wstore, wconfig, sub.id).sent is False


def test_welcome_can_be_turned_off(wconfig: Config, wstore: Store, smtp_server: SmtpSink) -> None:
    sent_issue(wstore)
    off = wconfig.replace(newsletter={"welcome": False})
    with TestClient(create_app(off, wstore)) as c:
        assert c.get(confirm_link(off, wstore, "quiet@example.org")).status_code == 200
    assert smtp_server.messages == []
    assert deliveries(wstore, "quiet@example.org") == []


def test_no_issue_yet_no_welcome(wconfig: Config, wstore: Store, smtp_server: SmtpSink) -> None:
    with TestClient(create_app(wconfig, wstore)) as c:
        assert c.get(confirm_link(wconfig, wstore, "early@example.org")).status_code == 200
    assert smtp_server.messages == []


def test_welcome_left_waiting_by_a_down_relay_is_sent_later_once(wconfig: Config, wstore: Store,
                                                                 smtp_server: SmtpSink) -> None:
    issue_id = sent_issue(wstore)
    sub, _ = wstore.add_subscriber("patient@example.org", confirmed=True)
    other, _ = wstore.add_subscriber("other@example.org", confirmed=True)
    down = wconfig.replace(smtp={"port": free_port(), "retry_deadline_seconds": 1.0})
    outcome = send_welcome(wstore, down, sub.id, deadline_seconds=1.0)
    assert not outcome.sent and "not sent yet" in outcome.message
    assert deliveries(wstore, "patient@example.org") == [(issue_id, "pending")]
    assert deliveries(wstore, "other@example.org") == []  # only the new reader's row, nobody else's
    with wstore.session() as s:  # the retry time has come
        s.execute(update(Delivery).values(next_attempt_at=None))
    assert resume_welcomes(wstore, wconfig) == 1
    assert resume_welcomes(wstore, wconfig) == 0
    assert len(smtp_server.to("patient@example.org")) == 1 and len(smtp_server.messages) == 1
    assert decoded_subject(smtp_server.to("patient@example.org")[0]).startswith("Welcome! ")
    assert deliveries(wstore, "patient@example.org") == [(issue_id, "sent")]
    assert other.id != sub.id
