"""Files and folders that hold subscriber data or secrets, created owner-only whatever the umask.

The SQLite database holds every address and the generated key that signs unsubscribe and
preference links; an outbox .eml carries a reader's live tokens. Under the usual umask (022)
they were created 0644, readable by anyone with a shell on the box, who could then forge links
and read the list. Here folders are made 0700 and files 0600 explicitly: ``mkdir``'s and
``open``'s modes are masked by the umask, and an existing file keeps its mode through
``O_CREAT``, so each is also ``chmod``-ed.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["private_db_file", "private_dir", "write_private"]

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path, *, existing_too: bool = True) -> Path:
    """Create ``path`` and its missing parents 0700; with ``existing_too`` make ``path`` itself 0700.

    Parents that already exist are never touched (the folder holding a database may be a home
    directory); ``existing_too=False`` leaves ``path`` as it is when it exists already.
    """
    missing: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by a concurrent process: theirs to set
        os.chmod(d, DIR_MODE)
    if existing_too and path not in missing:
        os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (str as UTF-8) to ``path``, mode 0600 from its first byte, replacing it if there."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(raw)
    finally:
        if fd >= 0:
            os.close(fd)
    return path


def private_db_file(path: Path) -> Path:
    """Make the SQLite file at ``path`` (created empty if missing) and its WAL/SHM/journal 0600.

    SQLite creates its -wal and -shm files with the database file's own mode, so a database file
    that exists 0600 before SQLite first opens it keeps them owner-only too.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in _SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        try:
            os.chmod(companion, FILE_MODE)
        except FileNotFoundError:
            pass
    return path
