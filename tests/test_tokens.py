"""Signed tokens: round trip, kind separation, tampering, forgery, expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import TokenError
from digest.tokens import TokenSigner

KEY = b"0123456789abcdef0123456789abcdef"


def test_round_trip_and_kind_is_bound() -> None:
    s = TokenSigner(KEY)
    token = s.sign("unsubscribe", 42, "n1")
    claims = s.verify("unsubscribe", token)
    assert (claims.subscriber_id, claims.nonce) == (42, "n1")
    with pytest.raises(TokenError):
        s.verify("confirm", token)


def test_tampered_payload_and_other_key_are_refused() -> None:
    s = TokenSigner(KEY)
    body, sig = s.sign("unsubscribe", 42).split(".")
    forged_body = TokenSigner(KEY).sign("unsubscribe", 43).split(".")[0]
    with pytest.raises(TokenError, match="signature"):
        s.verify("unsubscribe", f"{forged_body}.{sig}")
    with pytest.raises(TokenError):
        TokenSigner(b"another-key-another-key-32bytes!").verify("unsubscribe", f"{body}.{sig}")


def test_expired_token_is_refused() -> None:
    s = TokenSigner(KEY)
    token = s.sign("confirm", 1, ttl_seconds=60, now=1000.0)
    assert s.verify("confirm", token, now=1059.0).subscriber_id == 1
    with pytest.raises(TokenError, match="expired"):
        s.verify("confirm", token, now=1061.0)


@given(st.text(max_size=400))
def test_arbitrary_strings_never_verify_and_never_crash(garbage: str) -> None:
    with pytest.raises(TokenError):
        TokenSigner(KEY).verify("unsubscribe", garbage)
