"""Bounce classification on real DSN/ARF shapes, VERP signing, and Mailman-style scoring."""

from __future__ import annotations

from datetime import timedelta

import bounce_fixtures as fx
import pytest
from sqlalchemy import select

from digest.config import load_config
from digest.errors import ConfigError
from digest.mail.bounces import classify, classify_status
from digest.mail.intake import Intake
from digest.mail.verp import Verp
from digest.store import BounceEvent, Delivery, Issue, Store, Subscriber, utcnow

KEY = b"k" * 32
V = Verp(KEY, "bounces", "example.org")
ADDR = V.address(12, 7)


# ---- VERP ------------------------------------------------------------------------------------------
def test_verp_round_trip_and_forgeries() -> None:
    assert ADDR.startswith("bounces+12-7-") and ADDR.endswith("@example.org")
    assert len(ADDR.partition("@")[0]) <= 64
    token, claims = V.parse(ADDR)
    assert claims is not None and (claims.subscriber_id, claims.issue_id) == (12, 7)
    assert V.parse(ADDR.upper())[1] == claims  # a relay that folds the case still verifies
    mac = token.rsplit("-", 1)[1]
    for forged in (f"bounces+13-7-{mac}@example.org", f"bounces+12-8-{mac}@example.org",
                   "bounces+12-7-aaaaaaaaaaaaaaaaaaaa@example.org", f"bounces+012-7-{mac}@example.org",
                   Verp(b"x" * 32, "bounces", "example.org").address(12, 7)):
        hit = V.parse(forged)
        assert hit is not None and hit[1] is None, forged
    assert V.parse("bounces@example.org") is None and V.parse(f"other+{token}@example.org") is None
    assert V.parse(ADDR.replace("example.org", "evil.example")) is None


# ---- classification by status code -----------------------------------------------------------------
@pytest.mark.parametrize(("raw", "kind", "status"), [
    (fx.postfix(ADDR, "a@r.example"), "hard", "5.1.1"),
    (fx.postfix(ADDR, "a@r.example", "5.2.2", "smtp; 552 5.2.2 <a@r.example>: mailbox full"), "soft", "5.2.2"),
    (fx.postfix(ADDR, "a@r.example", "5.1.10", "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound"), "hard", "5.1.10"),
    (fx.postfix(ADDR, "a@r.example", "5.2.1", "smtp; 550 5.2.1 The email account is disabled"), "hard", "5.2.1"),
    (fx.postfix(ADDR, "a@r.example", "4.4.7", "X-Postfix; delivery temporarily suspended"), "soft", "4.4.7"),
    (fx.postfix(ADDR, "a@r.example", "5.7.1", "smtp; 554 5.7.1 rejected as spam"), "soft", "5.7.1"),
    (fx.exim(ADDR, "b@r.example"), "hard", "5.1.1"),  # Status 5.0.0, the code in the diagnostic
    (fx.exim(ADDR, "b@r.example", "552 5.2.2 mailbox quota exceeded"), "soft", "5.2.2"),
    (fx.gmail(ADDR, "c@g.example"), "hard", "5.1.1"),
    (fx.gmail(ADDR, "c@g.example", "4.2.2", "452-4.2.2 The recipient's inbox is out of storage space."), "soft",
     "4.2.2"),
    (fx.exchange(ADDR, "d@o.example"), "soft", "5.2.2"),  # "mailbox full" is temporary, whatever the class
    (fx.exchange(ADDR, "d@o.example", "5.1.1", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"), "hard", "5.1.1"),
    (fx.ses_dsn(ADDR, "e@x.example"), "hard", "5.1.1"),
    (fx.qmail(ADDR, "g@q.example"), "hard", "5.1.1"),  # no DSN part: flufl.bounce finds the address
    (fx.delayed(ADDR, "f@x.example"), "delayed", "4.4.1"),
])
def test_dsns_are_classified_by_their_status_code(raw: bytes, kind: str, status: str) -> None:
    c = classify(raw)
    assert (c.kind, c.status) == (kind, status)
    assert c.recipients and "@" in c.recipients[0].address
    assert ADDR in c.verp_candidates


def test_the_words_do_not_decide_the_code_does() -> None:
    """Keyword classifiers call "mailbox full" hard when the text says "permanent"; the code says 4.2.2."""
    raw = fx.postfix(ADDR, "a@r.example", "4.2.2", "smtp; 452 4.2.2 permanent failure: user unknown, mailbox full")
    assert classify(raw).kind == "soft"
    assert classify_status("5.0.0", "failed", "smtp; 550 5.1.1 no such user")[0] == "hard"
    assert classify_status("", "failed", "smtp; 552 over quota") == ("soft", "5.2.2")
    assert classify_status("5.0.0", "failed", "smtp; 552 mailbox full") == ("soft", "5.2.2")
    assert classify_status("5.0.0", "failed", "X-Exim; retry timeout exceeded") == ("hard", "5.0.0")
    assert classify_status("", "failed", "") == ("hard", "")
    assert classify_status("2.0.0", "delivered")[0] == "ignored"


def test_complaints_auto_replies_and_garbage() -> None:
    c = classify(fx.arf(ADDR, "h@y.example"))
    assert c.kind == "complaint" and ADDR in c.verp_candidates
    assert classify(fx.arf(ADDR, "h@y.example", "not-spam")).kind == "ignored"
    assert classify(fx.arf(ADDR, "h@y.example", "auth-failure")).kind == "ignored"
    redacted = classify(fx.arf(ADDR, "h@y.example", unsubscribe_url="http://x/unsubscribe/abc.def", redact=True))
    assert redacted.kind == "complaint" and redacted.unsubscribe_tokens == ["abc.def"]
    assert classify(fx.auto_reply(ADDR, "i@z.example")).kind == "autoreply"
    for n in range(5):
        assert classify(fx.garbage(n)).kind == "unknown", n


# ---- scoring -----------------------------------------------------------------------------------------
@pytest.fixture
def setup(store: Store, tmp_path):  # type: ignore[no-untyped-def]
    cfg = load_config(env={"DIGEST_SECURITY_SECRET_KEY": "k" * 32}, root=tmp_path)
    now = utcnow()
    with store.session() as s:
        issue = Issue(issue_date=now.strftime("%Y-%m-%d"), period_start=now, period_end=now, subject="D",
                      html="", text="", status="sent")
        s.add(issue)
        s.flush()
        iid = issue.id
    ids = []
    for i in range(3):
        sub, _ = store.add_subscriber(f"r{i}@example.org", confirmed=True)
        ids.append(sub.id)
        with store.session() as s:
            s.add(Delivery(issue_id=iid, subscriber_id=sub.id, status="sent", attempts=1, sent_at=now))
    return cfg, Intake(store, cfg), ids, iid


def _sub(store: Store, sid: int) -> Subscriber:
    sub = store.subscriber(id=sid)
    assert sub is not None
    return sub


def test_soft_counts_half_once_a_day_and_decays(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    _cfg, intake, (a, _b, _c), iid = setup
    addr = intake.verp.address(a, iid)
    for _ in range(3):  # three soft bounces on one day count once
        r = intake.process_message(fx.postfix(addr, "r0@example.org", "4.2.2", "smtp; 452 4.2.2 full"), "pipe")
    assert r.understood and _sub(store, a).bounce_score == pytest.approx(0.5)
    assert _sub(store, a).status == "confirmed"
    # the next day's soft bounce adds 0.5 to a score that decayed for a day: not yet 1
    with store.session() as s:
        sub = s.get(Subscriber, a)
        sub.bounce_at = sub.bounce_at - timedelta(days=1)
    intake.process_message(fx.postfix(addr, "r0@example.org", "4.2.2", "smtp; 452 4.2.2 full"), "pipe")
    score = _sub(store, a).bounce_score
    assert 0.5 < score < 1.0 and score == pytest.approx(0.5 * 0.5 ** (1 / 7) + 0.5, rel=1e-3)
    assert _sub(store, a).status == "confirmed"
    # a hard bounce the same day adds what the day had not counted yet (1 - 0.5) and suppresses
    intake.process_message(fx.gmail(addr, "r0@example.org"), "pipe")
    sub = _sub(store, a)
    assert sub.status == "suppressed" and "bounce score" in (sub.suppressed_reason or "")
    assert "5.1.1" in (sub.suppressed_reason or "")


def test_hard_suppresses_complaint_at_once_and_forged_nobody(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    _cfg, intake, (a, b, c), iid = setup
    assert intake.process_message(fx.exim(intake.verp.address(a, iid), "r0@example.org"), "pipe").outcome \
        == "suppressed"
    assert intake.process_message(fx.arf(intake.verp.address(b, iid), "r1@example.org"), "pipe").outcome \
        == "suppressed"
    assert "complaint" in (_sub(store, b).suppressed_reason or "")
    token = intake.verp.token(c, iid)
    forged = fx.postfix(f"bounces+{c}-{iid}-{'a' * 20}@example.org", "r2@example.org")
    assert intake.process_message(forged, "pipe").outcome == "forged"
    other = fx.postfix(f"bounces+{c + 1}-{iid}-{token.rsplit('-', 1)[1]}@example.org", "r2@example.org")
    assert intake.process_message(other, "pipe").outcome == "forged"  # c's MAC on another id
    assert intake.process_message(fx.postfix("digest@example.org", "r2@example.org"), "pipe").outcome == "no-token"
    assert _sub(store, c).status == "confirmed" and _sub(store, c).bounce_score == 0
    with store.session() as s:
        events = list(s.scalars(select(BounceEvent).order_by(BounceEvent.id)))
    assert [e.outcome for e in events] == ["suppressed", "suppressed", "forged", "forged", "no-token"]
    assert all(e.raw.startswith(("Return-Path", "Return-path", "From")) for e in events)  # kept for audit
    assert events[0].issue_id == iid and events[0].status == "5.1.1"


def test_bounce_before_the_first_issue_removes_the_address(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    _cfg, intake, _ids, _iid = setup
    new, _ = store.add_subscriber("typo@exmaple.org")  # pending: its confirmation mail bounced
    intake.process_message(fx.postfix(intake.verp.address(new.id, 0), "typo@exmaple.org"), "pipe")
    sub = _sub(store, new.id)
    assert sub.status == "suppressed" and (sub.suppressed_reason or "").startswith("removed:")


def test_complaint_with_redacted_envelope_found_by_its_unsubscribe_token(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    _cfg, intake, (a, b, _c), _iid = setup
    good = intake.links.sign("unsubscribe", a, _sub(store, a).token_nonce)
    r = intake.process_message(fx.arf("", "", unsubscribe_url=f"http://x/unsubscribe/{good}", redact=True), "imap")
    assert r.outcome == "suppressed" and r.subscriber_id == a
    bad = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    r = intake.process_message(fx.arf("", "", unsubscribe_url=f"http://x/unsubscribe/{bad}", redact=True), "imap")
    assert r.outcome == "no-token" and _sub(store, b).status == "confirmed"


def test_config_section_is_checked() -> None:
    with pytest.raises(ConfigError, match="bounces.mailbox"):
        load_config(env={"DIGEST_BOUNCES_MAILBOX": "nntp"})
    with pytest.raises(ConfigError, match="bounces.host"):
        load_config(env={"DIGEST_BOUNCES_MAILBOX": "imap"})
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(env={"DIGEST_BOUNCES_COLOUR": "red"})
    cfg = load_config(env={"DIGEST_BOUNCES_PASSWORD": "pw", "DIGEST_BOUNCES_MAILBOX": "pop3",
                           "DIGEST_BOUNCES_HOST": "mail.example.org"})
    assert cfg.bounces.password == "pw" and "pw" not in repr(cfg.bounces)


def test_password_in_a_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "d.toml"
    f.write_text('[bounces]\npassword = "secret"\n')
    with pytest.raises(ConfigError, match="DIGEST_BOUNCES_PASSWORD"):
        load_config(f, env={})


def test_a_verified_token_for_a_subscriber_no_longer_there_is_ignored(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    _cfg, intake, ids, iid = setup
    r = intake.process_message(fx.postfix(intake.verp.address(99999, iid), "x@example.org"), "pipe")
    assert r.outcome == "unknown-subscriber" and r.understood and "no longer" in r.detail
    assert all(_sub(store, sid).status == "confirmed" for sid in ids)


def test_nul_bytes_and_huge_fields_are_stored_safely(setup, store: Store) -> None:  # type: ignore[no-untyped-def]
    _cfg, intake, (a, _b, _c), iid = setup
    raw = fx.postfix(intake.verp.address(a, iid), "r0@example.org", "5.1.1",
                     "smtp; 550 5.1.1 \x00 user unknown " + "x" * 5000)
    r = intake.process_message(raw, "maildir", mailbox_key="k\x00" * 400)
    assert r.outcome == "suppressed"
    with store.session() as s:
        event = s.scalar(select(BounceEvent))
        assert event is not None and "\x00" not in event.detail + event.raw + event.mailbox_key
