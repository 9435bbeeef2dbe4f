"""Per-subscriber MIME messages: parts, unsubscribe headers, tokens, and header-injection safety."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.issue.render import PREFERENCES, UNSUBSCRIBE, RenderedIssue
from digest.mail.message import MessageFactory, Recipient, clean_header_text
from digest.tokens import TokenSigner

KEY = b"k" * 32


def factory(subject: str = "Cyber Digest, 28 Nov 2026: Jewelbug Breached Russian IT Firm", **kw: str) -> MessageFactory:
    rendered = RenderedIssue(subject=subject, html=f'<p>Hi <a href="{UNSUBSCRIBE}">unsub</a> '
                             f'<a href="{PREFERENCES}">prefs</a> é</p>',
                             text=f"Hi\nUnsubscribe: {UNSUBSCRIBE}\nPreferences: {PREFERENCES}\n", preheader="")
    return MessageFactory(rendered, sender="Cyber Digest <digest@example.org>", base_url="https://d.example/",
                          signer=TokenSigner(KEY), issue_id=7, **kw)


def test_message_is_multipart_with_personal_links_and_rfc8058_headers() -> None:
    raw = factory(unsubscribe_mailto="unsubscribe@example.org").build(Recipient(5, "reader@example.org", "n"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    parts = {p.get_content_type(): p.get_content() for p in msg.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "é" in parts["text/html"]
    lu = str(msg["List-Unsubscribe"]).strip()
    assert lu.startswith("<https://d.example/unsubscribe/") and "mailto:unsubscribe@example.org" in lu
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    token = lu.split("/unsubscribe/")[1].split(">")[0]
    assert TokenSigner(KEY).verify("unsubscribe", token).subscriber_id == 5
    assert f"https://d.example/unsubscribe/{token}" in parts["text/plain"]
    assert "/preferences/" in parts["text/html"] and UNSUBSCRIBE not in parts["text/html"]
    for header in ("From", "To", "Date", "Message-ID", "List-Id", "Subject"):
        assert msg[header], header
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_two_recipients_get_different_links_and_message_ids() -> None:
    f = factory()
    a = message_from_bytes(f.build(Recipient(1, "a@example.org")), policy=policy.default)
    b = message_from_bytes(f.build(Recipient(2, "b@example.org")), policy=policy.default)
    assert a["List-Unsubscribe"] != b["List-Unsubscribe"]
    assert a["Message-ID"] != b["Message-ID"]


@pytest.mark.parametrize("evil", [
    "Breach\r\nBcc: victim@example.org",
    "Breach\nX-Injected: 1",
    "Breach\rX-Injected: 1",
    "=?utf-8?b?QnJlYWNoDQpCY2M6IHZpY3RpbUBleGFtcGxlLm9yZw==?=",
    "Breach\u2028Bcc: x@example.org",
])
def test_feed_text_in_the_subject_cannot_inject_headers(evil: str) -> None:
    raw = factory(subject=f"Cyber Digest: {evil}").build(Recipient(1, "a@example.org"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert "victim@example.org" not in (msg["To"] or "")
    assert "Bcc" not in msg["Subject"] or "\n" not in msg["Subject"]
    # an encoded word from a feed stays literal: decoding the subject must not yield CR/LF
    assert "\r" not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])


@given(st.text(max_size=300))
def test_clean_header_text_never_contains_line_breaks_or_encoded_words(value: str) -> None:
    cleaned = clean_header_text(value)
    assert "\r" not in cleaned and "\n" not in cleaned and "=?" not in cleaned


# ---- the fast path: pre-encoded chunks and the SMTP wire form -------------------------------------
from digest.mail.message import EncodedPart, _qp, dot_stuff


@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from([UNSUBSCRIBE, PREFERENCES, ".", ". x", " \t",
                                                                   "é" * 80, "=" * 90])), max_size=30))
def test_chunked_encoding_equals_encoding_the_whole_part(pieces: list[str]) -> None:
    text = "\n".join(pieces)
    part = EncodedPart(text)

    def sub(s: str) -> str:
        return s.replace(UNSUBSCRIBE, "https://d.example/unsubscribe/T").replace(PREFERENCES, "https://d.example/p/T")

    whole = sub(text.replace("\r\n", "\n"))
    assert b"".join(part.encode(sub)) == _qp(whole)
    assert b"".join(part.encode(sub, wire=True)) == dot_stuff(_qp(whole))


def test_wire_form_is_the_dot_stuffed_message_with_the_final_dot() -> None:
    f = factory()
    f.rendered = f.rendered  # the factory is per issue; the wire form must match build()
    r = Recipient(3, "c@example.org", "n")
    import digest.mail.message as m

    fixed = "<7.3.x@example.org>"
    built = f.build(r)
    wire = f.build_wire(r)
    # Message-IDs differ per call; compare with them masked
    mask = re.compile(rb"Message-ID: <[^>]+>")
    assert mask.sub(fixed.encode(), wire) == mask.sub(fixed.encode(), dot_stuff(built)) + b".\r\n"
    assert m.dot_stuff(b".a\r\nb\r\n..c\r\n") == b"..a\r\nb\r\n...c\r\n"


def test_all_list_headers_reply_to_and_ids_are_present() -> None:
    raw = factory(reply_to="Desk <desk@example.org>", list_id="cyber.example.org",
                  unsubscribe_mailto="unsub@example.org").build(Recipient(9, "r@example.org", "n"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Reply-To"] == "Desk <desk@example.org>"
    assert msg["List-Id"] == "Cyber Digest <cyber.example.org>"
    assert msg["Message-ID"].startswith("<7.9.") and msg["Message-ID"].endswith("@example.org>")
    assert msg["Date"].datetime is not None and msg["Date"].datetime.tzinfo is not None
    assert msg["From"] == "Cyber Digest <digest@example.org>"
    lu = str(msg["List-Unsubscribe"])
    assert lu.count("<") == 2 and "https://d.example/unsubscribe/" in lu and "mailto:unsub@example.org" in lu
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998


@pytest.mark.parametrize("field,evil", [
    ("sender", "Evil\r\nBcc: victim@example.org <digest@example.org>"),
    ("sender", "=?utf-8?q?Evil=0D=0ABcc=3A_victim=40example=2Eorg?= <digest@example.org>"),
    ("reply_to", "desk@example.org\r\nBcc: victim@example.org"),
    ("list_id", "x.example\r\nBcc: victim@example.org"),
    ("unsubscribe_mailto", "u@example.org>\r\nBcc: victim@example.org"),
])
def test_configured_names_cannot_inject_headers(field: str, evil: str) -> None:
    kw = {"reply_to": "", "list_id": "", "unsubscribe_mailto": ""}
    sender = "Cyber Digest <digest@example.org>"
    if field == "sender":
        sender = evil
    else:
        kw[field] = evil
    rendered = RenderedIssue(subject="S", html=f"<a href='{UNSUBSCRIBE}'>u</a>", text=f"{UNSUBSCRIBE}\n", preheader="")
    raw = MessageFactory(rendered, sender=sender, base_url="https://d.example/", signer=TokenSigner(KEY),
                         issue_id=7, **kw).build(Recipient(1, "a@example.org"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?im)^bcc:", headers)
    for name in ("From", "Reply-To", "List-Id", "List-Unsubscribe"):
        value = str(msg[name] or "")
        assert "\r" not in value and "\n" not in value


def test_a_recipient_address_with_line_breaks_cannot_inject_headers() -> None:
    raw = factory().build(Recipient(1, "a@example.org\r\nBcc: victim@example.org"))
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Bcc"] is None and not re.search(rb"(?im)^bcc:", raw.split(b"\r\n\r\n", 1)[0])


def test_a_subject_with_an_encoded_word_decodes_to_the_literal_text() -> None:
    evil = "=?utf-8?b?QnJlYWNoDQpCY2M6IHZpY3RpbUBleGFtcGxlLm9yZw==?="
    msg = message_from_bytes(factory(subject=f"News {evil}").build(Recipient(1, "a@example.org")),
                             policy=policy.default)
    subject = str(msg["Subject"])
    assert "Bcc" not in subject and "QnJlYWNo" in subject  # shown as typed, never decoded
