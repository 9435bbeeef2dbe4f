"""What every CLI command gets in ``ctx.obj``: the loaded config and a lazily opened store."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.config import Config

if TYPE_CHECKING:
    from digest.store import Store


@dataclass
class AppContext:
    config: Config
    _store: Any = field(default=None, repr=False)

    def open_store(self) -> Store:
        """Open (and migrate on first use) the configured database; reused within one command."""
        if self._store is None:
            from digest.store import Store

            new_default = self._new_default_database()
            self._store = Store.open(self.config)
            if new_default is not None:
                # never silently: a command run outside the project folder would otherwise start an
                # empty database in ./var/ and the operator would wonder where the feeds went
                logging.getLogger("digest").warning(
                    "no [database] url is configured: created a new SQLite database at %s (set [database] url "
                    "or DIGEST_DATABASE_URL to use another)", new_default)
        return self._store

    def _new_default_database(self) -> Path | None:
        """The SQLite file the default setting is about to create (None: configured, or it exists)."""
        if "database.url" in self.config.explicit:
            return None
        m = re.match(r"^sqlite(\+\w+)?:///(.+)$", self.config.database.url)
        if not m or m.group(2) == ":memory:":
            return None
        path = self.config.path(m.group(2))
        return None if path.exists() else path.resolve()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
