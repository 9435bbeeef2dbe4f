"""VERP: the envelope sender of each message names its subscriber and issue, signed.

A bounce goes back to the envelope sender (``MAIL FROM``), not to the From header. Each message is
sent from ``<local>+<token>@<domain>`` (``bounces+12-7-k3xq...@example.org``): the token holds the
subscriber id, the issue id (0 for a confirmation mail) and an HMAC-SHA256 of both under the
project's token key, so a bounce can name the subscriber it is about and a forged one (someone
mailing a made-up DSN to ``bounces+...``) names nobody: its MAC does not verify.

The token is digits, lower-case hex and ``-`` only: some relays and bounce generators fold the
case of a local part, and the whole local part stays well under the 64 characters RFC 5321 allows.
The key is the one links are signed with; the MAC covers the literal ``verp|`` prefix, which no
link token kind has, so a VERP token is no link token and the other way round.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.config import Config

#: 80 bits of MAC in hex: a forger has to guess it blind (no oracle answers per attempt)
MAC_CHARS = 20
_TOKEN = re.compile(r"([1-9][0-9]{0,18})-(0|[1-9][0-9]{0,18})-([0-9a-f]{" + str(MAC_CHARS) + "})")


@dataclass(frozen=True)
class VerpClaims:
    subscriber_id: int
    issue_id: int  # 0: a confirmation mail

    @property
    def issue(self) -> int | None:
        return self.issue_id or None


class Verp:
    """Make and read VERP envelope senders ``local+token@domain``."""

    def __init__(self, key: bytes, local_part: str = "bounces", domain: str = "localhost") -> None:
        if len(key) < 16:
            raise ValueError("token key must be at least 16 bytes")
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,30}", local_part):
            raise ValueError(f"VERP local part must be letters, digits, '.', '_' or '-', got {local_part!r}")
        self._key = key
        self.local_part = local_part
        self.domain = domain.lower()

    def _mac(self, subscriber_id: int, issue_id: int) -> str:
        # one-shot HMAC and hex: per message this is on the sending path (base64.b32encode is pure
        # Python and cost as much as the HMAC)
        digest = hmac.digest(self._key, f"verp|{subscriber_id}|{issue_id}".encode(), "sha256")
        return digest[: MAC_CHARS // 2].hex()

    def token(self, subscriber_id: int, issue_id: int | None) -> str:
        iid = int(issue_id or 0)
        return f"{int(subscriber_id)}-{iid}-{self._mac(int(subscriber_id), iid)}"

    def address(self, subscriber_id: int, issue_id: int | None) -> str:
        """The envelope sender for this subscriber's copy of ``issue_id`` (None/0: confirmation)."""
        return f"{self.local_part}+{self.token(subscriber_id, issue_id)}@{self.domain}"

    def verify_token(self, token: str) -> VerpClaims | None:
        """The claims of a well-formed token whose MAC verifies, else None (forged or garbled)."""
        m = _TOKEN.fullmatch(token.strip().lower())
        if m is None:
            return None
        sid, iid, mac = int(m.group(1)), int(m.group(2)), m.group(3)
        if not hmac.compare_digest(mac, self._mac(sid, iid)):
            return None
        return VerpClaims(sid, iid)

    def parse(self, address: str) -> tuple[str, VerpClaims | None] | None:
        """For an address of our VERP shape (``local+something@domain``, any case): (token, claims or
        None when it does not verify); None for any other address."""
        local, _, domain = address.strip().strip("<>").rpartition("@")
        prefix = self.local_part.lower() + "+"
        if not local.lower().startswith(prefix) or (self.domain and domain.lower() != self.domain):
            return None
        token = local[len(prefix):]
        return token, self.verify_token(token)

    def find(self, values: list[str]) -> tuple[str, VerpClaims | None] | None:
        """The first VERP address among header values (address lists) or plain addresses:
        (token, claims); verified claims win over a forged address seen earlier."""
        seen: tuple[str, VerpClaims | None] | None = None
        for _name, addr in getaddresses([v for v in values if v]):
            hit = self.parse(addr)
            if hit is None:
                continue
            if hit[1] is not None:
                return hit
            seen = seen or hit
        return seen


def verp_domain(configured: str, sender_address: str) -> str:
    """The VERP domain: the configured one, else the sender address's domain."""
    return (configured or sender_address.rpartition("@")[2] or "localhost").lower()


def make_verp(config: Config, key: bytes) -> Verp | None:
    """The VERP maker for these settings, or None when ``bounces.verp`` is off."""
    b = config.bounces
    if not b.verp:
        return None
    return Verp(key, b.local_part, verp_domain(b.domain, parseaddr(config.newsletter.sender)[1]))


def reader(config: Config, key: bytes) -> Verp:
    """A VERP reader for these settings (also when sending with VERP is off: old bounces still verify)."""
    b = config.bounces
    return Verp(key, b.local_part, verp_domain(b.domain, parseaddr(config.newsletter.sender)[1]))
