"""One exception tree for the whole project.

Messages are one line and read ``what failed: why`` so the CLI can print them as they are.
Expected per-feed and per-recipient failures are recorded and skipped by the callers; only
configuration errors and programming errors stop a run.
"""

from __future__ import annotations


class DigestError(Exception):
    """Root of every error the project raises on purpose."""

    #: the CLI's exit status for it
    exit_code = 1


class ConfigError(DigestError):
    """A configuration file or environment value is missing, unknown or invalid."""


class StoreError(DigestError):
    """The database could not be opened or migrated."""


class FeedError(DigestError):
    """A feed could not be fetched or parsed (recorded on the feed; the run goes on)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class FetchError(FeedError):
    """An HTTP fetch failed: network error, refused address, bad status, too big, too slow."""


class BlockedAddressError(FetchError):
    """The URL resolves to an address the SSRF guard refuses (loopback, private, metadata...)."""


class ExtractError(DigestError):
    """The main text of a page could not be extracted."""


class MailError(DigestError):
    """A message could not be built or delivered."""


class RelayUnreachable(MailError):
    """The SMTP server could not be reached or logged in to: temporary, the readers wait (exit 75,
    EX_TEMPFAIL, as for a partly sent issue). ``reason`` is the short cause, for the ledger."""

    exit_code = 75

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidAddressError(MailError):
    """An email address is not valid."""


class TokenError(DigestError):
    """A signed token is forged, tampered with, expired or of the wrong kind."""
