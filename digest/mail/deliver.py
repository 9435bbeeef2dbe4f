"""Send an issue to its recipients: a pool of aiosmtplib connections over the delivery ledger.

4xx replies and connection failures are retried with capped exponential backoff until the
configured deadline; 5xx replies are final and count as hard bounces. Each message's ledger row
is claimed before it is sent and marked after the server accepted it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiosmtplib

from ..config import SmtpConfig
from ..store import Store, utcnow
from .ledger import Claimed, DeliveryLedger
from .message import MessageFactory, Recipient

log = logging.getLogger("digest.deliver")

Progress = Callable[[int, int], None]


@dataclass
class SendReport:
    issue_id: int
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    retried: int = 0
    suppressed: int = 0
    reclaimed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = f" ({self.sent / self.seconds:.0f}/s)" if self.seconds > 0 and self.sent else ""
        return (f"issue {self.issue_id}: sent {self.sent}{rate}, failed {self.failed}, bounced {self.bounced}, "
                f"retries {self.retried}" + (f", suppressed {self.suppressed}" if self.suppressed else ""))


class RateLimiter:
    """A simple shared pacing limiter: at most ``rate`` acquisitions per second (0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self.interval


def _smtp_client(cfg: SmtpConfig) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(hostname=cfg.host, port=cfg.port, timeout=cfg.timeout_seconds,
                           use_tls=cfg.tls, start_tls=cfg.starttls if cfg.starttls else False,
                           username=cfg.username or None, password=cfg.password or None)


def classify_error(exc: BaseException) -> tuple[str, str]:
    """('hard' | 'soft', one-line reason) for an SMTP failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", "") or str(exc)
    reason = f"{code} {message}".strip() if code else f"{type(exc).__name__}: {message}"
    reason = " ".join(reason.split())[:300]
    if isinstance(code, int) and 500 <= code < 600:
        return "hard", reason
    return "soft", reason


class _Connection:
    """One pooled SMTP connection, reconnected on demand."""

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self.client: aiosmtplib.SMTP | None = None

    async def send(self, sender: str, rcpt: str, data: bytes) -> None:
        if self.client is None or not self.client.is_connected:
            self.client = _smtp_client(self.cfg)
            await self.client.connect()
        try:
            await self.client.sendmail(sender, [rcpt], data)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError):
            await self.close()
            raise

    async def close(self) -> None:
        if self.client is not None:
            try:
                if self.client.is_connected:
                    await self.client.quit()
            except (aiosmtplib.SMTPException, OSError):
                self.client.close()
            self.client = None


async def _run(store: Store, cfg: SmtpConfig, ledger: DeliveryLedger, factory: MessageFactory,
               report: SendReport, progress: Progress | None, total: int, batch: int) -> None:
    limiter = RateLimiter(cfg.rate_limit_per_second)
    pool = [_Connection(cfg) for _ in range(cfg.pool_size)]
    deadline = time.monotonic() + cfg.retry_deadline_seconds
    done = 0
    loop = asyncio.get_running_loop()

    async def send_slice(conn: _Connection, items: list[Claimed], ok: list[int]) -> None:
        nonlocal done
        for c in items:
            data = factory.build(Recipient(c.subscriber_id, c.email, c.nonce))
            await limiter.wait()
            try:
                await conn.send(factory.envelope_from, c.email, data)
                ok.append(c.delivery_id)
            except (aiosmtplib.SMTPException, OSError) as exc:
                kind, reason = classify_error(exc)
                if kind == "hard":
                    report.bounced += 1
                    if ledger.mark_failed(c.delivery_id, c.subscriber_id, reason, hard=True,
                                          max_hard_bounces=cfg_max_bounces):
                        report.suppressed += 1
                    log.warning("hard bounce %s: %s", c.email, reason)
                elif time.monotonic() < deadline:
                    backoff = min(300.0, 2.0 ** min(c.attempts, 8))
                    ledger.mark_retry(c.delivery_id, reason, utcnow() + timedelta(seconds=backoff))
                    report.retried += 1
                    log.info("will retry %s in %.0fs: %s", c.email, backoff, reason)
                    continue
                else:
                    report.failed += 1
                    ledger.mark_failed(c.delivery_id, c.subscriber_id, f"gave up: {reason}", hard=False,
                                       max_hard_bounces=cfg_max_bounces)
                    report.errors.append(f"{c.email}: {reason}")
            done += 1
            if progress:
                progress(done, total)

    cfg_max_bounces = cfg.max_hard_bounces
    try:
        while True:
            claimed = await loop.run_in_executor(None, ledger.claim, batch)
            if not claimed:
                if ledger.remaining() and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)  # rows waiting for their retry time
                    continue
                break
            ok: list[int] = []
            slices = [claimed[i::len(pool)] for i in range(len(pool))]
            await asyncio.gather(*(send_slice(conn, sl, ok) for conn, sl in zip(pool, slices) if sl))
            await loop.run_in_executor(None, ledger.mark_sent, ok)
            report.sent += len(ok)
    finally:
        await asyncio.gather(*(c.close() for c in pool), return_exceptions=True)


def deliver(store: Store, cfg: SmtpConfig, issue_id: int, factory: MessageFactory, *,
            progress: Progress | None = None, batch: int = 200, enqueue: bool = True) -> SendReport:
    """Send issue ``issue_id`` to every recipient in its ledger that has not had it yet."""
    report = SendReport(issue_id=issue_id)
    ledger = DeliveryLedger(store, issue_id)
    if enqueue:
        ledger.enqueue()
    report.reclaimed = ledger.reclaim_stale()
    total = ledger.remaining()
    t0 = time.perf_counter()
    if total:
        asyncio.run(_run(store, cfg, ledger, factory, report, progress, total, batch))
    report.seconds = time.perf_counter() - t0
    return report
