"""Every bounce intake end to end: aiosmtpd as the relay, the pipe (`digest bounces process`), a
Maildir, an mbox, and a real Dovecot serving IMAP and POP3 on loopback."""

from __future__ import annotations

import imaplib
import mailbox
import os
import random
import subprocess
import sys
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

import bounce_fixtures as fx
import pytest
from conftest import ROOT, SmtpSink, free_port, write_config
from dovecot import running_dovecot
from sqlalchemy import func, select
from test_deliver import make_issue

from digest.config import Config, load_config
from digest.issue.build import make_factory, rendered_of
from digest.mail.deliver import deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.mailbox import fetch
from digest.mail.verp import reader
from digest.store import BounceEvent, Delivery, Issue, Store, Subscriber, utcnow

SECRET = "s" * 32


def _config(tmp: Path, extra: str = "", **env: str) -> tuple[Path, Config]:
    path = write_config(tmp, extra)
    return path, load_config(path, env={"DIGEST_SECURITY_SECRET_KEY": SECRET, **env}, root=tmp)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("DIGEST_") and not k.startswith("DIGEST_TEST_"))}
    for name in ("RECIPIENT", "ORIGINAL_RECIPIENT"):
        env.pop(name, None)
    env.update(DIGEST_SECURITY_SECRET_KEY=SECRET, **extra)
    return env


def _digest(config_file: Path, *args: str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "digest", "--config", str(config_file), *args], input=stdin,
                          capture_output=True, check=False, cwd=config_file.parent, env=_env(**env), timeout=120)


def _sent_issue(store: Store, n: int, domain: str = "example.net") -> tuple[int, list[int]]:
    """An issue 'sent' to ``n`` confirmed subscribers (ledger rows 'sent')."""
    now = utcnow()
    with store.session() as s:
        issue = Issue(issue_date=now.strftime("%Y-%m-%d"), period_start=now, period_end=now, subject="D",
                      html="", text="", status="sent", sent_at=now)
        s.add(issue)
        s.flush()
        iid = issue.id
    ids = []
    for i in range(n):
        sub, _ = store.add_subscriber(f"reader{i}@{domain}", confirmed=True)
        ids.append(sub.id)
    with store.session() as s:
        s.add_all([Delivery(issue_id=iid, subscriber_id=sid, status="sent", attempts=1, sent_at=now) for sid in ids])
    return iid, ids


def _status(store: Store, sid: int) -> tuple[str, float, str | None]:
    sub = store.subscriber(id=sid)
    assert sub is not None
    return sub.status, sub.bounce_score, sub.suppressed_reason


# ---- VERP on the wire ----------------------------------------------------------------------------
def test_each_message_goes_out_from_its_own_signed_verp_address(tmp_path: Path, smtp_server: SmtpSink) -> None:
    _path, cfg = _config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    store = Store.open(cfg)
    subs = [store.add_subscriber(f"r{i}@example.net", confirmed=True)[0] for i in range(3)]
    issue = make_issue(store)
    key = store.secret_key(SECRET)
    report = deliver(store, cfg.smtp, issue.id, make_factory(cfg, key, issue.id, rendered_of(issue)))
    assert report.sent == 3
    verp = reader(cfg, key)
    senders = {}
    for mail_from, rcpts, data in smtp_server.messages:
        msg = message_from_bytes(data)
        assert parseaddr(msg["From"])[1] == "digest@example.org"  # the From header is unchanged
        assert "/unsubscribe/" in msg["List-Unsubscribe"]
        _token, claims = verp.parse(mail_from)
        assert claims is not None and claims.issue_id == issue.id
        senders[rcpts[0]] = claims.subscriber_id
    assert senders == {s.email: s.id for s in subs}
    assert len({m[0] for m in smtp_server.messages}) == 3  # one envelope sender per reader


def test_verp_off_keeps_the_sender_address(tmp_path: Path, smtp_server: SmtpSink) -> None:
    _path, cfg = _config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n[bounces]\nverp = false\n')
    store = Store.open(cfg)
    store.add_subscriber("r@example.net", confirmed=True)
    issue = make_issue(store)
    deliver(store, cfg.smtp, issue.id, make_factory(cfg, store.secret_key(SECRET), issue.id, rendered_of(issue)))
    assert [m[0] for m in smtp_server.messages] == ["digest@example.org"]


# ---- the pipe ------------------------------------------------------------------------------------
def test_pipe_alias_round_trip(tmp_path: Path, smtp_server: SmtpSink) -> None:
    """The relay's copy goes out from VERP; the DSN the remote side writes back to that address is
    piped to `digest bounces process -` and suppresses exactly that reader."""
    path, cfg = _config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    store = Store.open(cfg)
    a, _ = store.add_subscriber("gone@example.net", confirmed=True)
    b, _ = store.add_subscriber("fine@example.net", confirmed=True)
    issue = make_issue(store)
    deliver(store, cfg.smtp, issue.id, make_factory(cfg, store.secret_key(SECRET), issue.id, rendered_of(issue)))
    envelope = {rcpts[0]: mail_from for mail_from, rcpts, _d in smtp_server.messages}

    r = _digest(path, "bounces", "process", "-", stdin=fx.postfix(envelope["gone@example.net"], "gone@example.net"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("suppressed: hard")
    assert _status(store, a.id)[0] == "suppressed" and _status(store, b.id)[0] == "confirmed"

    # a forged one: b's address with a made-up MAC; exit 0 (the MTA must not bounce the bounce), kept aside
    forged = envelope["fine@example.net"].rsplit("-", 1)[0] + "-" + "c" * 20 + "@example.org"
    r = _digest(path, "bounces", "process", stdin=fx.gmail(forged, "fine@example.net"))
    assert r.returncode == 0 and r.stdout.decode().startswith("set aside: forged")
    assert len(r.stderr.decode().strip().splitlines()) == 1  # one log line
    assert _status(store, b.id)[0] == "confirmed"
    aside = list((tmp_path / "var" / "bounces-aside" / "new").iterdir())
    assert len(aside) == 1 and aside[0].read_bytes() == fx.gmail(forged, "fine@example.net")

    # the envelope recipient as Postfix's pipe passes it, when the headers do not name it
    dsn = fx.ses_dsn("someone@example.org", "fine@example.net").replace(b"To: someone@example.org", b"To: x@y")
    r = _digest(path, "bounces", "process", stdin=dsn, ORIGINAL_RECIPIENT=envelope["fine@example.net"])
    assert r.returncode == 0 and _status(store, b.id)[0] == "suppressed"

    listed = _digest(path, "subscribers", "list", "--status", "suppressed").stdout.decode()
    assert "gone@example.net\tsuppressed" in listed and "5.1.1" in listed and "fine@example.net" in listed
    events = _digest(path, "bounces", "list").stdout.decode().splitlines()
    assert [ln.split("\t")[3] for ln in events] == ["suppressed", "forged", "suppressed"]

    r = _digest(path, "subscribers", "unsuppress", "gone@example.net")
    assert r.returncode == 0 and _status(store, a.id) == ("confirmed", 0.0, None)
    assert _digest(path, "subscribers", "unsuppress", "gone@example.net").returncode == 1


def test_pipe_exit_codes(tmp_path: Path) -> None:
    path, _cfg = _config(tmp_path)
    r = _digest(path, "bounces", "process", str(tmp_path / "missing.eml"))
    assert r.returncode == 66 and b"cannot read" in r.stderr
    down = write_config(tmp_path / "down" if (tmp_path / "down").mkdir() is None else tmp_path,
                        db_url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    r = _digest(down, "bounces", "process", "-", stdin=fx.postfix("bounces+1-0-aaaaaaaaaaaaaaaaaaaa@example.org", "x@y.z"))
    assert r.returncode == 75, r.stderr  # EX_TEMPFAIL: the MTA keeps the message and tries again
    help_text = _digest(path, "bounces", "process", "--help").stdout.decode()
    assert "75" in help_text and "66" in help_text


def test_suppressed_readers_get_nothing_more(tmp_path: Path, smtp_server: SmtpSink) -> None:
    _path, cfg = _config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    store = Store.open(cfg)
    iid, (a, b) = _sent_issue(store, 2)
    from digest.mail.intake import Intake

    intake = Intake(store, cfg)
    assert intake.process_message(fx.arf(intake.verp.address(a, iid), "reader0@example.net"), "pipe").outcome \
        == "suppressed"
    issue = make_issue(store)
    deliver(store, cfg.smtp, issue.id, make_factory(cfg, store.secret_key(SECRET), issue.id, rendered_of(issue)))
    assert [m[1] for m in smtp_server.messages] == [["reader1@example.net"]]
    # one queued before the complaint came in is skipped, not sent
    issue2 = make_issue(store)
    intake.process_message(fx.gmail(intake.verp.address(b, iid), "reader1@example.net"), "pipe")
    with store.session() as s:
        s.add(Delivery(issue_id=issue2.id, subscriber_id=b, status="pending", attempts=0))
    deliver(store, cfg.smtp, issue2.id, make_factory(cfg, store.secret_key(SECRET), issue2.id, rendered_of(issue2)),
            enqueue=False)
    assert len(smtp_server.messages) == 1 and DeliveryLedger(store, issue2.id).counts() == {"skipped": 1}


# ---- local Maildir and mbox ----------------------------------------------------------------------
def _mix(verp, iid: int, ids: list[int]) -> list[tuple[bytes, bool]]:  # type: ignore[no-untyped-def]
    """(message, understood) for: hard, soft, complaint, auto-reply, garbage, forged, no-token."""
    a, b, c, d = ids[:4]
    return [
        (fx.postfix(verp.address(a, iid), "reader0@example.net"), True),
        (fx.exchange(verp.address(b, iid), "reader1@example.net"), True),
        (fx.arf(verp.address(c, iid), "reader2@example.net"), True),
        (fx.auto_reply(verp.address(d, iid), "reader3@example.net"), True),
        (fx.garbage(2), False),
        (fx.postfix(f"bounces+{d}-{iid}-{'e' * 20}@example.org", "reader3@example.net"), False),
        (fx.exim("digest@example.org", "reader3@example.net"), False),
    ]


def _check_mix(store: Store, ids: list[int]) -> None:
    a, b, c, d = ids[:4]
    assert _status(store, a)[0] == "suppressed"
    assert _status(store, b)[:2] == ("confirmed", 0.5)
    assert _status(store, c)[0] == "suppressed" and "complaint" in (_status(store, c)[2] or "")
    assert _status(store, d)[:2] == ("confirmed", 0.0)


def test_maildir_understood_deleted_the_rest_moved_aside(tmp_path: Path) -> None:
    box_path = tmp_path / "bounces.maildir"
    box = mailbox.Maildir(box_path, create=True)
    _p, cfg = _config(tmp_path, f'[bounces]\nmailbox = "maildir"\npath = "{box_path}"\n')
    store = Store.open(cfg)
    iid, ids = _sent_issue(store, 4)
    mix = _mix(reader(cfg, store.secret_key(SECRET)), iid, ids)
    for raw, _u in mix:
        box.add(raw)
    report = fetch(store, cfg)
    assert (report.read, report.understood, report.set_aside) == (7, 4, 3)
    _check_mix(store, ids)
    assert len(box) == 0
    aside = box.get_folder("digest-not-understood")
    assert sorted(aside.get_bytes(k) for k in aside.iterkeys()) == sorted(raw for raw, u in mix if not u)
    assert fetch(store, cfg).read == 0  # nothing is read twice


def test_mbox_understood_deleted_the_rest_moved_aside(tmp_path: Path) -> None:
    box_path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(box_path, create=True)
    _p, cfg = _config(tmp_path, f'[bounces]\nmailbox = "mbox"\npath = "{box_path}"\n')
    store = Store.open(cfg)
    iid, ids = _sent_issue(store, 4)
    mix = [(raw, u) for raw, u in _mix(reader(cfg, store.secret_key(SECRET)), iid, ids) if raw.strip()]
    for raw, _u in mix:
        box.add(raw)
    box.flush()
    box.close()
    report = fetch(store, cfg)
    assert (report.understood, report.set_aside) == (4, 3)
    _check_mix(store, ids)
    left = mailbox.mbox(box_path)
    assert len(left) == 0
    left.close()
    aside = mailbox.mbox(f"{box_path}.digest-not-understood")
    kept = sorted(aside.get_bytes(k) for k in aside.iterkeys())
    aside.close()
    assert kept == sorted(raw for raw, u in mix if not u)


# ---- IMAP and POP3 on a real Dovecot ------------------------------------------------------------
def _imap_cfg(tmp: Path, d, kind: str) -> Config:  # type: ignore[no-untyped-def]
    port = d.imap_port if kind == "imap" else d.pop3_port
    return _config(tmp, f'[bounces]\nmailbox = "{kind}"\nhost = "{d.host}"\nport = {port}\ntls = false\n'
                        f'user = "{d.user}"\n', DIGEST_BOUNCES_PASSWORD=d.password)[1]


def _append(d, messages: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    conn = imaplib.IMAP4(d.host, d.imap_port)
    conn.login(d.user, d.password)
    for raw in messages:
        conn.append("INBOX", None, None, raw)
    conn.logout()


def _folder(d, name: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    conn = imaplib.IMAP4(d.host, d.imap_port)
    conn.login(d.user, d.password)
    typ, _ = conn.select(f'"{name}"', readonly=True)
    out = []
    if typ == "OK":
        _t, data = conn.search(None, "ALL")
        for num in (data[0] or b"").split():
            _t, got = conn.fetch(num, "(BODY.PEEK[])")
            out.append(got[0][1])
    conn.logout()
    return out


@pytest.mark.slow
def test_imap_and_pop3_on_dovecot(tmp_path: Path) -> None:
    with running_dovecot() as d:
        imap_cfg = _imap_cfg(tmp_path, d, "imap")
        store = Store.open(imap_cfg)
        iid, ids = _sent_issue(store, 4)
        mix = [(r, u) for r, u in _mix(reader(imap_cfg, store.secret_key(SECRET)), iid, ids) if r.strip()]
        _append(d, [r for r, _u in mix])
        report = fetch(store, imap_cfg)
        assert (report.understood, report.set_aside) == (4, 3)
        _check_mix(store, ids)
        assert _folder(d, "INBOX") == []
        assert sorted(_folder(d, "digest-not-understood")) == sorted(r for r, u in mix if not u)  # untouched

        # POP3: the same mailbox; what is not understood stays on the server, a copy aside, read once
        pop_cfg = _imap_cfg(tmp_path / "pop", d, "pop3") if (tmp_path / "pop").mkdir() is None else None
        assert pop_cfg is not None
        pop_store = Store.open(pop_cfg)
        iid2, ids2 = _sent_issue(pop_store, 4)
        mix2 = [(r, u) for r, u in _mix(reader(pop_cfg, pop_store.secret_key(SECRET)), iid2, ids2) if r.strip()]
        _append(d, [r for r, _u in mix2])
        report = fetch(pop_store, pop_cfg)
        assert (report.understood, report.set_aside) == (4, 3)
        _check_mix(pop_store, ids2)
        left = _folder(d, "INBOX")
        assert sorted(left) == sorted(r for r, u in mix2 if not u)
        again = fetch(pop_store, pop_cfg)
        assert (again.read, again.skipped) == (0, 3)
        assert len(list((tmp_path / "pop" / "var" / "bounces-aside" / "new").iterdir())) == 3
        with pop_store.session() as s:
            assert s.scalar(select(func.count()).select_from(BounceEvent)) == 7  # not recorded twice


def test_imap_refused_login_is_one_line(tmp_path: Path) -> None:
    with running_dovecot() as d:
        cfg = _imap_cfg(tmp_path, d, "imap").replace(bounces={"password": "wrong"})
        r = _digest(write_config(tmp_path, f'[bounces]\nmailbox = "imap"\nhost = "{d.host}"\nport = {d.imap_port}\n'
                                           f'tls = false\nuser = "{d.user}"\n'), "bounces", "fetch",
                    DIGEST_BOUNCES_PASSWORD="wrong")
        assert r.returncode == 1 and len(r.stderr.decode().strip().splitlines()) == 1
        assert b"bounce mailbox imap" in r.stderr
        assert cfg.bounces.password == "wrong"


# ---- 100 mixed ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_hundred_mixed_bounces_over_imap(tmp_path: Path) -> None:
    """40 hard bounces and complaints, 20 soft, 35 garbage or forged, 5 auto-replies, shuffled:
    exactly the 40 are suppressed, the 20 stay at 0.5, nothing forged or garbled touches anyone
    and those 35 are moved aside byte for byte."""
    rng = random.Random(16)
    with running_dovecot() as d:
        cfg = _imap_cfg(tmp_path, d, "imap")
        store = Store.open(cfg)
        iid, ids = _sent_issue(store, 70)
        verp = reader(cfg, store.secret_key(SECRET))
        email = {sid: f"reader{i}@example.net" for i, sid in enumerate(ids)}
        hard_shapes = [fx.postfix, fx.exim, fx.gmail, fx.ses_dsn, fx.qmail, fx.arf]
        soft_shapes = [lambda v, r: fx.exchange(v, r),
                       lambda v, r: fx.postfix(v, r, "4.2.2", "smtp; 452 4.2.2 over quota"),
                       lambda v, r: fx.gmail(v, r, "4.2.1", "450-4.2.1 receiving mail too quickly")]
        messages: list[bytes] = []
        hard, soft, victims, quiet = ids[:40], ids[40:60], ids[60:65], ids[65:70]
        for n, sid in enumerate(hard):
            messages.append(hard_shapes[n % len(hard_shapes)](verp.address(sid, iid), email[sid]))
        for n, sid in enumerate(soft):
            messages.append(soft_shapes[n % len(soft_shapes)](verp.address(sid, iid), email[sid]))
        bad: list[bytes] = []
        for n in range(35):
            victim = victims[n % len(victims)]
            if n % 3 == 0:  # IMAP cannot carry an empty message or NUL bytes: the other shapes
                junk = fx.garbage(n)
                bad.append(junk if junk.strip() and b"\x00" not in junk else fx.garbage(2))
            elif n % 3 == 1:  # forged: a real reader's id with a made-up MAC, or another reader's MAC
                mac = verp.token(hard[0], iid).rsplit("-", 1)[1] if n % 2 else "d" * 20
                bad.append(fx.gmail(f"bounces+{victim}-{iid}-{mac}@example.org", email[victim]))
            else:  # a complaint naming a victim, without any token of ours
                bad.append(fx.arf(f"news@example.org?{n}", email[victim]))
        messages += bad
        for sid in quiet:
            messages.append(fx.auto_reply(verp.address(sid, iid), email[sid]))
        rng.shuffle(messages)
        _append(d, messages)

        report = fetch(store, cfg)
        assert (report.read, report.understood, report.set_aside) == (100, 65, 35)
        with store.session() as s:
            rows = {sub.id: (sub.status, sub.bounce_score) for sub in s.scalars(select(Subscriber))}
        assert {sid for sid, (st, _s) in rows.items() if st == "suppressed"} == set(hard)
        assert all(rows[sid] == ("confirmed", 0.5) for sid in soft)
        assert all(rows[sid] == ("confirmed", 0.0) for sid in victims + quiet)
        assert _folder(d, "INBOX") == []
        assert sorted(_folder(d, "digest-not-understood")) == sorted(bad)
        with store.session() as s:
            outcomes = dict(s.execute(select(BounceEvent.outcome, func.count()).group_by(BounceEvent.outcome)).all())
        assert outcomes["suppressed"] == 40 and outcomes["scored"] == 20 and outcomes["ignored"] == 5
        assert outcomes.get("forged", 0) + outcomes.get("no-token", 0) + outcomes.get("not-understood", 0) == 35


def test_readme_documents_the_bounce_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for needle in ("digest bounces process", "digest bounces fetch", "/webhooks/ses", "DIGEST_BOUNCES_PASSWORD"):
        assert needle in text, needle


def test_status_shows_bounces_per_issue_and_warns_past_the_complaint_line(tmp_path: Path) -> None:
    from rich.console import Console

    from digest.mail.intake import Intake
    from digest.ops.status import bounce_stats, print_bounces

    path, cfg = _config(tmp_path)
    store = Store.open(cfg)
    iid, ids = _sent_issue(store, 300)
    intake = Intake(store, cfg)
    verp = intake.verp
    intake.process_message(fx.arf(verp.address(ids[0], iid), "reader0@example.net"), "imap")
    intake.process_message(fx.gmail(verp.address(ids[1], iid), "reader1@example.net"), "imap")
    intake.process_message(fx.exchange(verp.address(ids[2], iid), "reader2@example.net"), "imap")
    intake.process_message(fx.gmail("bounces+5-1-aaaaaaaaaaaaaaaaaaaa@example.org", "reader4@example.net"), "imap")

    def shown() -> str:
        console = Console(record=True, width=200)
        print_bounces(bounce_stats(store, utcnow()), cfg.bounces.complaint_warn_rate, console)
        return console.export_text()

    text = shown()
    assert f"issue #{iid}" in text and "delivered 300, hard bounces 1, soft bounces 1, complaints 1" in text
    assert "complaints 1 (0.33% of 300 delivered" in text and "complaint rate over 0.3%" in text
    assert "1 not understood or forged" in text
    _sent_issue(store, 100, domain="example.com")  # 1 in 400: under the line
    text = shown()
    assert "complaints 1 (0.25% of 400 delivered" in text and "complaint rate over" not in text
    r = _digest(path, "status")
    assert r.returncode == 0 and b"bounces (30 days)" in r.stdout


def test_the_worker_reads_the_bounce_mailbox_with_each_poll(tmp_path: Path) -> None:
    from digest.ops.worker import _jobs

    box_path = tmp_path / "bounces.maildir"
    box = mailbox.Maildir(box_path, create=True)
    _p, cfg = _config(tmp_path, f'[bounces]\nmailbox = "maildir"\npath = "{box_path}"\n')
    store = Store.open(cfg)
    iid, ids = _sent_issue(store, 2)
    box.add(fx.gmail(reader(cfg, store.secret_key(SECRET)).address(ids[0], iid), "reader0@example.net"))
    poll_job, _send, _hourly = _jobs(cfg)
    poll_job()
    assert _status(store, ids[0])[0] == "suppressed" and _status(store, ids[1])[0] == "confirmed"
    assert len(box) == 0


def test_confirmation_mail_goes_out_with_verp_and_its_bounce_removes_the_address(
        tmp_path: Path, smtp_server: SmtpSink) -> None:
    path, cfg = _config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\n')
    r = _digest(path, "subscribe", "typo@exmaple.net")
    assert r.returncode == 0, r.stderr
    store = Store.open(cfg)
    sub = store.subscriber(email="typo@exmaple.net")
    assert sub is not None
    (mail_from, _rcpts, _data), = smtp_server.messages
    hit = reader(cfg, store.secret_key(SECRET)).parse(mail_from)
    assert hit is not None and hit[1] is not None and (hit[1].subscriber_id, hit[1].issue_id) == (sub.id, 0)
    r = _digest(path, "bounces", "process", stdin=fx.postfix(mail_from, "typo@exmaple.net"))
    assert r.returncode == 0
    status, _score, reason = _status(store, sub.id)
    assert status == "suppressed" and (reason or "").startswith("removed:")
    r = _digest(path, "subscribe", "typo@exmaple.net")  # no new confirmation mail to a dead address
    assert r.returncode == 1 and len(smtp_server.messages) == 1


def test_smtp_time_refusals_record_their_reason(tmp_path: Path, smtp_server: SmtpSink) -> None:
    _p, cfg = _config(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\nmax_hard_bounces = 1\n')
    store = Store.open(cfg)
    sub, _ = store.add_subscriber("nobody@example.net", confirmed=True)
    smtp_server.refuse["nobody@example.net"] = (550, "5.1.1 no such user")
    issue = make_issue(store)
    report = deliver(store, cfg.smtp, issue.id, make_factory(cfg, store.secret_key(SECRET), issue.id,
                                                             rendered_of(issue)))
    assert report.bounced == 1 and report.suppressed == 1
    status, _score, reason = _status(store, sub.id)
    assert status == "suppressed" and "SMTP time" in (reason or "") and "5.1.1 no such user" in (reason or "")


def test_pipe_reads_an_oversized_message_only_up_to_its_cap(tmp_path: Path) -> None:
    """A runaway or hostile sender piping megabytes: the first 10 MB are read (the status is at the top),
    one line says so, the rest is drained, and the bounce is still handled."""
    from digest.cli.bounces import MAX_BOUNCE_BYTES

    path, cfg = _config(tmp_path)
    store = Store.open(cfg)
    sub, _ = store.add_subscriber("gone@example.net", confirmed=True)
    from digest.mail.verp import make_verp

    verp = make_verp(cfg, store.secret_key(SECRET))
    assert verp is not None
    dsn = fx.postfix(verp.address(sub.id, None), "gone@example.net")
    big = dsn + b"\n" + (b"x" * 76 + b"\n") * ((MAX_BOUNCE_BYTES // 77) + 20000)
    assert len(big) > MAX_BOUNCE_BYTES
    r = _digest(path, "bounces", "process", "-", stdin=big)
    assert r.returncode == 0, r.stderr
    err_lines = r.stderr.decode().strip().splitlines()
    assert any("only its first 10,000,000 bytes are read" in ln for ln in err_lines), err_lines
    assert r.stdout.decode().startswith("suppressed: hard")  # handled from what was read
    assert _status(store, sub.id)[0] == "suppressed"
