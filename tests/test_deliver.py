"""Delivery through a real aiosmtpd server: multipart, headers, ledger, exactly once, bounces."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from sqlalchemy import select, update

from digest.config import Config
from digest.mail.deliver import deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.message import MessageFactory
from digest.render import UNSUBSCRIBE, RenderedIssue
from digest.store import Delivery, Issue, Store, utcnow
from digest.tokens import TokenSigner

from conftest import SmtpSink


def make_issue(store: Store) -> Issue:
    now = utcnow()
    with store.session() as s:
        issue = Issue(issue_date=now.strftime("%Y-%m-%d"), period_start=now, period_end=now, subject="Digest",
                      html=f'<p>News <a href="{UNSUBSCRIBE}">unsubscribe</a></p>',
                      text=f"News\nUnsubscribe: {UNSUBSCRIBE}\n", status="sending")
        s.add(issue)
        s.flush()
        return issue


def factory(store: Store, issue: Issue) -> MessageFactory:
    return MessageFactory(RenderedIssue(issue.subject, issue.html, issue.text, ""), sender="D <d@example.org>",
                          base_url="http://127.0.0.1:8000", signer=TokenSigner(store.secret_key()),
                          issue_id=issue.id)


def test_send_reaches_every_confirmed_subscriber_once(smtp_config: Config, smtp_server: SmtpSink) -> None:
    store = Store.open(smtp_config)
    for i in range(5):
        store.add_subscriber(f"r{i}@example.org", confirmed=True)
    store.add_subscriber("pending@example.org")
    gone, _ = store.add_subscriber("gone@example.org", confirmed=True)
    store.set_subscriber_status(gone.id, "unsubscribed")
    issue = make_issue(store)

    report = deliver(store, smtp_config.smtp, issue.id, factory(store, issue))
    assert report.sent == 5 and report.failed == 0
    rcpts = sorted(r for _f, to, _d in smtp_server.messages for r in to)
    assert rcpts == [f"r{i}@example.org" for i in range(5)]
    msg = BytesParser(policy=policy.default).parsebytes(smtp_server.messages[0][2])
    assert msg.is_multipart() and {p.get_content_type() for p in msg.iter_parts()} == {"text/plain", "text/html"}
    assert "/unsubscribe/" in str(msg["List-Unsubscribe"])
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    again = deliver(store, smtp_config.smtp, issue.id, factory(store, issue))
    assert again.sent == 0 and len(smtp_server.messages) == 5
    assert DeliveryLedger(store, issue.id).counts() == {"sent": 5}


def test_a_hard_bounce_is_final_and_others_still_get_it(smtp_config: Config, smtp_server: SmtpSink) -> None:
    store = Store.open(smtp_config.replace(smtp={"max_hard_bounces": 1}))
    for addr in ("ok1@example.org", "bad@example.org", "ok2@example.org"):
        store.add_subscriber(addr, confirmed=True)
    smtp_server.refuse["bad@example.org"] = (550, "5.1.1 no such user")
    issue = make_issue(store)
    report = deliver(store, smtp_config.replace(smtp={"max_hard_bounces": 1}).smtp, issue.id, factory(store, issue))
    assert (report.sent, report.bounced, report.suppressed) == (2, 1, 1)
    assert store.subscriber(email="bad@example.org").status == "suppressed"
    assert DeliveryLedger(store, issue.id).counts() == {"sent": 2, "bounced": 1}


def test_a_temporary_failure_is_retried_until_accepted(smtp_config: Config, smtp_server: SmtpSink) -> None:
    store = Store.open(smtp_config)
    store.add_subscriber("later@example.org", confirmed=True)
    smtp_server.refuse["later@example.org"] = (451, "4.3.0 try again later")
    issue = make_issue(store)
    ledger = DeliveryLedger(store, issue.id)
    ledger.enqueue()
    # first attempt fails with 4xx and is scheduled for retry; the server then recovers
    cfg = smtp_config.replace(smtp={"retry_deadline_seconds": 30.0})
    import threading

    threading.Timer(0.3, lambda: smtp_server.refuse.clear()).start()
    report = deliver(store, cfg.smtp, issue.id, factory(store, issue))
    assert report.retried >= 1 and report.sent == 1
    assert len(smtp_server.to("later@example.org")) == 1


def test_rows_left_in_flight_by_a_dead_process_are_sent_on_the_next_run(smtp_config: Config,
                                                                      smtp_server: SmtpSink) -> None:
    store = Store.open(smtp_config)
    for i in range(4):
        store.add_subscriber(f"r{i}@example.org", confirmed=True)
    issue = make_issue(store)
    ledger = DeliveryLedger(store, issue.id)
    ledger.enqueue()
    claimed = ledger.claim(2)
    # pretend the claiming process died (a pid that cannot exist) after one message went out
    ledger.mark_sent([claimed[0].delivery_id])
    with store.session() as s:
        s.execute(update(Delivery).where(Delivery.id == claimed[1].delivery_id)
                  .values(claimed_by=f"{ledger.me.rsplit(':', 1)[0]}:999999999"))
    report = deliver(store, smtp_config.smtp, issue.id, factory(store, issue))
    assert report.reclaimed == 1 and report.sent == 3
    with store.session() as s:
        assert set(s.scalars(select(Delivery.status))) == {"sent"}
    assert sorted(r for _f, to, _d in smtp_server.messages for r in to) == ["r1@example.org", "r2@example.org",
                                                                          "r3@example.org"]


def test_unreachable_smtp_server_fails_cleanly_after_the_deadline(smtp_config: Config) -> None:
    from conftest import free_port

    cfg = smtp_config.replace(smtp={"port": free_port(), "retry_deadline_seconds": 0.5, "timeout_seconds": 2.0})
    store = Store.open(cfg)
    store.add_subscriber("a@example.org", confirmed=True)
    issue = make_issue(store)
    report = deliver(store, cfg.smtp, issue.id, factory(store, issue))
    assert report.sent == 0
    assert report.failed + report.retried >= 1
    assert DeliveryLedger(store, issue.id).counts().get("sent") is None
