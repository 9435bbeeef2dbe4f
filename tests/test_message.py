"""Per-subscriber MIME messages: parts, unsubscribe headers, tokens, and header-injection safety."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.mail.message import MessageFactory, Recipient, clean_header_text
from digest.render import PREFERENCES, UNSUBSCRIBE, RenderedIssue
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
