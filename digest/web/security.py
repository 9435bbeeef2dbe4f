"""Web hardening: security headers, a request body cap, CSRF tokens and in-memory rate limits."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("digest.web")

#: the policy for our own pages: no script at all, styles only from our stylesheet
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
#: archived issues carry inlined CSS (style attributes), so inline *styles* are allowed there; never script
CSP_ARCHIVE = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; form-action 'none'; "
               "frame-ancestors 'none'; base-uri 'none'")

SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


class SecurityMiddleware:
    """Security headers on every answer (errors too), a request body cap, and a last-resort 500 page."""

    def __init__(self, app: ASGIApp, max_body: int = 64 * 1024, https: bool = False,
                 large: tuple[str, int] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.https = https
        #: (path prefix, cap): a larger body cap there (the relays' webhooks batch events)
        self.large = large

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = CSP
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
                if self.https:
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        cap = self.max_body
        if self.large is not None and str(scope.get("path", "")).startswith(self.large[0]):
            cap = self.large[1]
        length = Headers(scope=scope).get("content-length", "")
        if length and (not length.isdigit() or int(length) > cap):
            await PlainTextResponse("Request body too large", status_code=413)(scope, receive, send_wrapper)
            return
        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise HTTPException(413, "Request body too large")
            return message

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            log.exception("web: unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await PlainTextResponse("Internal error", status_code=500)(scope, receive, send_wrapper)


# ---- CSRF ----------------------------------------------------------------------------------------
COOKIE = "digest_csrf"
FIELD = "csrf_token"
_COOKIE_RE = re.compile(r"[0-9a-f]{32}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class Csrf:
    """Signed double-submit tokens: a random cookie, and a form field that is its HMAC.

    A third-party page can neither read the cookie nor compute the field. An ``Origin`` header
    naming another site, or ``Sec-Fetch-Site: cross-site``, fails the check as well.
    """

    def __init__(self, key: bytes, base_url: str) -> None:
        self._key = hashlib.sha256(b"digest-csrf|" + key).digest()
        self.secure = base_url.lower().startswith("https://")
        self.base_origin = _origin(base_url)

    def _sign(self, value: str) -> str:
        return hmac.new(self._key, value.encode("ascii"), hashlib.sha256).hexdigest()[:40]

    def issue(self, request: Request) -> tuple[str, str | None]:
        """The form token for this client, and a new cookie value to set (None: keep the current one)."""
        current = request.cookies.get(COOKIE, "")
        if _COOKIE_RE.fullmatch(current):
            return self._sign(current), None
        fresh = secrets.token_hex(16)
        return self._sign(fresh), fresh

    def set_cookie(self, response: Response, value: str | None) -> None:
        if value:
            response.set_cookie(COOKIE, value, max_age=7 * 86400, path="/", secure=self.secure,
                                httponly=True, samesite="lax")

    def check(self, request: Request, submitted: object) -> bool:
        # "Origin: null" is what browsers send for same-site posts under Referrer-Policy: no-referrer
        origin = request.headers.get("origin")
        if origin and origin != "null":
            own = {self.base_origin, f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
            if origin.lower() not in own:
                return False
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            return False
        cookie = request.cookies.get(COOKIE, "")
        if not _COOKIE_RE.fullmatch(cookie) or not isinstance(submitted, str) or len(submitted) != 40:
            return False
        return hmac.compare_digest(submitted.encode("ascii", "replace"), self._sign(cookie).encode("ascii"))


# ---- rate limits ---------------------------------------------------------------------------------
def client_key(host: str | None) -> str:
    """The rate-limit key for a client address: IPv4 as is, IPv6 by its /64 network."""
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per key (sliding window, bounded memory).

    ``limit`` <= 0 means no limit.
    """

    def __init__(self, limit: int, window: float, max_keys: int = 50_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.limit <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self.max_keys:
                    self._prune(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def _prune(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]
        for k in stale:
            del self._hits[k]
        if len(self._hits) >= self.max_keys:  # still full of live keys: forget the oldest half
            for k in list(self._hits)[: self.max_keys // 2]:
                del self._hits[k]

    def keys(self) -> Iterable[str]:
        return list(self._hits)
