"""Optional DKIM signing (dkimpy), covering the List-Unsubscribe headers (RFC 8058).

Every message is signed on its own (its List-Unsubscribe and body links are personal). The signer
is a plain picklable object, so sender processes get it with the message factory.
"""

from __future__ import annotations

from digest.config import Config
from digest.errors import ConfigError

SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version", b"content-type",
                  b"list-id", b"list-unsubscribe", b"list-unsubscribe-post", b"reply-to"]


class DkimSigner:
    """``signer(message) -> message`` with a DKIM-Signature header prepended."""

    def __init__(self, key: bytes, selector: str, domain: str,
                 headers: list[bytes] | None = None) -> None:
        self.key = key
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.headers = list(headers or SIGNED_HEADERS)

    def __call__(self, message: bytes) -> bytes:
        import dkim

        sig = dkim.sign(message, self.selector, self.domain, self.key, include_headers=self.headers,
                        canonicalize=(b"relaxed", b"relaxed"))
        return sig + message


def dkim_signer(config: Config) -> DkimSigner | None:
    """The configured signer, or None when DKIM is not configured (selector, domain and key file)."""
    smtp = config.smtp
    if not (smtp.dkim_selector and smtp.dkim_domain and smtp.dkim_key_file):
        return None
    try:
        key = config.path(smtp.dkim_key_file).read_bytes()
    except OSError as exc:
        raise ConfigError(f"config key smtp.dkim_key_file: cannot read {smtp.dkim_key_file}: {exc.strerror}") from None
    try:
        import dkim.crypto

        dkim.crypto.parse_pem_private_key(key)
    except Exception:  # noqa: BLE001 - dkimpy raises several kinds for a bad key
        raise ConfigError(f"config key smtp.dkim_key_file: {smtp.dkim_key_file} is not a PEM RSA private key") from None
    if not smtp.dkim_selector.isascii() or not smtp.dkim_domain.isascii():
        raise ConfigError("config key smtp.dkim_selector: selector and domain must be ASCII")
    return DkimSigner(key, smtp.dkim_selector, smtp.dkim_domain)
