"""Reader preferences: defaults, validation of the submitted form, the stored JSON shape.

Stored with ``store.set_preferences(id, prefs)`` as exactly::

    {"mode": "all"|"custom", "actors": [actor ids], "countries": [names], "topics": [topic keys],
     "frequency": "daily"|"weekly", "weekday": 0-6 (0 = Monday), "hour": 0-23, "timezone": IANA name}
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from digest.config import Config
from digest.intel.topics import TOPICS

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_ACTORS = 300
MAX_COUNTRIES = 100
#: the preferences page lists at most this many actors that match a search ...
SEARCH_LIMIT = 40
#: ... or, without a search, this many of those most seen in the news (besides those followed)
MOST_SEEN = 24
MAX_QUERY = 100


@lru_cache(maxsize=1)
def timezones() -> tuple[str, ...]:
    zones = {z for z in available_timezones() if "/" in z or z == "UTC"}
    zones.discard("localtime")
    return tuple(sorted(zones))


def defaults(config: Config) -> dict[str, Any]:
    return {"mode": "all", "actors": [], "countries": [], "topics": [], "frequency": "daily", "weekday": 0,
            "hour": int(config.schedule.send_time[:2]), "timezone": config.schedule.timezone}


def current(config: Config, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored preferences over the defaults (unknown keys dropped), for showing the form."""
    out = defaults(config)
    for key in out:
        if stored and key in stored:
            out[key] = stored[key]
    return out


def _one(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = form.get(name) or []
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def _int(value: str | None, lo: int, hi: int) -> int | None:
    if value is None or not re.fullmatch(r"[0-9]{1,2}", value):
        return None
    n = int(value)
    return n if lo <= n <= hi else None


def _choices(values: Sequence[str], allowed: Collection[str]) -> tuple[list[str], list[str]]:
    good: list[str] = []
    bad: list[str] = []
    for v in values:
        if not isinstance(v, str) or v not in allowed:
            bad.append(str(v)[:60])
        elif v not in good:
            good.append(v)
    return good, bad


def parse(form: Mapping[str, Sequence[str]], *, actor_ids: Collection[str],
          countries: Collection[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate a submitted form (field -> list of values). Returns (prefs, errors by field).

    ``prefs`` is only to be stored when ``errors`` is empty; it also holds what was valid, to redisplay.
    """
    errors: dict[str, str] = {}
    mode = _one(form, "mode")
    if mode not in ("all", "custom"):
        errors["mode"] = "Choose either everything or only what you pick."
        mode = "all"
    actors, bad = _choices(form.get("actors") or [], actor_ids)
    if bad:
        errors["actors"] = "Unknown threat actor: " + ", ".join(bad[:3]) + "."
    elif len(actors) > MAX_ACTORS:
        errors["actors"] = f"Choose at most {MAX_ACTORS} threat actors."
    chosen_countries, bad = _choices(form.get("countries") or [], countries)
    if bad:
        errors["countries"] = "Unknown country: " + ", ".join(bad[:3]) + "."
    elif len(chosen_countries) > MAX_COUNTRIES:
        errors["countries"] = f"Choose at most {MAX_COUNTRIES} countries."
    topics, bad = _choices(form.get("topics") or [], TOPICS)
    if bad:
        errors["topics"] = "Unknown topic: " + ", ".join(bad[:3]) + "."
    frequency = _one(form, "frequency")
    if frequency not in ("daily", "weekly"):
        errors["frequency"] = "Choose daily or weekly."
        frequency = "daily"
    weekday = _int(_one(form, "weekday"), 0, 6)
    if weekday is None:
        errors["weekday"] = "Choose a day of the week."
        weekday = 0
    hour = _int(_one(form, "hour"), 0, 23)
    if hour is None:
        errors["hour"] = "Choose a delivery hour between 0 and 23."
        hour = 7
    timezone = _one(form, "timezone")
    if timezone is None or timezone not in timezones():
        errors["timezone"] = "Choose a time zone from the list (for example Europe/Berlin)."
        timezone = "UTC"
    if mode == "custom" and not (actors or chosen_countries or topics) and not errors:
        errors["mode"] = "To follow only some news, choose at least one actor, country or topic."
    prefs = {"mode": mode, "actors": actors, "countries": chosen_countries, "topics": topics,
             "frequency": frequency, "weekday": weekday, "hour": hour, "timezone": timezone}
    return prefs, errors
