"""HMAC-signed tokens for confirm, unsubscribe and preference links.

A token is ``base64url(payload) "." base64url(HMAC-SHA256(key, kind|payload))`` where the payload
is ``subscriber_id:nonce:expires`` (expires 0 = never). The kind is part of the MAC, so an
unsubscribe token can never be used to confirm. Signatures are compared in constant time.

A token has exactly one spelling, the one :meth:`TokenSigner.sign` issues: the URL-safe alphabet
without ``=`` padding, canonical trailing bits, a canonical payload. ``+``/``/``, padding, stray
characters or a last character with other unused bits decode to the same bytes in a lenient
decoder; they are refused, so a token can be compared, logged or revoked as a string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

from digest.errors import TokenError

KINDS = ("confirm", "unsubscribe", "preferences")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _unb64(text: str) -> bytes:
    """Decode the one spelling :func:`_b64` writes; anything else is a ValueError."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not canonical base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # the unused bits of the last character were not zero
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True)
class TokenClaims:
    kind: str
    subscriber_id: int
    nonce: str
    expires: int


class TokenSigner:
    """Sign and verify subscriber tokens with one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("token key must be at least 16 bytes")
        self._key = key

    def _mac(self, kind: str, payload: bytes) -> bytes:
        return hmac.new(self._key, kind.encode() + b"|" + payload, hashlib.sha256).digest()[:20]

    def sign(self, kind: str, subscriber_id: int, nonce: str = "", ttl_seconds: int | None = None,
             now: float | None = None) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown token kind {kind!r}")
        expires = 0 if ttl_seconds is None else int((now or time.time()) + ttl_seconds)
        payload = f"{subscriber_id}:{nonce}:{expires}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(kind, payload))}"

    def verify(self, kind: str, token: str, now: float | None = None) -> TokenClaims:
        """Return the claims, or raise :class:`TokenError` (forged, tampered, expired, malformed)."""
        if not token or len(token) > 300 or token.count(".") != 1:
            raise TokenError("malformed token")
        body, sig = token.split(".")
        try:
            payload = _unb64(body)
            mac = _unb64(sig)
        except (ValueError, TypeError):
            raise TokenError("malformed token") from None
        if not hmac.compare_digest(mac, self._mac(kind, payload)):
            raise TokenError("invalid signature")
        try:
            text = payload.decode("ascii")
            sid, nonce, expires = text.split(":")
            claims = TokenClaims(kind, int(sid), nonce, int(expires))
        except (ValueError, UnicodeDecodeError):
            raise TokenError("malformed token") from None
        if f"{claims.subscriber_id}:{claims.nonce}:{claims.expires}" != text:  # "+42", "042", "4_2"
            raise TokenError("malformed token")
        if claims.expires and claims.expires < (now or time.time()):
            raise TokenError("expired token")
        return claims
