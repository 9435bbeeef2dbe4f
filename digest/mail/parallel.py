"""Run :func:`digest.mail.deliver.deliver` in several processes that share one issue's ledger.

The parent enqueues and reclaims, then starts ``processes`` children: fresh interpreters
(``python -c``; no inherited threads, locks or database connections, and no re-import of the
caller's ``__main__``) that read their job, pickled, on stdin and write their report on stdout.
Each child opens its own engine, claims batches from the ledger and sends them over its own
connection pool; the message factory is pickled once per child. The parent only watches: it
reports progress from the ledger and sums the children's reports.

Children die with the parent (``PR_SET_PDEATHSIG`` on Linux, and a parent check between batches),
so killing ``digest send`` stops every sender; the next run re-sends only what was in flight.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.config import SmtpConfig
from digest.mail.deliver import FactoryFor, Progress, SendReport, deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.message import MessageFactory

log = logging.getLogger("digest.deliver")

#: below this many messages per process, extra processes cost more than they save
MIN_PER_PROCESS = 500
MAX_PROCESSES = 16


def auto_processes(remaining: int, db_url: str, configured: int = 0) -> int:
    """How many sending processes: ``configured`` when > 0, else one per CPU while each gets
    at least :data:`MIN_PER_PROCESS` messages. One process for in-memory SQLite."""
    if ":memory:" in db_url or db_url.rstrip("/").endswith("sqlite:"):
        return 1
    if configured > 0:
        return max(1, min(configured, MAX_PROCESSES, max(1, remaining)))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cpus, MAX_PROCESSES, remaining // MIN_PER_PROCESS))


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:  # elsewhere (and as a fallback): poll for the parent
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="digest-parent-watch").start()


@dataclass(frozen=True)
class _Job:
    db_url: str
    cfg: SmtpConfig
    issue_id: int
    factory: MessageFactory
    factory_for: FactoryFor | None
    batch: int
    rate: float
    deadline_seconds: float
    parent_pid: int


CHILD_CODE = "from digest.mail.parallel import child_main; child_main()"


def child_main() -> None:
    """Entry point of a sender process: job on stdin, report on stdout (both pickled).

    A process started ahead of its job (:func:`spawn_senders`) imports while the parent prepares;
    when the parent closes stdin without a job (nothing to send after all), it exits quietly.
    """
    data = sys.stdin.buffer.read()
    if not data:
        return
    job: _Job = pickle.loads(data)
    _die_with_parent(job.parent_pid)
    from digest.store import Store
    from digest.store.db import make_engine

    store = Store(make_engine(job.db_url))
    try:
        report = deliver(store, job.cfg, job.issue_id, job.factory, enqueue=False, batch=job.batch,
                         factory_for=job.factory_for, rate=job.rate, deadline_seconds=job.deadline_seconds)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which prints one line
        report = SendReport(issue_id=job.issue_id, errors=[f"sender process failed: {type(exc).__name__}: {exc}"])
    finally:
        store.close()
    sys.stdout.buffer.write(pickle.dumps(report))
    sys.stdout.flush()


def spawn_senders(processes: int) -> list[subprocess.Popen[bytes]]:
    """Start ``processes`` sender interpreters now; each imports the sending code, then waits for its
    job on stdin (:func:`deliver_parallel` writes it, or closes stdin, or ends them).

    Started before the parent builds the message factory and checks the relay, so the children's
    start-up (about as long as that work) is not added to the run.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (_SRC, os.environ.get("PYTHONPATH", "")) if p)}
    return [subprocess.Popen([sys.executable, "-c", CHILD_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             env=env, close_fds=True) for _ in range(processes)]


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL when it has not ended 5 s later."""
    proc.terminate()
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_senders(procs: list[subprocess.Popen[bytes]]) -> None:
    """End sender processes that got no job (or are still running): stdin closed, then terminated."""
    idle = [p for p in procs if p.stdin is not None and not p.stdin.closed]  # no job, so no report reader
    for proc in idle:
        try:
            proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.wait(2.0)
            except subprocess.TimeoutExpired:
                _terminate(proc)
    for proc in idle:
        if proc.stdout is not None:
            proc.stdout.close()


def deliver_parallel(store: Any, db_url: str, cfg: SmtpConfig, issue_id: int, factory: MessageFactory,
                     processes: int, *, progress: Progress | None = None, batch: int = 200,
                     enqueue: bool = True, factory_for: FactoryFor | None = None,
                     started: list[subprocess.Popen[bytes]] | None = None) -> SendReport:
    """Send issue ``issue_id`` with ``processes`` sender processes sharing the ledger.

    ``started``: processes from :func:`spawn_senders` to use (ended here whatever happens).
    """
    if started is not None:
        try:
            return _deliver_parallel(store, db_url, cfg, issue_id, factory, len(started), progress, batch,
                                     enqueue, factory_for, started)
        finally:
            stop_senders(started)
    return _deliver_parallel(store, db_url, cfg, issue_id, factory, processes, progress, batch, enqueue,
                             factory_for, None)


def _deliver_parallel(store: Any, db_url: str, cfg: SmtpConfig, issue_id: int, factory: MessageFactory,
                      processes: int, progress: Progress | None, batch: int, enqueue: bool,
                      factory_for: FactoryFor | None, started: list[subprocess.Popen[bytes]] | None) -> SendReport:
    ledger = DeliveryLedger(store, issue_id)
    if enqueue:
        ledger.enqueue()
    total = SendReport(issue_id=issue_id, processes=processes)
    total.reclaimed = ledger.reclaim_stale()
    counts0 = ledger.counts()
    remaining = counts0.get("pending", 0) + counts0.get("sending", 0)
    t0 = time.perf_counter()
    if not remaining:
        return total
    final0 = sum(v for k, v in counts0.items() if k not in ("pending", "sending"))
    rate = cfg.rate_limit_per_second / processes if cfg.rate_limit_per_second > 0 else 0.0
    payload = pickle.dumps(_Job(db_url, cfg, issue_id, factory, factory_for, batch, rate,
                                cfg.retry_deadline_seconds, os.getpid()))
    children: list[tuple[subprocess.Popen[bytes], _Reader]] = []
    try:
        for proc in started if started is not None else spawn_senders(processes):
            assert proc.stdin is not None and proc.stdout is not None
            reader = _Reader(proc.stdout)
            children.append((proc, reader))
            proc.stdin.write(payload)
            proc.stdin.close()
        last_progress = 0.0
        while any(proc.poll() is None for proc, _r in children):
            time.sleep(0.1)
            if progress and time.monotonic() - last_progress >= 0.5:
                last_progress = time.monotonic()
                counts = ledger.counts()
                final = sum(v for k, v in counts.items() if k not in ("pending", "sending"))
                progress(final - final0, remaining)
        for proc, reader in children:
            reader.join()
            try:
                total.add(pickle.loads(reader.data))
            except Exception:  # noqa: BLE001 - a child that died without a report
                total.errors.append(f"sender process {proc.pid} ended with status {proc.returncode}")
    finally:
        for proc, _reader in children:
            if proc.poll() is None:
                _terminate(proc)
    total.seconds = time.perf_counter() - t0
    total.waiting = ledger.counts().get("pending", 0)
    if progress:
        counts = ledger.counts()
        progress(sum(v for k, v in counts.items() if k not in ("pending", "sending")) - final0, remaining)
    return total


class _Reader(threading.Thread):
    """Drains a child's stdout (its pickled report) so the child never blocks on a full pipe."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True, name="digest-sender-report")
        self.stream = stream
        self.data = b""
        self.start()

    def run(self) -> None:
        try:
            self.data = self.stream.read()
        finally:
            self.stream.close()


_SRC = str(Path(__file__).resolve().parents[2])
