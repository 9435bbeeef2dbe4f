"""CISA's Known Exploited Vulnerabilities catalogue: a listed CVE is exploited, whatever the text says.

``digest kev update FILE|URL`` installs the catalogue JSON (``{"vulnerabilities": [{"cveID": ...}]}``,
as CISA publishes it) into ``var/kb/kev.json``; :func:`load_kev` reads it back as a set of CVE IDs.
Nothing is fetched at run time: without an installed catalogue the set is empty and the exploited
flag rests on the text alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["KEV_FILE", "load_kev", "parse_kev"]

KEV_FILE = "kev.json"
_CVE_ID = re.compile(r"^CVE-\d{4}-\d{4,7}$")
_cache: dict[Path, tuple[float, frozenset[str]]] = {}


def parse_kev(data: Any) -> frozenset[str]:
    """The CVE IDs of a KEV catalogue; ValueError saying what is wrong when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("vulnerabilities"), list):
        raise ValueError('not a KEV catalogue: expected an object with a "vulnerabilities" list')  # noqa: TRY004
    ids: set[str] = set()
    for n, item in enumerate(data["vulnerabilities"]):
        cve = item.get("cveID") if isinstance(item, dict) else None
        if not isinstance(cve, str) or not _CVE_ID.match(cve.strip().upper()):
            raise ValueError(f"vulnerabilities[{n}]: no valid cveID")
        ids.add(cve.strip().upper())
    return frozenset(ids)


def load_kev(kb_dir: Path | None) -> frozenset[str]:
    """The installed catalogue's CVE IDs (empty when none is installed or it cannot be read)."""
    if kb_dir is None:
        return frozenset()
    path = kb_dir / KEV_FILE
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return frozenset()
    hit = _cache.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        ids = parse_kev(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError):
        ids = frozenset()
    _cache[path] = (mtime, ids)
    return ids
