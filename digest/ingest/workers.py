"""The poll's extraction/analysis processes: one pipe each, read by the poll's own event loop.

``concurrent.futures.ProcessPoolExecutor`` moves every job through a shared queue with a feeder
thread, a manager thread that wakes for each result and semaphores around both queues: about
0.9 ms of CPU an article between the poll process and its workers, a tenth of an article's whole
cost. Here each worker has its own socket pair: the poll writes a job to the worker with the
fewest in hand (at most ``DEPTH``, so a worker never waits and pages never pile up in pipes),
the event loop reads the results as the socket becomes readable, and no thread is started.

Failure is as with the executor: a worker that dies (killed, out of memory, a crash in a C
library) fails the jobs it held and every later one with ``BrokenProcessPool``, and the poll stops
there; an exception raised by the function is raised again where the job was awaited.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["DEPTH", "WorkerPool"]

DEPTH = 2  # jobs in hand per worker: one running, one waiting in its pipe


def _serve(conn: Connection, func: Callable[[Any], Any], initializer: Callable[..., None] | None,
           initargs: tuple[Any, ...], inherited: tuple[int, ...] = ()) -> None:
    """A worker's loop: read a job, run ``func`` on it, write back ("ok", result) or ("err", exception).

    ``inherited``: the poll's ends of the workers forked before this one, closed here so that each
    worker sees the end of its own pipe when the poll goes.
    """
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the poll is gone
        if job is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", func(job))
        except BaseException as exc:  # noqa: BLE001 - raised again in the poll, as the executor does
            reply = ("err", exc)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            conn.send(("err", RuntimeError(f"worker could not return its result: {exc!r}")))


class _Worker:
    def __init__(self, proc: multiprocessing.process.BaseProcess, conn: Connection) -> None:
        self.proc, self.conn = proc, conn
        self.pending: deque[asyncio.Future[Any]] = deque()


class WorkerPool:
    """``workers`` processes running ``func``; :meth:`run` is awaited in the event loop that started them."""

    def __init__(self, workers: int, func: Callable[[Any], Any], *, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = (), context: Any = None) -> None:
        self.func = func
        self.loop = asyncio.get_running_loop()
        self.broken: BaseException | None = None
        self.waiting: deque[tuple[Any, asyncio.Future[Any]]] = deque()
        self.workers: list[_Worker] = []
        ctx = context or multiprocessing.get_context()
        forked = ctx.get_start_method() == "fork"
        try:
            for _ in range(workers):
                parent, child = ctx.Pipe(duplex=True)
                inherited = tuple(x.conn.fileno() for x in self.workers) + (parent.fileno(),) if forked else ()
                proc = ctx.Process(target=_serve, args=(child, func, initializer, initargs, inherited), daemon=True)
                proc.start()
                child.close()
                w = _Worker(proc, parent)
                self.workers.append(w)
                self.loop.add_reader(parent.fileno(), self._readable, w)
        except BaseException:
            self.close()
            raise

    async def run(self, job: Any) -> Any:
        """``func(job)`` in a worker."""
        if self.broken is not None:
            raise BrokenProcessPool(str(self.broken))
        fut: asyncio.Future[Any] = self.loop.create_future()
        self.waiting.append((job, fut))
        self._dispatch()
        return await fut

    def _dispatch(self) -> None:
        while self.waiting and self.broken is None:
            w = min(self.workers, key=lambda x: len(x.pending))
            if len(w.pending) >= DEPTH:
                return
            job, fut = self.waiting.popleft()
            if fut.cancelled():
                continue
            try:
                w.conn.send(job)
            except (OSError, EOFError) as exc:
                self.waiting.appendleft((job, fut))
                self._fail(w, exc)
                return
            w.pending.append(fut)

    def _readable(self, w: _Worker) -> None:
        try:
            status, value = w.conn.recv()
        except (EOFError, OSError) as exc:
            self._fail(w, exc)
            return
        fut = w.pending.popleft()
        if not fut.done():
            if status == "ok":
                fut.set_result(value)
            else:
                fut.set_exception(value)
        self._dispatch()

    def _fail(self, w: _Worker, exc: BaseException) -> None:
        """A worker died: every job held or waiting fails, and so does every later one."""
        w.proc.join(1.0)  # its socket closed: it is exiting (a brief wait, on this path only, for the code)
        code = w.proc.exitcode
        self.broken = BrokenProcessPool(f"an extraction worker stopped (exit code {code}): {exc!r}"
                                        if code is not None else f"an extraction worker stopped: {exc!r}")
        for x in self.workers:
            self._unwatch(x)
            while x.pending:
                fut = x.pending.popleft()
                if not fut.done():
                    fut.set_exception(BrokenProcessPool(str(self.broken)))
        while self.waiting:
            _job, fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(BrokenProcessPool(str(self.broken)))

    def _unwatch(self, w: _Worker) -> None:
        try:
            self.loop.remove_reader(w.conn.fileno())
        except (OSError, ValueError):
            pass

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers: each finishes its job in hand, then exits (killed after ``timeout``)."""
        for w in self.workers:
            self._unwatch(w)
            try:
                w.conn.send(None)
            except (OSError, EOFError, ValueError):
                pass
            w.conn.close()  # what was sent stays readable; a worker writing a reply nobody reads gets EPIPE
        for w in self.workers:
            w.proc.join(timeout)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
        self.workers = []
