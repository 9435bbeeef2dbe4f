"""Feed URLs on the way in: one tidy form, and one identity for duplicates.

:func:`normalise_url` gives the form that is stored: scheme and host lower-cased, default ports
dropped, ``feed:`` turned into http, tracking parameters (``utm_*``, ``fbclid``, ...) and the
fragment removed. The path is kept as given (``/feed/`` and ``/feed`` may be different resources
on the server, and WordPress redirects one to the other), so :func:`feed_key` is what decides
that two URLs are the same feed: it also ignores http versus https and a trailing slash.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MAX_URL", "feed_key", "normalise_url"]

MAX_URL = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: query parameters that only say where a click came from; never part of a feed's identity
_TRACKING = re.compile(r"^(utm_\w*|fbclid|gclid|dclid|msclkid|yclid|igshid|mc_cid|mc_eid|_hsenc|_hsmi"
                       r"|mkt_tok|oly_anon_id|oly_enc_id|vero_id|wt_mc|ga_\w+|_ga)$", re.IGNORECASE)
_HOSTLIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,63}(:\d+)?(/|$|\?)")


def normalise_url(raw: str, *, assume_https: bool = False) -> str:
    """Check one feed URL and return it in its stored form.

    ``assume_https``: a bare ``example.org/feed`` (a host name with a dot, no scheme) gets
    ``https://`` instead of being refused. Raises ValueError with a short reason when it is not a
    usable http(s) URL.
    """
    url = raw.strip()
    if not url:
        raise ValueError("empty URL")
    if re.search(r"[\x00-\x20\x7f]", url):
        raise ValueError("URL contains spaces or control characters")
    if url.lower().startswith("feed:"):
        rest = url[5:]
        url = rest if rest.lower().startswith(("http://", "https://")) else "http:" + rest
    if assume_https and "://" not in url and _HOSTLIKE.match(url.removeprefix("//")):
        url = "https://" + url.removeprefix("//")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("malformed URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"unsupported scheme {scheme!r}" if scheme else "not a URL (no http:// or https://)")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValueError("URL has no host")
    if len(url) > MAX_URL:
        raise ValueError(f"URL longer than {MAX_URL} characters")
    if parts.username or parts.password:
        raise ValueError("URL contains credentials")
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _TRACKING.match(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


def feed_key(url: str) -> str:
    """The identity of a feed URL: two URLs with one key are one feed (http/https and a trailing
    slash do not count). Expects a URL already through :func:`normalise_url`."""
    parts = urlsplit(url)
    return f"{parts.netloc.lower()}{parts.path.rstrip('/')}?{parts.query}"
