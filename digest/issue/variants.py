"""Per-subscriber variants of an issue, from the preferences set on the web.

Preferences (``Subscriber.preferences``, written by the web app) follow everything or only chosen
actors, countries and topics, daily or weekly (on a weekday), at a delivery hour in a time zone.

* What: :func:`digest.issue.compose.filter_issue` keeps the stories about what they follow; subscribers with the same
  choices share one rendering (render once per variant, personalise per subscriber by tokens).
* Weekly: on the subscriber's weekday they get a digest of the last seven days (filtered the same
  way); on other days the daily issue is skipped for them (ledger status 'skipped').
* When: :func:`due_now` tells whether a subscriber's delivery hour has come; the worker enqueues
  subscribers at their local hour (see :func:`digest.mail.send.send_due`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest.config import Config
from digest.issue.prefs import preference_key
from digest.mail.ledger import Claimed
from digest.mail.message import MessageFactory
from digest.models import IssueContent


def _zone(prefs: dict[str, Any], default: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(prefs.get("timezone") or default))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def local_now(prefs: dict[str, Any] | None, now: datetime, default_tz: str) -> datetime:
    return now.astimezone(_zone(prefs or {}, default_tz))


def has_hour(prefs: dict[str, Any] | None) -> bool:
    return isinstance((prefs or {}).get("hour"), int)


def due_now(prefs: dict[str, Any] | None, now: datetime, default_tz: str) -> bool:
    """Is it the subscriber's delivery hour? (No hour chosen: always, at the newsletter's send time.)"""
    if not has_hour(prefs):
        return True
    assert prefs is not None
    return local_now(prefs, now, default_tz).hour == prefs["hour"]


def wants_today(prefs: dict[str, Any] | None, now: datetime, default_tz: str) -> bool:
    """Daily subscribers always; weekly ones on their weekday (0 = Monday) in their zone."""
    prefs = prefs or {}
    if prefs.get("frequency") != "weekly":
        return True
    return local_now(prefs, now, default_tz).weekday() == int(prefs.get("weekday", 0) or 0)


class VariantChooser:
    """``factory_for`` for :func:`digest.mail.deliver.deliver`: the variant a claimed row gets.

    Picklable (plain data plus the default factory) so sender processes can use it; variants are
    rendered lazily, once per process and preference key.
    """

    def __init__(self, config: Config, key: bytes, issue_id: int, default: MessageFactory,
                 daily: dict[str, Any] | None, weekly: dict[str, Any] | None, archive_url: str,
                 now: datetime, *, make_factory: Callable[..., MessageFactory],
                 former_ids: dict[str, str] | None = None) -> None:
        # the builder of a variant's MessageFactory (digest.issue.build.make_factory), handed in so that
        # this module does not import the one that uses it back; a module-level function pickles by name
        self.make_factory = make_factory
        #: actor ids a reader may have chosen before a learned link joined that actor to another
        #: (Earth Alux, followed before "Jewelbug, also known as Earth Alux") -> the id issues use now
        self.former_ids = former_ids or {}
        self.config, self.key, self.issue_id, self.default = config, key, issue_id, default
        self.daily, self.weekly, self.archive_url, self.now = daily, weekly, archive_url, now
        self._cache: dict[str, MessageFactory | None] = {}
        #: preference key -> the content of that variant as rendered (what `send --dry-run --to` counts)
        self.contents: dict[str, IssueContent] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}
        state["contents"] = {}
        return state

    @staticmethod
    def key_of(prefs: dict[str, Any] | None) -> str:
        prefs = prefs or {}
        return ("weekly|" if prefs.get("frequency") == "weekly" else "daily|") + preference_key(prefs)

    def __call__(self, c: Claimed) -> MessageFactory | None:
        prefs = c.preferences or {}
        if self.former_ids and isinstance(prefs.get("actors"), list):
            prefs = {**prefs, "actors": list(dict.fromkeys(self.former_ids.get(str(a), str(a))
                                                           for a in prefs["actors"]))}
        tz = self.config.schedule.timezone
        if not wants_today(prefs, self.now, tz):
            return None
        weekly = prefs.get("frequency") == "weekly"
        key = self.key_of(prefs)
        if key == "daily|all":
            return self.default
        if key not in self._cache:
            self._cache[key] = self._build(prefs, weekly, key)
        return self._cache[key]

    def _build(self, prefs: dict[str, Any], weekly: bool, key: str = "") -> MessageFactory | None:
        # imported here: a sender process whose readers all take the whole issue never renders
        from digest.issue.compose import filter_issue
        from digest.issue.render import render_within_budget
        from digest.issue.serialize import issue_from_json

        source = self.weekly if weekly else self.daily
        if source is None:
            return self.default if not weekly else None
        content = filter_issue(issue_from_json(source), prefs)
        if content.empty:
            return None  # nothing they follow today: no empty mail
        shown, rendered = render_within_budget(content, base_url=self.config.newsletter.base_url,
                                               archive_url=self.archive_url, now=self.now,
                                               postal_address=self.config.newsletter.postal_address)
        self.contents[key] = shown
        return self.make_factory(self.config, self.key, self.issue_id, rendered)
