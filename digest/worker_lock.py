"""One worker per database: a PostgreSQL advisory lock, or an exclusive lock file beside SQLite."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import text

from .config import Config
from .errors import DigestError

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
            from .store.db import make_engine

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
