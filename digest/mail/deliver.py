"""Send an issue to its recipients: a pool of aiosmtplib connections over the delivery ledger.

Per process: one task claims batches from the ledger (database I/O runs in one helper thread, so
it never blocks the event loop; the next batch is claimed while the last rows of the current one
are sent);
``pool_size`` connection tasks take claimed rows from a queue, build each message (see
:mod:`digest.mail.message`) and send it; one flusher writes the outcomes to the ledger as a group
commit: whatever was accepted while the previous write ran goes in the next one, so a ``kill -9``
repeats only the messages on the wire plus a write's worth, and a fast relay still gets few,
large writes.

What a refusal means depends on where it comes:

* 4xx replies, timeouts and connection failures are temporary: retried with capped exponential
  backoff until the deadline: ``retry_deadline_seconds`` after the start of the run or after the
  last message the relay accepted, whichever is later, so a healthy relay that takes longer than
  the deadline for the whole list is never cut off, and a relay that accepts nothing gets that
  long. Past the deadline no new attempt starts; the rows stay 'pending' with their last error,
  and the next run (``digest send``, the worker) resumes them. A reader is never dropped for a
  sick relay.
* a 5xx answer to one RCPT is about that address: final, recorded, and a hard bounce (the address
  is suppressed after ``max_hard_bounces``);
* any other 5xx (at the greeting, EHLO, AUTH, MAIL FROM or DATA, and 530/535 anywhere) is about
  the message or the session: the run stops at once, strikes nobody, leaves every row waiting and
  reports the reply in :attr:`SendReport.fatal`.

A connection that cannot connect backs off before its next attempt; one timeout
(``timeout_seconds``) covers a whole connect and a whole message, so a stalled relay costs one
timeout per connection.

:func:`deliver_parallel` runs :func:`deliver` in several processes that share the ledger.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any

import aiosmtplib

from digest.config import SmtpConfig
from digest.errors import RelayUnreachable
from digest.mail.ledger import Claimed, DeliveryLedger, Failure, Retry
from digest.mail.message import MessageFactory, Recipient
from digest.store import Store, utcnow

log = logging.getLogger("digest.deliver")

Progress = Callable[[int, int], None]
#: the seam for per-subscriber variants (preferences): the factory for a claimed row, or None to
#: skip the subscriber for this issue (ledger status 'skipped')
FactoryFor = Callable[[Claimed], "MessageFactory | None"]

BACKOFF_CAP = 300.0
CONNECT_BACKOFF_CAP = 10.0
#: accepted messages are written to the ledger in groups of this many, or this long after the
#: first of a group: what a kill -9 repeats against one transaction per few messages (see
#: docs/benchmarks.md, "Delivery faults and kill -9")
FLUSH_ROWS = 8
FLUSH_SECONDS = 0.005


@dataclass
class SendReport:
    issue_id: int
    sent: int = 0
    bounced: int = 0
    retried: int = 0
    suppressed: int = 0
    reclaimed: int = 0
    skipped: int = 0
    #: rows still to deliver when the run ended (temporary failures past the deadline, rows not tried)
    waiting: int = 0
    #: the last temporary error of a row left waiting
    last_error: str = ""
    #: a refusal of the message or the session that stopped the run ('' when none)
    fatal: str = ""
    seconds: float = 0.0
    processes: int = 1
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = f" ({self.sent / self.seconds:.0f}/s)" if self.seconds > 0 and self.sent else ""
        procs = f" by {self.processes} processes" if self.processes > 1 else ""
        return (f"issue {self.issue_id}: sent {self.sent}{rate}{procs}, "
                f"bounced {self.bounced}, retries {self.retried}"
                + (f", suppressed {self.suppressed}" if self.suppressed else "")
                + (f", skipped {self.skipped}" if self.skipped else "")
                + (f", waiting {self.waiting}" + (f" (last error: {self.last_error})" if self.last_error else "")
                   if self.waiting else ""))

    def add(self, other: SendReport) -> None:
        """Sum another process's report into this one (``waiting`` is the ledger's, set by the caller)."""
        for name in ("sent", "bounced", "retried", "suppressed", "reclaimed", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.last_error = other.last_error or self.last_error
        self.fatal = self.fatal or other.fatal


class RateLimiter:
    """A shared pacing limiter: at most ``rate`` acquisitions per second (0 = unlimited)."""

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


def check_smtp(cfg: SmtpConfig) -> None:
    """Connect (and log in) once; raise :class:`RelayUnreachable` with a one-line reason when that
    fails. The caller leaves the issue partly sent, so the next `digest send` resumes it.
    """
    async def probe() -> None:
        client = _smtp_client(cfg)
        try:
            await asyncio.wait_for(_open(client), cfg.timeout_seconds)
            await asyncio.wait_for(client.quit(), cfg.timeout_seconds)
        except TimeoutError:
            raise aiosmtplib.SMTPTimeoutError(f"no answer within {cfg.timeout_seconds:g}s") from None
        finally:
            client.close()

    try:
        asyncio.run(probe())
    except (aiosmtplib.SMTPException, OSError) as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        why = f"cannot reach the SMTP server {cfg.host}:{cfg.port}: {reason}"
        raise RelayUnreachable(f"{why}; nothing was sent, and `digest send` will resume this issue once it "
                               f"is reachable", why) from None


#: 5xx replies that are about the session wherever they come: authentication required or failed
SESSION_CODES = frozenset({530, 534, 535, 538})


def classify_error(exc: BaseException) -> tuple[str, str]:
    """('hard' | 'fatal' | 'soft', one-line reason) for an SMTP failure.

    'hard': a 5xx answer to RCPT, about that address (a bounce). 'fatal': any other 5xx, about the
    message or the session (size, content, policy at MAIL FROM or DATA, authentication): stop
    the run and strike nobody. 'soft': everything else (4xx, timeouts, lost connections).
    A 552 answer to RCPT is temporary (RFC 5321 4.5.3.1.10: too many recipients).
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        exc = exc.recipients[0]
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", "") or str(exc)
    reason = f"{code} {message}".strip() if code else f"{type(exc).__name__}: {message}"
    reason = " ".join(reason.split())[:300]
    if not (isinstance(code, int) and 500 <= code < 600):
        return "soft", reason
    stage = getattr(exc, "stage", "session")
    if stage == "rcpt" and code not in SESSION_CODES:
        return ("soft", reason) if code == 552 else ("hard", reason)
    where = {"mail": "MAIL FROM", "data": "DATA", "content": "the end of DATA"}.get(stage, "connect/login")
    return "fatal", f"{reason} (at {where})"


def backoff_seconds(attempts: int, cap: float = BACKOFF_CAP) -> float:
    """Capped exponential backoff: 2, 4, 8 ... seconds after the 1st, 2nd, 3rd ... attempt."""
    return min(cap, 2.0 ** max(1, min(attempts, 16)))


class _Refused(aiosmtplib.SMTPResponseException):
    """A reply that is not the expected one; ``stage`` says to what: 'mail', 'rcpt', 'data' (the
    DATA command), 'content' (the end of the message) or 'session' (greeting, EHLO, AUTH)."""

    def __init__(self, code: int, message: str, stage: str) -> None:
        super().__init__(code, message)
        self.stage = stage


async def _open(client: aiosmtplib.SMTP) -> None:
    """Connect (greeting, TLS, AUTH) and EHLO; a refusal raises :class:`_Refused` at stage 'session'."""
    try:
        await client.connect()
        if not client.last_ehlo_response and not client.last_helo_response:
            await client.ehlo()
    except aiosmtplib.SMTPResponseException as exc:
        client.close()
        raise _Refused(exc.code, exc.message, "session") from exc


class _Connection:
    """One pooled SMTP connection, reconnected on demand.

    Connecting (TLS, STARTTLS, EHLO, AUTH) is aiosmtplib's. A message goes out as MAIL, RCPT and
    DATA through the client's ``execute_command`` and, for the content, the protocol's ``write``
    and ``read_response``: the content comes dot-stuffed from the factory (``build_wire``), so it
    is not scanned three times per message as ``sendmail`` does. One timer per message (rather
    than one per command) closes a connection whose server stopped answering.
    """

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self.client: aiosmtplib.SMTP | None = None
        self.connect_failures = 0
        self.size_ok = False
        self.utf8_ok = False
        self.timed_out = False

    def connect_backoff(self) -> float:
        """Seconds to wait before reconnecting after failed connects (0 when connected or none failed)."""
        if not self.connect_failures or (self.client is not None and self.client.is_connected):
            return 0.0
        return min(CONNECT_BACKOFF_CAP, 0.1 * 2 ** min(self.connect_failures, 10))

    async def _connect(self) -> aiosmtplib.SMTP:
        client = _smtp_client(self.cfg)
        try:
            await asyncio.wait_for(_open(client), self.cfg.timeout_seconds)
        except TimeoutError:
            self.connect_failures += 1
            client.close()
            raise aiosmtplib.SMTPTimeoutError(f"no answer within {self.cfg.timeout_seconds:g}s (connecting)") \
                from None
        except (aiosmtplib.SMTPException, OSError):
            self.connect_failures += 1
            client.close()
            raise
        self.connect_failures = 0
        self.size_ok = client.supports_extension("size")
        self.utf8_ok = client.supports_extension("smtputf8")
        self.client = client
        return client

    def _expire(self) -> None:
        self.timed_out = True
        if self.client is not None:
            self.client.close()

    async def send(self, sender: str, rcpt: str, wire: bytes) -> None:
        """Send one message; ``wire`` is dot-stuffed and ends with the ``.`` line (``build_wire``)."""
        client = self.client if self.client is not None and self.client.is_connected else await self._connect()
        mail_opts: list[bytes] = [f"SIZE={len(wire)}".encode()] if self.size_ok else []
        if not (sender.isascii() and rcpt.isascii()):
            if not self.utf8_ok:
                raise _Refused(553, "5.6.7 the server does not support SMTPUTF8 for a non-ASCII address", "rcpt")
            mail_opts.append(b"SMTPUTF8")
        if any(c in rcpt for c in "<>\r\n\x00 ") or "@" not in rcpt:
            raise _Refused(553, f"5.1.3 invalid recipient address {rcpt[:80]!r}", "rcpt")
        self.timed_out = False
        timer = asyncio.get_running_loop().call_later(self.cfg.timeout_seconds, self._expire)
        try:
            r = await client.execute_command(b"MAIL", b"FROM:<" + sender.encode() + b">", *mail_opts, timeout=None)
            if r.code != 250:
                raise _Refused(r.code, r.message, "mail")
            r = await client.execute_command(b"RCPT", b"TO:<" + rcpt.encode() + b">", timeout=None)
            if r.code not in (250, 251):
                raise _Refused(r.code, r.message, "rcpt")
            r = await client.execute_command(b"DATA", timeout=None)
            if r.code != 354:
                raise _Refused(r.code, r.message, "data")
            protocol = client.protocol
            if protocol is None:
                raise aiosmtplib.SMTPServerDisconnected("connection lost")
            protocol.write(wire)
            r = await protocol.read_response(timeout=None)  # no await between write and read
            if r.code != 250:
                raise _Refused(r.code, r.message, "content")
        except _Refused:
            await self._reset()
            raise
        except (aiosmtplib.SMTPException, OSError) as exc:
            await self.close()
            if self.timed_out:
                raise aiosmtplib.SMTPTimeoutError(f"no answer within {self.cfg.timeout_seconds:g}s") from exc
            raise
        finally:
            timer.cancel()

    async def _reset(self) -> None:
        try:
            if self.client is not None and self.client.is_connected:
                await asyncio.wait_for(self.client.rset(), self.cfg.timeout_seconds)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            await self.close()

    async def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            try:
                if client.is_connected:
                    await asyncio.wait_for(client.quit(), 5.0)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


class _Outcomes:
    """Outcomes waiting to be written to the ledger in one transaction."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.retries: list[Retry] = []
        self.failures: list[Failure] = []
        self.skipped: list[int] = []
        self.released: list[int] = []

    def __len__(self) -> int:
        return len(self.sent) + len(self.retries) + len(self.failures) + len(self.skipped) + len(self.released)

    def take(self) -> _Outcomes:
        out = _Outcomes()
        out.sent, self.sent = self.sent, []
        out.retries, self.retries = self.retries, []
        out.failures, self.failures = self.failures, []
        out.skipped, self.skipped = self.skipped, []
        out.released, self.released = self.released, []
        return out

    def put_back(self, out: _Outcomes) -> None:
        self.sent[:0], self.retries[:0], self.failures[:0] = out.sent, out.retries, out.failures
        self.skipped[:0], self.released[:0] = out.skipped, out.released


async def _run(cfg: SmtpConfig, ledger: DeliveryLedger, factory_for: FactoryFor, sender: str,
               report: SendReport, progress: Progress | None, total: int, batch: int, rate: float,
               span: float) -> None:
    loop = asyncio.get_running_loop()
    # claims and outcome writes in separate threads (each on its own connection): a slow claim
    # never holds back the record of accepted messages
    executor = ThreadPoolExecutor(1, thread_name_prefix="digest-ledger")
    recorder = ThreadPoolExecutor(1, thread_name_prefix="digest-ledger-record")

    async def db(fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        return await loop.run_in_executor(executor, partial(fn, *args, **kw))

    limiter = RateLimiter(rate)
    pool = [_Connection(cfg) for _ in range(cfg.pool_size)]
    # a short queue: rows claimed but not yet being sent stay few (at most this batch and the next)
    queue: asyncio.Queue[Claimed | None] = asyncio.Queue(maxsize=cfg.pool_size)
    outcomes = _Outcomes()
    waiting_write = asyncio.Event()  # outcomes are waiting for the flusher
    write_now = asyncio.Event()  # FLUSH_ROWS are waiting, or a sender waits for room
    # messages a kill -9 would repeat: on the wire (the relay may have accepted them) plus accepted
    # and not yet written to the ledger (waiting for the flusher or in its write). No message starts
    # while there are this many: the sending waits for a slow database rather than running ahead
    unrecorded_cap = 2 * max(1, cfg.pool_size)
    writing = 0
    on_wire = 0
    room = asyncio.Condition()
    busy = 0
    done = 0
    stopping = False
    # the deadline counts from the start of the run or the last accepted message, whichever is later
    progress_at = time.monotonic()

    def deadline() -> float:
        return progress_at + span

    def over() -> bool:
        """No new attempt starts: the deadline passed, or the relay refused the message or session."""
        return bool(report.fatal) or time.monotonic() >= deadline()

    def note(urgent: bool = False) -> None:
        waiting_write.set()
        if urgent or len(outcomes) >= FLUSH_ROWS:
            write_now.set()

    def unrecorded() -> int:
        return len(outcomes.sent) + writing + on_wire

    async def flush() -> None:
        nonlocal writing
        out = outcomes.take()
        if not len(out):
            return
        writing = len(out.sent)
        try:
            suppressed = await loop.run_in_executor(recorder, partial(
                ledger.record, sent=out.sent, retries=out.retries, failures=out.failures, skipped=out.skipped,
                released=out.released, max_hard_bounces=cfg.max_hard_bounces))
        except Exception:
            outcomes.put_back(out)
            raise
        finally:
            writing = 0
            async with room:
                room.notify_all()
        report.sent += len(out.sent)
        report.suppressed += len(suppressed)

    async def flusher() -> None:
        # a group commit: write FLUSH_ROWS outcomes at once, or what there is FLUSH_SECONDS after the
        # first; what arrives during a write goes in the next one. Few rows are ever unrecorded (a
        # kill repeats little), and a fast relay does not pay one transaction per message.
        while not stopping:
            await waiting_write.wait()
            if not write_now.is_set():
                try:
                    await asyncio.wait_for(write_now.wait(), FLUSH_SECONDS)
                except TimeoutError:
                    pass
            waiting_write.clear()
            write_now.clear()
            try:
                await flush()
            except Exception as exc:  # noqa: BLE001 - a database hiccup: keep the outcomes, try again
                log.warning("could not record outcomes in the ledger (will retry): %s", exc)
                await asyncio.sleep(1.0)
                waiting_write.set()

    def finished(c: Claimed) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total)

    async def sender_task(conn: _Connection) -> None:
        nonlocal busy
        while True:
            c = await queue.get()
            if c is None:
                return
            busy += 1
            try:
                await send_one(conn, c)
            finally:
                busy -= 1

    async def send_one(conn: _Connection, c: Claimed) -> None:
        factory = factory_for(c)
        if factory is None:
            outcomes.skipped.append(c.delivery_id)
            note()
            report.skipped += 1
            finished(c)
            return
        pause = conn.connect_backoff()
        if pause:
            await asyncio.sleep(min(pause, max(0.0, deadline() - time.monotonic())))
        if not over():
            await limiter.wait()
        if unrecorded() >= unrecorded_cap:
            note(urgent=True)
            async with room:
                await room.wait_for(lambda: unrecorded() < unrecorded_cap or over())
        if over():  # claimed but not tried: back to 'pending' as it was
            outcomes.released.append(c.delivery_id)
            note()
            return
        nonlocal on_wire, progress_at
        on_wire += 1
        try:
            rcpt = Recipient(c.subscriber_id, c.email, c.nonce)
            data = factory.build_wire(rcpt)
            await conn.send(factory.envelope_sender(rcpt), c.email, data)
        except (aiosmtplib.SMTPException, OSError) as exc:
            on_wire -= 1
            await _wake()
            kind, reason = classify_error(exc)
            if kind == "hard":
                report.bounced += 1
                outcomes.failures.append(Failure(c.delivery_id, c.subscriber_id, reason, True))
                log.warning("hard bounce %s: %s", c.email, reason)
            elif kind == "fatal":
                if not report.fatal:
                    report.fatal = reason
                    log.error("the SMTP server refused the message or the session, stopping: %s", reason)
                outcomes.retries.append(Retry(c.delivery_id, reason, utcnow()))
                note()
                return
            else:
                now = time.monotonic()
                wait = min(backoff_seconds(c.attempts), max(0.0, deadline() - now))
                outcomes.retries.append(Retry(c.delivery_id, reason, utcnow() + timedelta(seconds=wait)))
                report.retried += 1
                report.last_error = reason
                if now < deadline():
                    log.info("will retry %s in %.0fs: %s", c.email, wait, reason)
                else:
                    log.info("retry deadline passed; %s waits for the next run: %s", c.email, reason)
                note()
                return
        else:
            on_wire -= 1
            progress_at = max(progress_at, time.monotonic())
            outcomes.sent.append(c.delivery_id)
        note()
        finished(c)

    async def _wake() -> None:
        async with room:
            room.notify_all()

    async def producer() -> None:
        # claim the next batch once this one is queued: the claim overlaps the sending of the last
        # queued rows, and a process never holds more than one batch (plus the queue) unsent, so
        # other workers find work and a kill repeats little
        while not over():
            claimed = await db(ledger.claim, batch)
            if claimed:
                for c in claimed:
                    await queue.put(c)
                continue
            # nothing due now: wait for our own sends and for rows waiting for their retry time
            while not queue.empty() or busy or len(outcomes):
                await asyncio.sleep(0.05)
                note()
            if over():
                break
            n, earliest = await db(ledger.pending)
            if not n:
                break
            wait = 0.0 if earliest is None else (earliest - utcnow()).total_seconds()
            await asyncio.sleep(min(0.5, max(0.02, wait)))
        for _ in pool:
            await queue.put(None)

    flush_task = asyncio.ensure_future(flusher())
    try:
        await asyncio.gather(producer(), *(sender_task(conn) for conn in pool))
    finally:
        stopping = True
        waiting_write.set()
        write_now.set()
        await asyncio.gather(flush_task, return_exceptions=True)
        try:
            await flush()
        finally:
            await asyncio.gather(*(c.close() for c in pool), return_exceptions=True)
            executor.shutdown(wait=True)
            recorder.shutdown(wait=True)


def deliver(store: Store, cfg: SmtpConfig, issue_id: int, factory: MessageFactory, *,
            progress: Progress | None = None, batch: int = 200, enqueue: bool = True,
            factory_for: FactoryFor | None = None, rate: float | None = None,
            deadline_seconds: float | None = None, subscribers: Sequence[int] | None = None) -> SendReport:
    """Send issue ``issue_id`` to every recipient in its ledger that has not had it yet.

    ``factory_for`` picks the factory (the variant of the issue) per claimed row, or None to skip
    the row; by default every row gets ``factory``. ``rate`` overrides the configured messages per
    second for this process (``deliver_parallel`` splits the rate between processes). Rows not
    delivered by the deadline stay waiting (``report.waiting``); a refusal of the message or the
    session stops the run early (``report.fatal``). ``subscribers`` limits the run to those
    subscribers' rows (a welcome mail): other rows of the issue are left to the runs that own them.
    """
    report = SendReport(issue_id=issue_id)
    ledger = DeliveryLedger(store, issue_id, only=subscribers)
    if enqueue:
        ledger.enqueue(subscribers)
    report.reclaimed = ledger.reclaim_stale()
    total = ledger.remaining()
    t0 = time.perf_counter()
    if total:
        span = cfg.retry_deadline_seconds if deadline_seconds is None else deadline_seconds
        chooser: FactoryFor = factory_for or (lambda _c: factory)
        asyncio.run(_run(cfg, ledger, chooser, factory.envelope_from, report, progress, total, batch,
                         cfg.rate_limit_per_second if rate is None else rate, span))
        report.waiting = ledger.counts().get("pending", 0)
    report.seconds = time.perf_counter() - t0
    return report
