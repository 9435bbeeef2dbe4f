"""What a rendered issue is, and the placeholders for the per-subscriber links in it.

Apart from :mod:`digest.issue.render` (Jinja, CSS inlining, composition) so that the sender
processes, which only fill in the links, do not import the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

UNSUBSCRIBE = "%%UNSUBSCRIBE_URL%%"
PREFERENCES = "%%PREFERENCES_URL%%"
PLACEHOLDERS = (UNSUBSCRIBE, PREFERENCES)


@dataclass(frozen=True)
class RenderedIssue:
    subject: str
    html: str
    text: str
    preheader: str
