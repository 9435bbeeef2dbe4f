"""The message builder of a rendered issue: light, so a sender process unpickles it without the renderer."""

from __future__ import annotations

from digest.config import Config
from digest.issue.rendered import RenderedIssue
from digest.mail.message import MessageFactory
from digest.tokens import TokenSigner


def make_factory(config: Config, key: bytes, issue_id: int | None, rendered: RenderedIssue) -> MessageFactory:
    """The message builder for one rendered issue (or one preference variant of it)."""
    from digest.mail.dkim import dkim_signer

    nl = config.newsletter
    return MessageFactory(rendered, sender=nl.sender, base_url=nl.base_url, signer=TokenSigner(key),
                          issue_id=issue_id, reply_to=nl.reply_to, list_id=nl.list_id,
                          unsubscribe_mailto=nl.unsubscribe_mailto, dkim=dkim_signer(config))
