"""Signed tokens: round trip, kind separation, tampering, forgery, expiry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.errors import TokenError
from digest.tokens import TokenSigner, _b64

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


def _respellings(token: str) -> list[str]:
    """Other spellings of ``token`` that a lenient base64 decoder reads as the same bytes."""
    body, sig = token.split(".")
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bits = last.index(sig[-1])
    # the last character of a 20-byte MAC (27 characters) carries 2 unused bits: flip one of them
    other_bits = last[bits ^ 1]
    std = sig.replace("-", "+").replace("_", "/")
    assert std != sig, "pick a token whose signature has a - or _"
    return [
        f"{body}=.{sig}", f"{body}.{sig}=", f"{body}.{sig}====",  # padding
        f"{body}.{std}",  # the standard alphabet
        f"{body[:3]}*{body[3:]}.{sig}", f"{body}.{sig[:5]} {sig[5:]}", f"{body}.{sig[:5]}\n{sig[5:]}",  # strays
        f"{body}.{sig[:-1]}{other_bits}",  # non-zero unused bits
    ]


def test_only_the_issued_spelling_verifies() -> None:
    s = TokenSigner(KEY)
    token = next(t for n in range(1, 500) if {"-", "_"} & set((t := s.sign("unsubscribe", n, "ab12")).split(".")[1]))
    assert s.verify("unsubscribe", token).nonce == "ab12"
    for other in _respellings(token):
        with pytest.raises(TokenError, match="malformed"):
            s.verify("unsubscribe", other)


def test_payload_must_be_canonical_even_when_signed() -> None:
    """A payload the signer never writes ("+42", "042", "4_2", " 42") is refused though its MAC is right."""
    s = TokenSigner(KEY)
    for payload in (b"+42:n:0", b"042:n:0", b"4_2:n:0", b" 42:n:0", b"42:n:00", b"42:n:-0"):
        mac = s._mac("unsubscribe", payload)
        with pytest.raises(TokenError, match="malformed"):
            s.verify("unsubscribe", f"{_b64(payload)}.{_b64(mac)}")
