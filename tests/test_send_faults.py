"""A sick relay loses nobody and strikes nobody: real aiosmtpd relays on loopback that answer 451,
stall after their greeting, or refuse the message (552 size, 554 content, 530/535 auth).

* temporary trouble past ``retry_deadline_seconds``: the rows stay waiting, the issue is partly
  sent, and the next `digest send` (or the worker's hourly job) brings that same issue to all;
* a refusal of the message or the session fails the send with one line and strikes nobody;
  only a 5xx answer to one RCPT counts against that address.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import free_port, write_config
from relays import Relay, start_relay
from sqlalchemy import insert, select

from digest.cli.main import cli
from digest.config import Config, load_config
from digest.errors import MailError
from digest.issue import build as issues
from digest.issue.render import render_issue
from digest.mail.deliver import deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.sample import NOW, sample_issue
from digest.mail.send import send_due, send_issue
from digest.store import Delivery, Issue, Store, Subscriber, utcnow

BASE = "https://digest.example.org"


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay("127.0.0.1", free_port())
    controller = start_relay(r)
    try:
        yield r
    finally:
        r.heal()
        controller.stop()


def relay_config(tmp: Path, relay: Relay, **smtp: object) -> Path:
    keys = {"host": relay.host, "port": relay.port, "pool_size": 4, "retry_deadline_seconds": 2.0,
            "timeout_seconds": 3.0, **smtp}
    body = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in keys.items())
    return write_config(tmp, f"[smtp]\n{body}\n[newsletter]\nbase_url = \"{BASE}\"\n")


def healthy_config(tmp: Path, relay: Relay, **smtp: object) -> Config:
    """The config of a run after the relay healed: a deadline a loaded test machine cannot reach (the
    short one is for the faults; a healthy run that hit it would only leave readers waiting)."""
    return load_config(relay_config(tmp, relay, **{"retry_deadline_seconds": 120.0, **smtp}), root=tmp, env={})


def seed(store: Store, n: int) -> int:
    """``n`` confirmed readers and one rendered issue in state 'sending'; the issue id."""
    rows = [{"email": f"reader{i:04d}@example.net", "status": "confirmed", "token_nonce": f"n{i}",
             "hard_bounces": 0, "preferences": {}} for i in range(n)]
    content = sample_issue()
    r = render_issue(content, base_url=BASE, now=NOW)
    with store.session() as s:
        s.execute(insert(Subscriber), rows)
        issue = Issue(issue_date="2026-11-28", period_start=content.period_start, period_end=content.period_end,
                      subject=r.subject, html=r.html, text=r.text, status="sending")
        s.add(issue)
        s.flush()
        return issue.id


def everyone(n: int) -> set[str]:
    return {f"reader{i:04d}@example.net" for i in range(n)}


def strikes(store: Store) -> tuple[int, set[str]]:
    """(total hard bounces, the set of subscriber states)."""
    subs = store.subscribers()
    return sum(s.hard_bounces for s in subs), {s.status for s in subs}


def run(cfg: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)


def test_451_past_the_deadline_leaves_readers_waiting_and_the_next_send_brings_the_same_issue(
        tmp_path: Path, relay: Relay) -> None:
    n = 200
    cfg = relay_config(tmp_path, relay)
    store = Store.open(load_config(cfg, root=tmp_path, env={}))
    issue_id = seed(store, n)
    relay.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable, try again later"

    first = run(cfg, "send", "--no-poll")
    assert first.exit_code == 75, first.output  # EX_TEMPFAIL: readers wait for the next run
    assert "partly sent" in first.output and f"{n} readers wait" in first.output
    assert store.issue(issue_id).status == "partial"
    assert DeliveryLedger(store, issue_id).counts() == {"pending": n}
    assert strikes(store) == (0, {"confirmed"})
    status = run(cfg, "status")
    assert status.exit_code == 0 and "partly sent" in status.output
    assert f"waiting: {n} readers of issue #{issue_id}" in status.output
    assert "451 4.3.0 Mailbox temporarily unavailable" in status.output

    relay.heal()
    # the healthy run gets a deadline a loaded machine cannot reach (the 2 s one is for the 451s)
    cfg = relay_config(tmp_path, relay, retry_deadline_seconds=120.0)
    second = run(cfg, "send", "--no-poll")
    assert second.exit_code == 0, second.output
    assert f"resumed issue {issue_id}" in second.output
    assert set(relay.per_rcpt) == everyone(n) and set(relay.per_rcpt.values()) == {1}
    assert store.issue(issue_id).status == "sent"
    assert DeliveryLedger(store, issue_id).counts() == {"sent": n}
    with store.session() as s:
        assert s.scalar(select(Issue.id).order_by(Issue.id.desc()).limit(1)) == issue_id  # no new issue
    store.close()


def test_a_relay_that_stalls_after_its_greeting_loses_nobody(tmp_path: Path, relay: Relay) -> None:
    n = 200
    cfg_path = relay_config(tmp_path, relay)
    config = load_config(cfg_path, root=tmp_path, env={})
    store = Store.open(config)
    issue_id = seed(store, n)
    relay.stall_after = 20  # twenty messages go through, then every connection hangs after its greeting

    outcome = send_issue(store, config, processes=1)
    assert outcome.report is not None
    assert 20 <= relay.accepted < n
    assert outcome.waiting == n - relay.accepted and store.issue(issue_id).status == "partial"
    counts = DeliveryLedger(store, issue_id).counts()
    assert counts == {"sent": relay.accepted, "pending": n - relay.accepted}, counts

    relay.heal()
    again = send_issue(store, healthy_config(tmp_path, relay), processes=1)
    assert again.resumed and again.issue_id == issue_id and again.waiting == 0
    assert set(relay.per_rcpt) == everyone(n) and set(relay.per_rcpt.values()) == {1}
    assert store.issue(issue_id).status == "sent"
    store.close()


def test_a_healthy_relay_slower_than_the_deadline_is_not_cut_short(tmp_path: Path, relay: Relay) -> None:
    """The deadline counts from the last accepted message: a relay that takes every message, only
    slowly, gets the whole list in one send though the send lasts several deadlines."""
    n, deadline, pool = 60, 1.5, 2
    relay.delay = 0.1  # 60 messages over 2 connections: at least 3 s, twice the deadline
    config = load_config(relay_config(tmp_path, relay, pool_size=pool, retry_deadline_seconds=deadline),
                         root=tmp_path, env={})
    store = Store.open(config)
    issue_id = seed(store, n)
    outcome = send_issue(store, config, processes=1)
    assert outcome.waiting == 0, outcome.message
    assert outcome.report is not None and outcome.report.seconds >= n * relay.delay / pool > deadline
    assert set(relay.per_rcpt) == everyone(n) and set(relay.per_rcpt.values()) == {1}
    assert store.issue(issue_id).status == "sent"
    store.close()


def test_a_relay_stalled_from_the_start_fails_the_send_in_one_line_and_loses_nobody(
        tmp_path: Path, relay: Relay) -> None:
    cfg_path = relay_config(tmp_path, relay, timeout_seconds=1.0)
    config = load_config(cfg_path, root=tmp_path, env={})
    store = Store.open(config)
    issue_id = seed(store, 10)
    relay.stall_after = 0
    with pytest.raises(MailError, match="cannot reach the SMTP server") as exc:
        send_issue(store, config, processes=1)
    assert "\n" not in str(exc.value) and relay.accepted == 0
    relay.heal()
    assert send_issue(store, config, processes=1).waiting == 0
    assert set(relay.per_rcpt) == everyone(10) and store.issue(issue_id).status == "sent"
    store.close()


@pytest.mark.parametrize("refusal", ["size at MAIL FROM", "size at DATA", "content at DATA", "auth at MAIL FROM"])
def test_a_refused_message_fails_the_send_and_strikes_nobody(tmp_path: Path, refusal: str) -> None:
    """Three sends refused (as too big, for content, for want of authentication): nobody is struck
    or suppressed (max_hard_bounces = 3), the issue is not sent, and the relay's reply is the error."""
    r = Relay("127.0.0.1", free_port())
    kw: dict[str, object] = {}
    if refusal == "size at MAIL FROM":
        kw["data_size_limit"] = 2000  # advertised with EHLO SIZE; our SIZE= is refused at MAIL FROM
    elif refusal == "size at DATA":
        r.data_reply = "552 5.3.4 Message size exceeds fixed limit"
    elif refusal == "content at DATA":
        r.data_reply = "554 5.7.1 Message rejected as spam"
    else:
        r.mail_reply = "530 5.7.0 Authentication required"
    controller = start_relay(r, **kw)
    try:
        cfg_path = relay_config(tmp_path, r)
        config = load_config(cfg_path, root=tmp_path, env={})
        store = Store.open(config)
        issue_id = seed(store, 20)
        for _ in range(3):
            with pytest.raises(MailError) as exc:
                send_issue(store, config, processes=1)
            msg = str(exc.value)
            assert "\n" not in msg and "nobody was struck off" in msg
            assert any(code in msg for code in ("552", "554", "530")), msg
        assert strikes(store) == (0, {"confirmed"})
        assert store.issue(issue_id).status == "partial"
        counts = DeliveryLedger(store, issue_id).counts()
        assert counts == {"pending": 20}, counts
        with store.session() as s:
            assert not set(s.scalars(select(Delivery.status))) & {"bounced", "failed"}
        # the cause fixed (a relay that takes the message), the same issue reaches everyone once
        r.heal()
        controller.stop()
        controller = start_relay(r)
        assert send_issue(store, config, processes=1).waiting == 0
        assert set(r.per_rcpt) == everyone(20) and set(r.per_rcpt.values()) == {1}
        store.close()
    finally:
        controller.stop()


def test_an_authentication_failure_strikes_nobody(tmp_path: Path) -> None:
    """535 at AUTH (after the probe logged in, as when a password is revoked mid-run)."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[bool] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        logins.append(ok)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    r = Relay("127.0.0.1", free_port())
    controller = start_relay(r, authenticator=authenticator, auth_require_tls=False)
    try:
        cfg_path = relay_config(tmp_path, r, username="digest")
        config = load_config(cfg_path, root=tmp_path, env={"DIGEST_SMTP_PASSWORD": "wrong"})
        store = Store.open(config)
        issue_id = seed(store, 10)
        issue = store.issue(issue_id)
        report = deliver(store, config.smtp, issue_id,
                         issues.factory_for(store, config, issue, issues.rendered_of(issue)))
        assert logins and not any(logins)
        assert "535" in report.fatal and report.sent == 0 and report.bounced == 0
        assert strikes(store) == (0, {"confirmed"})
        assert DeliveryLedger(store, issue_id).counts() == {"pending": 10}
        store.close()
    finally:
        controller.stop()


def test_only_a_5xx_to_rcpt_counts_against_the_address(tmp_path: Path, relay: Relay) -> None:
    cfg_path = relay_config(tmp_path, relay, max_hard_bounces=1)
    config = load_config(cfg_path, root=tmp_path, env={})
    store = Store.open(config)
    issue_id = seed(store, 5)
    relay.rcpt_reply = "550 5.1.1 No such user"
    outcome = send_issue(store, config, processes=1)
    assert outcome.waiting == 0 and outcome.report is not None and outcome.report.bounced == 5
    assert strikes(store) == (5, {"suppressed"})
    assert store.issue(issue_id).status == "sent"
    store.close()


def the_hourly_job_brings_it_to_all(tmp: Path, relay: Relay, store: Store, issue_id: int, n: int) -> None:
    """Heal the relay, run the worker's hourly job once: the issue reaches all ``n``, once each."""
    from digest.ops.worker import _jobs

    relay.heal()
    _poll, _send, hourly = _jobs(healthy_config(tmp, relay))
    hourly()
    assert set(relay.per_rcpt) == everyone(n) and set(relay.per_rcpt.values()) == {1}
    assert store.issue(issue_id).status == "sent"
    store.close()


def test_the_workers_hourly_job_resumes_a_partly_sent_issue(tmp_path: Path, relay: Relay) -> None:
    cfg_path = relay_config(tmp_path, relay)
    config = load_config(cfg_path, root=tmp_path, env={})
    store = Store.open(config)
    issue_id = seed(store, 30)
    relay.rcpt_reply = "421 4.7.0 Too many connections, try later"
    assert send_issue(store, config, processes=1).waiting == 30
    the_hourly_job_brings_it_to_all(tmp_path, relay, store, issue_id, 30)


def test_an_unreachable_relay_leaves_the_issue_partly_sent_with_the_reason(tmp_path: Path) -> None:
    r = Relay("127.0.0.1", free_port())  # nothing listens there yet: connections are refused
    cfg = relay_config(tmp_path, r)
    store = Store.open(load_config(cfg, root=tmp_path, env={}))
    issue_id = seed(store, 20)
    first = run(cfg, "send", "--no-poll")
    assert first.exit_code == 75, first.output  # EX_TEMPFAIL, as for any partly sent issue
    assert "cannot reach the SMTP server" in first.output and f"issue {issue_id} is partly sent" in first.output
    assert store.issue(issue_id).status == "partial"
    waiting, reasons = DeliveryLedger(store, issue_id).waiting()
    assert waiting == 20 and reasons and reasons[0][1] == 20
    assert reasons[0][0].startswith(f"cannot reach the SMTP server 127.0.0.1:{r.port}")
    status = run(cfg, "status")
    assert status.exit_code == 0 and "partly sent: 20 waiting" in status.output
    assert f"waiting: 20 readers of issue #{issue_id}" in status.output
    assert "cannot reach the SMTP server" in status.output

    controller = start_relay(r)  # the relay is back
    try:
        second = run(relay_config(tmp_path, r, retry_deadline_seconds=120.0), "send", "--no-poll")
        assert second.exit_code == 0, second.output
        assert f"resumed issue {issue_id}" in second.output
        assert set(r.per_rcpt) == everyone(20) and set(r.per_rcpt.values()) == {1}
        assert store.issue(issue_id).status == "sent"
    finally:
        controller.stop()
    store.close()


def test_the_hourly_send_leaves_its_issue_partly_sent_while_readers_wait(tmp_path: Path, relay: Relay) -> None:
    """The worker's local-hour delivery: readers the relay put off make the issue partly sent (it
    was 'sent' for everyone else), so the worker's next hourly run resumes it."""
    from digest.issue.variants import local_now

    config = load_config(relay_config(tmp_path, relay), root=tmp_path, env={})
    store = Store.open(config)
    issue_id = seed(store, 30)
    now = utcnow()
    hour = local_now({}, now, config.schedule.timezone).hour
    with store.session() as s:
        for sub in s.scalars(select(Subscriber)):
            sub.preferences = {"hour": hour}
        s.get(Issue, issue_id).status = "sent"  # type: ignore[union-attr]
    relay.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable, try again later"
    outcome = send_due(store, config, now)
    assert outcome.waiting == 30
    assert store.issue(issue_id).status == "partial"
    assert store.open_issue() is not None and store.open_issue().id == issue_id  # type: ignore[union-attr]

    the_hourly_job_brings_it_to_all(tmp_path, relay, store, issue_id, 30)
