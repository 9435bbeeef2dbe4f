"""Per-feed entry rules from the feeds file: ``drop`` and ``keep``, keywords or regular expressions.

A rule is a keyword (matched case-insensitively as a whole word or phrase) or, written between
slashes, a regular expression (``"/webinar|sponsored/"``; add ``i`` after the last slash for
case-insensitive). Rules are matched against an entry's title and the feed's own summary of it.
At poll an entry that matches a ``drop`` rule is not stored, unless it also matches a ``keep``
rule: ``keep`` always wins. ``drop = ["/./"]`` with a ``keep`` list keeps only what ``keep`` names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FeedRules", "compile_rule"]

MAX_RULES = 200
MAX_RULE_CHARS = 500


def compile_rule(rule: str) -> re.Pattern[str]:
    """One rule as a pattern; ValueError with a short reason when it is not usable."""
    if not isinstance(rule, str) or not rule.strip():
        raise ValueError("a rule must be a non-empty string")
    if len(rule) > MAX_RULE_CHARS:
        raise ValueError(f"rule longer than {MAX_RULE_CHARS} characters")
    m = re.fullmatch(r"/(.+)/([i]*)", rule.strip(), re.DOTALL)
    if m:
        try:
            return re.compile(m.group(1), re.IGNORECASE if m.group(2) else 0)
        except re.error as exc:
            raise ValueError(f"bad regular expression {rule!r}: {exc}") from None
    words = r"\s+".join(re.escape(w) for w in rule.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


@dataclass(frozen=True)
class FeedRules:
    """The compiled ``drop`` and ``keep`` rules of one feed."""

    drop: tuple[re.Pattern[str], ...] = ()
    keep: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def from_lists(cls, drop: Iterable[str] = (), keep: Iterable[str] = ()) -> FeedRules:
        return cls(tuple(compile_rule(r) for r in drop), tuple(compile_rule(r) for r in keep))

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> FeedRules | None:
        """From the JSON kept on the feed row (rules that no longer compile are left out)."""
        if not stored:
            return None
        def ok(rules: Any) -> list[str]:
            out = []
            for r in rules or ():
                try:
                    compile_rule(r)
                    out.append(r)
                except ValueError:
                    continue
            return out
        rules = cls.from_lists(ok(stored.get("drop")), ok(stored.get("keep")))
        return rules if rules.drop or rules.keep else None

    def keeps(self, title: str, summary: str) -> bool:
        """Whether an entry with this title and summary is stored."""
        text = f"{title}\n{summary}"
        if any(p.search(text) for p in self.keep):
            return True
        return not any(p.search(text) for p in self.drop)
