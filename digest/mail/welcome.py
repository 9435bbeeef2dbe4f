"""The welcome mail: the latest issue, with a greeting, for a subscriber who has just confirmed.

It goes through the normal sending path: a row in the delivery ledger for (latest issue,
subscriber), claimed and marked like any other (so a kill, a retry or two confirmations at once
send it at most once), the issue's message factory (DKIM, List-Unsubscribe, personal links) and
the subscriber's preferences. A subscriber who already has any row in the ledger (an issue sent
before, a welcome before, an unsubscribe and a new sign-up) gets no welcome: it is sent once.

``[newsletter] welcome = false`` turns it off.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from sqlalchemy import select

from digest.config import Config
from digest.errors import MailError
from digest.issue import build as issues
from digest.issue.compose import filter_issue
from digest.issue.render import render_within_budget
from digest.issue.serialize import issue_from_json
from digest.mail.deliver import SendReport, deliver
from digest.mail.ledger import DeliveryLedger
from digest.mail.message import MessageFactory
from digest.store import Delivery, Issue, Store, Subscriber

log = logging.getLogger("digest.mail")

#: how long one welcome may wait for a sick relay before it is left for a later try
WELCOME_DEADLINE_SECONDS = 120.0


@dataclass(frozen=True)
class WelcomeOutcome:
    sent: bool
    message: str
    issue_id: int | None = None
    report: SendReport | None = None


def latest_issue(store: Store) -> Issue | None:
    """The newest sent issue that has stories (an issue sent with --send-empty welcomes nobody)."""
    with store.session() as s:
        return s.scalar(select(Issue).where(Issue.status == "sent", Issue.story_count > 0)
                        .order_by(Issue.id.desc()).limit(1))


def greeting(config: Config, issue: Issue) -> str:
    when = issue.sent_at.strftime("%d %b %Y") if issue.sent_at else issue.issue_date
    return (f"Welcome to {config.newsletter.title}, and thank you for confirming your subscription. "
            f"Here is the latest issue, sent on {when}; the next ones arrive on the usual schedule.")


def welcome_factory(store: Store, config: Config, issue: Issue, sub: Subscriber) -> MessageFactory:
    """The issue re-rendered for this reader (their preferences applied) with the greeting on top."""
    nl = config.newsletter
    note = greeting(config, issue)
    rendered = issues.rendered_of(issue)
    if issue.content:  # issues stored before their content was kept are sent as they were
        content = issue_from_json(issue.content)
        mine = filter_issue(content, dict(sub.preferences or {}))
        archive = f"{nl.base_url.rstrip('/')}/archive/{issue.id}"
        _c, rendered = render_within_budget(content if mine.empty else mine, base_url=nl.base_url,
                                            archive_url=archive, now=issue.period_end, notice=note)
    rendered = dataclasses.replace(rendered, subject=f"Welcome! {rendered.subject}"[:160])
    return issues.factory_for(store, config, issue, rendered)


def send_welcome(store: Store, config: Config, subscriber_id: int, *,
                 deadline_seconds: float = WELCOME_DEADLINE_SECONDS) -> WelcomeOutcome:
    """Send the latest issue to a subscriber who has just confirmed, once; says what happened.

    A relay that stays down past the deadline leaves the row pending (the outcome says so) and
    :func:`resume_welcomes` tries again; MailError is raised only when the relay refused it.
    """
    if not config.newsletter.welcome:
        return WelcomeOutcome(False, "welcome mails are off ([newsletter] welcome = false)")
    sub = store.subscriber(id=subscriber_id)
    if sub is None or sub.status != "confirmed":
        return WelcomeOutcome(False, f"subscriber {subscriber_id} is not confirmed; no welcome mail")
    issue = latest_issue(store)
    if issue is None:
        return WelcomeOutcome(False, "no issue has been sent yet; no welcome mail")
    with store.session() as s:
        had = s.scalar(select(Delivery.issue_id).where(Delivery.subscriber_id == sub.id).limit(1))
    if had is not None:
        return WelcomeOutcome(False, f"subscriber {sub.id} has had mail before; no welcome mail", issue.id)
    if not DeliveryLedger(store, issue.id).enqueue([sub.id]):
        return WelcomeOutcome(False, f"subscriber {sub.id} is already in issue {issue.id}'s ledger", issue.id)
    return _deliver(store, config, issue, sub, deadline_seconds)


def _deliver(store: Store, config: Config, issue: Issue, sub: Subscriber, deadline_seconds: float) -> WelcomeOutcome:
    factory = welcome_factory(store, config, issue, sub)
    report = deliver(store, config.smtp, issue.id, factory, enqueue=False, subscribers=[sub.id],
                     deadline_seconds=deadline_seconds)
    if report.fatal:
        raise MailError(f"the welcome mail to subscriber {sub.id} was refused: {report.fatal}")
    if report.sent:
        log.info("welcome mail (issue %s) sent to subscriber %s", issue.id, sub.id)
        return WelcomeOutcome(True, f"welcome mail (issue {issue.id}) sent to subscriber {sub.id}", issue.id, report)
    return WelcomeOutcome(False, f"welcome mail (issue {issue.id}) to subscriber {sub.id} not sent yet: "
                                 f"{report.summary()}", issue.id, report)


def resume_welcomes(store: Store, config: Config, *, deadline_seconds: float = WELCOME_DEADLINE_SECONDS) -> int:
    """Retry welcome mails left waiting (the relay was down at confirmation); how many were sent.

    A waiting welcome is a pending ledger row of the latest issue for a subscriber with no other row.
    """
    if not config.newsletter.welcome:
        return 0
    issue = latest_issue(store)
    if issue is None:
        return 0
    with store.session() as s:
        others = select(Delivery.subscriber_id).where(Delivery.issue_id != issue.id)
        ids = list(s.scalars(select(Delivery.subscriber_id).where(
            Delivery.issue_id == issue.id, Delivery.status == "pending", Delivery.subscriber_id.not_in(others))))
    sent = 0
    for sid in ids:
        sub = store.subscriber(id=sid)
        if sub is not None and sub.status == "confirmed":
            sent += _deliver(store, config, issue, sub, deadline_seconds).sent
    return sent
