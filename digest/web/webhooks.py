"""The relays' bounce and complaint webhooks on `digest serve`.

Routes::

    POST /webhooks/ses        Amazon SES notifications through SNS (signed by SNS)
    POST /webhooks/postmark   Postmark bounce and spam-complaint webhooks (basic auth)
    POST /webhooks/sendgrid   SendGrid's signed event webhook (ECDSA)
    POST /webhooks/mailgun    Mailgun webhooks (HMAC-SHA256 with the signing key)

A request that is not authenticated as its provider documents is refused (401 or 403, one log
line) and changes nothing; an unconfigured provider refuses everything (403). An authenticated
one is recorded and scored like a bounce from the mailbox (:class:`digest.mail.intake.Intake`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digest.config import Config
from digest.mail.intake import Intake, ProviderEvent
from digest.mail.providers import (
    SeenTokens,
    SnsVerifier,
    WebhookAuthError,
    WebhookInputError,
    https_get,
    mailgun_events,
    postmark_events,
    sendgrid_events,
    ses_events,
)
from digest.store import Store

log = logging.getLogger("digest.web")
NO_STORE = {"cache-control": "no-store"}


def webhook_routes(config: Config, store: Store, fetch: Callable[[str], bytes] = https_get) -> list[Route]:
    """The webhook routes; ``fetch`` is the HTTPS GET for SNS certificates and subscription URLs."""
    cfg = config.bounces
    sns = SnsVerifier(fetch)
    mailgun_seen = SeenTokens()
    intake_box: list[Intake] = []

    def intake() -> Intake:
        if not intake_box:
            intake_box.append(Intake(store, config))
        return intake_box[0]

    def record(provider: str, events: list[ProviderEvent]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ev in events:
            result = intake().process_event(ev, provider)
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts

    async def handle(request: Request, provider: str, parse: Callable[[bytes], tuple[str, list[ProviderEvent]]]) \
            -> Response:
        body = await request.body()
        try:
            what, events = await run_in_threadpool(parse, body)
        except WebhookAuthError as exc:
            log.warning("webhook %s refused (%s): %s", provider, exc.status, exc)
            headers = {"www-authenticate": 'Basic realm="digest webhooks"'} if exc.status == 401 else {}
            return JSONResponse({"error": "refused"}, status_code=exc.status, headers={**NO_STORE, **headers})
        except WebhookInputError as exc:
            log.warning("webhook %s: unreadable body: %s", provider, exc)
            return JSONResponse({"error": "bad request"}, status_code=400, headers=NO_STORE)
        counts = await run_in_threadpool(record, provider, events)
        return JSONResponse({"ok": what, "events": len(events), "outcomes": counts}, headers=NO_STORE)

    async def ses(request: Request) -> Response:
        return await handle(request, "ses", lambda body: ses_events(cfg, body, sns))

    async def postmark(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        return await handle(request, "postmark", lambda body: ("notification", postmark_events(cfg, auth, body)))

    async def sendgrid(request: Request) -> Response:
        sig = request.headers.get("x-twilio-email-event-webhook-signature", "")
        ts = request.headers.get("x-twilio-email-event-webhook-timestamp", "")
        return await handle(request, "sendgrid", lambda body: ("notification", sendgrid_events(cfg, sig, ts, body)))

    async def mailgun(request: Request) -> Response:
        return await handle(request, "mailgun", lambda body: ("notification", mailgun_events(cfg, body, mailgun_seen)))

    return [
        Route("/webhooks/ses", ses, methods=["POST"]),
        Route("/webhooks/postmark", postmark, methods=["POST"]),
        Route("/webhooks/sendgrid", sendgrid, methods=["POST"]),
        Route("/webhooks/mailgun", mailgun, methods=["POST"]),
    ]
