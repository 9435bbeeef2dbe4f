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
    from digest.mail.verp import make_verp

    nl = config.newsletter
    return MessageFactory(rendered, sender=nl.sender, base_url=nl.base_url, signer=TokenSigner(key),
                          issue_id=issue_id, reply_to=nl.reply_to, list_id=nl.list_id,
                          unsubscribe_mailto=nl.unsubscribe_mailto, dkim=dkim_signer(config),
                          verp=make_verp(config, key))


def factory_for(store: Store, config: Config, issue: Issue | None, rendered: RenderedIssue) -> MessageFactory:
    return make_factory(config, store.secret_key(config.security.secret_key), issue.id if issue else None, rendered)


def rendered_of(issue: Issue) -> RenderedIssue:
    return RenderedIssue(subject=issue.subject, html=issue.html, text=issue.text, preheader="")


def former_actor_ids(store: Store, config: Config) -> dict[str, str]:
    """Actor ids that readers may follow but issues no longer use -> the id that replaced them.

    A reader who chose Earth Alux before an article said "Jewelbug, also known as Earth Alux"
    follows "earth-alux"; issues now name the group "jewelbug". Computed only when some confirmed
    reader follows chosen actors (it needs the recognizer and every stored link).
    """
    from sqlalchemy import select

    from digest.intel.actors.recognize import ActorRecognizer
    from digest.intel.analysis import kb_dir
    from digest.store import Actor

    if not any((p or {}).get("mode") == "custom" and (p or {}).get("actors")
               for _sid, p in store.confirmed_preferences()):
        return {}
    with store.session() as s:
        rows = [(r[0], r[1]) for r in s.execute(select(Actor.id, Actor.name))]
    _hits, former = ActorRecognizer.default(kb_dir(config)).canonical_actors(store.alias_links(), rows)
    return former
