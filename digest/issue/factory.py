"""The message builder of a stored or rendered issue.

Light on purpose: a sender process unpickles it, and `digest send` resuming an issue uses it, without
the renderer, the composer or the analysis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest.config import Config
from digest.issue.rendered import RenderedIssue
from digest.mail.message import MessageFactory
from digest.tokens import TokenSigner

if TYPE_CHECKING:
    from digest.store import Issue, Store


def make_factory(config: Config, key: bytes, issue_id: int | None, rendered: RenderedIssue) -> MessageFactory:
    """The message builder for one rendered issue (or one preference variant of it)."""
    from digest.mail.dkim import dkim_signer

    nl = config.newsletter
    return MessageFactory(rendered, sender=nl.sender, base_url=nl.base_url, signer=TokenSigner(key),
                          issue_id=issue_id, reply_to=nl.reply_to, list_id=nl.list_id,
                          unsubscribe_mailto=nl.unsubscribe_mailto, dkim=dkim_signer(config))


def factory_for(store: Store, config: Config, issue: Issue | None, rendered: RenderedIssue) -> MessageFactory:
    return make_factory(config, store.secret_key(config.security.secret_key), issue.id if issue else None, rendered)


def rendered_of(issue: Issue) -> RenderedIssue:
    return RenderedIssue(subject=issue.subject, html=issue.html, text=issue.text, preheader="")
