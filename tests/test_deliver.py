"""Delivery through a real aiosmtpd server: multipart, headers, ledger, exactly once, bounces."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from conftest import SmtpSink
from sqlalchemy import select, update

from digest.config import Config
from digest.issue.render import UNSUBSCRIBE, RenderedIssue
from digest.mail.deliver import deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.message import MessageFactory
from digest.store import Delivery, Issue, Store, utcnow
from digest.tokens import TokenSigner


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
    assert report.sent == 5 and report.waiting == 0
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
    # the relay recovers right after refusing once: no timer racing a slow start-up
    smtp_server.refuse = RefuseOnce(smtp_server.refuse)
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
    assert report.sent == 0 and report.retried >= 1
    # still waiting for the next run, with the reason: a relay that is down loses nobody
    assert (report.waiting, DeliveryLedger(store, issue.id).counts()) == (1, {"pending": 1})
    assert report.last_error


# ---- the ledger on both databases ------------------------------------------------------------------
def seed_store(store: Store, n: int) -> Issue:
    for i in range(n):
        store.add_subscriber(f"s{i}@example.org", confirmed=True)
    return make_issue(store)


def test_two_claimers_never_get_the_same_row(store: Store) -> None:
    issue = seed_store(store, 10)
    a, b = DeliveryLedger(store, issue.id), DeliveryLedger(store, issue.id)
    b.me = a.me + "-other"
    assert a.enqueue() == 10 and b.enqueue() == 0
    first, second, third = a.claim(4), b.claim(4), a.claim(4)
    ids = [c.delivery_id for c in first + second + third]
    assert len(ids) == 10 and len(set(ids)) == 10
    assert a.claim(4) == [] and b.claim(4) == []
    assert DeliveryLedger(store, issue.id).counts() == {"sending": 10}


def test_only_rows_of_dead_or_recycled_processes_are_reclaimed(store: Store) -> None:
    import os

    from digest.mail.ledger import HOST

    issue = seed_store(store, 3)
    ledger = DeliveryLedger(store, issue.id)
    ledger.enqueue()
    rows = ledger.claim(3)
    owners = [f"{HOST}:999999999:1",            # dead pid
              f"{HOST}:{os.getppid()}:0",       # a live pid whose start time differs: recycled
              f"{HOST}:{os.getppid()}"]         # a live process (old owner format)
    with store.session() as s:
        for c, owner in zip(rows, owners):
            s.execute(update(Delivery).where(Delivery.id == c.delivery_id).values(claimed_by=owner))
    assert DeliveryLedger(store, issue.id).reclaim_stale() == 2
    assert DeliveryLedger(store, issue.id).counts() == {"pending": 2, "sending": 1}


def test_hard_bounces_over_several_issues_suppress_the_address(smtp_config: Config, smtp_server: SmtpSink) -> None:
    cfg = smtp_config.replace(smtp={"max_hard_bounces": 2})
    store = Store.open(cfg)
    store.add_subscriber("ok@example.org", confirmed=True)
    store.add_subscriber("gone@example.org", confirmed=True)
    smtp_server.refuse["gone@example.org"] = (550, "5.1.1 mailbox unavailable")
    first = make_issue(store)
    r1 = deliver(store, cfg.smtp, first.id, factory(store, first))
    assert (r1.sent, r1.bounced, r1.suppressed) == (1, 1, 0)
    assert store.subscriber(email="gone@example.org").status == "confirmed"
    second = make_issue(store)
    r2 = deliver(store, cfg.smtp, second.id, factory(store, second))
    assert (r2.sent, r2.bounced, r2.suppressed) == (1, 1, 1)
    sub = store.subscriber(email="gone@example.org")
    assert sub.status == "suppressed" and sub.hard_bounces == 2
    with store.session() as s:
        err = s.scalar(select(Delivery.last_error).where(Delivery.issue_id == second.id,
                                                         Delivery.status == "bounced"))
    assert err is not None and err.startswith("550")
    third = make_issue(store)
    r3 = deliver(store, cfg.smtp, third.id, factory(store, third))
    assert r3.sent == 1 and r3.bounced == 0  # a suppressed address is not even tried
    assert len(smtp_server.to("ok@example.org")) == 3


def test_a_variant_chooser_can_skip_recipients(smtp_config: Config, smtp_server: SmtpSink) -> None:
    store = Store.open(smtp_config)
    for i in range(4):
        store.add_subscriber(f"v{i}@example.org", confirmed=True)
    issue = make_issue(store)
    f = factory(store, issue)
    report = deliver(store, smtp_config.smtp, issue.id, f,
                     factory_for=lambda c: None if c.email.startswith(("v1", "v3")) else f)
    assert (report.sent, report.skipped) == (2, 2)
    assert sorted(r for _f, to, _d in smtp_server.messages for r in to) == ["v0@example.org", "v2@example.org"]
    assert DeliveryLedger(store, issue.id).counts() == {"sent": 2, "skipped": 2}


def test_several_sender_processes_share_the_ledger(smtp_config: Config, smtp_server: SmtpSink) -> None:
    from digest.mail.parallel import deliver_parallel

    store = Store.open(smtp_config)
    for i in range(60):
        store.add_subscriber(f"p{i:02d}@example.org", confirmed=True)
    issue = make_issue(store)
    seen: list[tuple[int, int]] = []
    report = deliver_parallel(store, smtp_config.database_url, smtp_config.smtp, issue.id, factory(store, issue), 2,
                              batch=7, progress=lambda d, t: seen.append((d, t)))
    assert report.sent == 60 and report.processes == 2 and not report.errors
    rcpts = [r for _f, to, _d in smtp_server.messages for r in to]
    assert sorted(rcpts) == [f"p{i:02d}@example.org" for i in range(60)]
    assert seen and seen[-1] == (60, 60)
    with store.session() as s:
        owners = set(s.scalars(select(Delivery.claimed_by).where(Delivery.issue_id == issue.id)))
    assert len(owners) >= 1 and all(o and o.count(":") == 2 for o in owners)


def test_send_issue_resumes_the_open_issue_in_several_processes(smtp_config: Config, smtp_server: SmtpSink) -> None:
    from digest.mail.send import send_issue

    store = Store.open(smtp_config)
    for i in range(30):
        store.add_subscriber(f"q{i:02d}@example.org", confirmed=True)
    issue = make_issue(store)
    outcome = send_issue(store, smtp_config, processes=2)
    assert outcome.issue_id == issue.id and outcome.resumed and outcome.report is not None
    assert outcome.report.sent == 30 and "by 2 processes" in outcome.message
    assert store.issue(issue.id).status == "sent"
    assert len(smtp_server.messages) == 30


def test_starttls_and_authentication(config: Config, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import ssl
    import subprocess

    import pytest
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
    from conftest import free_port

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed (needed for a test certificate)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    received: list[tuple[str, bytes]] = []
    logins: list[str] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        if ok:
            logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            assert session.ssl is not None and session.authenticated
            received.append((envelope.rcpt_tos[0], envelope.content))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=ctx, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate
        cfg = config.replace(smtp={"host": "127.0.0.1", "port": port, "starttls": True, "username": "digest",
                                   "password": "s3cret", "pool_size": 2, "retry_deadline_seconds": 5.0})
        store = Store.open(cfg)
        store.add_subscriber("tls@example.org", confirmed=True)
        issue = make_issue(store)
        report = deliver(store, cfg.smtp, issue.id, factory(store, issue))
    finally:
        controller.stop()
    assert report.sent == 1, report.errors
    assert received[0][0] == "tls@example.org" and logins == ["digest"]


class RefuseOnce(dict):  # type: ignore[type-arg]
    """Refusals that each answer one RCPT, then the address is accepted (a relay that recovers)."""

    def __getitem__(self, key: str) -> tuple[int, str]:
        return dict.pop(self, key)
