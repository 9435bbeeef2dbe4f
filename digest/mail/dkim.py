"""Optional DKIM signing (dkimpy), covering the List-Unsubscribe headers (RFC 8058)."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from ..errors import ConfigError

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
                  b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"reply-to"]


def dkim_signer(config: Config) -> Callable[[bytes], bytes] | None:
    """A function that prepends a DKIM-Signature, or None when DKIM is not configured."""
    smtp = config.smtp
    if not (smtp.dkim_selector and smtp.dkim_domain and smtp.dkim_key_file):
        return None
    import dkim

    try:
        key = config.path(smtp.dkim_key_file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"config key smtp.dkim_key_file: cannot read {smtp.dkim_key_file}: {exc.strerror}") from None
    selector, domain = smtp.dkim_selector.encode(), smtp.dkim_domain.encode()

    def sign(message: bytes) -> bytes:
        sig = dkim.sign(message, selector, domain, key, include_headers=SIGNED_HEADERS)
        return sig + message

    return sign
