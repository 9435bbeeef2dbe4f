"""What every CLI command gets in ``ctx.obj``: the loaded config and a lazily opened store."""

from __future__ import annotations

from dataclasses import dataclass, field
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

            self._store = Store.open(self.config)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
