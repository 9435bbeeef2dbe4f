"""The key of what a subscriber follows (plain data: the senders use it for every recipient)."""

from __future__ import annotations

import json


def preference_key(prefs: dict[str, object] | None) -> str:
    """A stable key for what a subscriber follows: subscribers with the same key get the same variant."""
    if not prefs or prefs.get("mode", "all") != "custom":
        return "all"
    keep = {k: sorted(str(x) for x in prefs.get(k, []) or []) for k in ("actors", "countries", "topics")}  # type: ignore[union-attr]
    return json.dumps(keep, sort_keys=True)
