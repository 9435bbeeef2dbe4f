"""One worker per database, and one composition at a time: PostgreSQL advisory locks, or
exclusive lock files beside SQLite."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from digest.config import Config
from digest.errors import DigestError

if TYPE_CHECKING:
    from digest.store import Store

LOCK_KEY = 7242002


class WorkerLock:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._fh: Any = None
        self._conn: Any = None
        self._engine: Any = None

    def __enter__(self) -> Self:
        url = self.config.database_url
        if url.startswith("postgresql"):
            from digest.store.db import make_engine

            self._engine = make_engine(url)
            self._conn = self._engine.connect()
            got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            self._conn.commit()
            if not got:
                self._release()
                raise DigestError("another digest worker is running on this database; stop it first")
        else:
            path = Path(url.split(":///", 1)[-1] + ".worker.lock") if ":memory:" not in url else \
                self.config.path("var/worker.lock")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a+")
            try:
                fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._fh.close()
                self._fh = None
                raise DigestError(f"another digest worker is running on this database (lock {path}); stop it first")
            self._fh.seek(0)
            self._fh.truncate()
            self._fh.write(str(os.getpid()))
            self._fh.flush()
        return self

    def _release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self._conn.commit()
            finally:
                self._conn.close()
                self._engine.dispose()
            self._conn = None
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._release()


#: the composition lock (``compose_lock``); the worker lock is LOCK_KEY, migrations 7242001
COMPOSE_KEY = 7242003


@contextmanager
def compose_lock(store: Store, timeout: float = 900.0) -> Iterator[None]:
    """One composition at a time per database: held around "is an issue open? compose, create".

    Two `digest send` started together (a cron job and a manual run) would otherwise both find no
    open issue and both compose one, and every subscriber would get two. The second waits here,
    then finds the first one's issue open (and helps send it) or sent.

    PostgreSQL: a transaction-level advisory lock keyed by this database and schema, released at
    commit or when a killed process's connection closes. SQLite: an exclusive ``flock`` on a file
    beside the database, released by the kernel when the holder dies. ``timeout``: a clear error
    instead of waiting for ever behind a hung run.
    """
    if store.dialect == "postgresql":
        with store.engine.connect() as conn, conn.begin():
            conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout * 1000)}"))
            try:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k, hashtext(current_database() || '.' || "
                                  "coalesce(current_schema(), '')))"), {"k": COMPOSE_KEY})
            except OperationalError:
                raise DigestError(f"another `digest send` has been composing an issue for {timeout:.0f}s; "
                                  f"is it hung?") from None
            yield
        return
    database = store.engine.url.database or ""
    if not database or database == ":memory:":
        with _MEMORY_LOCK:  # one process is the only user of an in-memory database
            yield
        return
    path = Path(database + ".send.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        until = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= until:
                    raise DigestError(f"another `digest send` has been composing an issue for {timeout:.0f}s "
                                      f"(lock {path}); is it hung?") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


_MEMORY_LOCK = threading.Lock()
