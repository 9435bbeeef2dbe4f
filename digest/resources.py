"""Find the templates/ and config/ folders from a checkout and from an installed wheel.

A wheel carries them as ``digest/_resources/{templates,config}`` (see pyproject's
force-include); a checkout or an editable install has them beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder ``templates`` or ``config`` wherever this installation keeps it."""
    for candidate in (_PKG / "_resources" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"digest resources folder {name!r} not found beside {_PKG}")


def templates_dir() -> Path:
    return resource_dir("templates")


def config_dir() -> Path:
    return resource_dir("config")
