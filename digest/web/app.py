"""The web app: sign-up with double opt-in, confirm, unsubscribe (RFC 8058), preferences, archive, feed.

Routes (a contract that outside checks use)::

    GET  /, /subscribe           sign-up page          POST /subscribe          double opt-in
    GET  /confirm/<token>        confirm (idempotent)
    GET  /unsubscribe/<token>    one-button page       POST /unsubscribe/<token> unsubscribe (one-click)
    GET  /preferences/<token>    preferences form      POST /preferences/<token> save
    GET  /archive/               issues readers have   GET  /archive/<id>        one of them
    GET  /feed.xml               Atom feed             GET  /healthz             200 ok / 503
    POST /webhooks/ses, /webhooks/postmark, /webhooks/sendgrid, /webhooks/mailgun   bounces, complaints
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from contextlib import asynccontextmanager
from html import escape
from typing import Any
from urllib.parse import quote

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route, get_route_path
from starlette.types import Receive, Scope, Send

from digest import logs
from digest.config import Config
from digest.errors import ConfigError, InvalidAddressError, MailError, TokenError
from digest.intel.topics import TOPICS
from digest.issue.build import archive_html, is_public
from digest.issue.render import PLACEHOLDERS, environment
from digest.mail.subscribers import (
    MAX_ADDRESS,
    confirmation_message,
    confirmation_sender,
    normalise_address,
    send_one,
)
from digest.mail.welcome import send_welcome
from digest.resources import templates_dir
from digest.store import Store, Subscriber
from digest.tokens import TokenClaims, TokenSigner
from digest.web import prefs as prefs_mod
from digest.web import queries
from digest.web.atom import build_feed
from digest.web.catalogue import Catalogue, CatalogueCache, Choice
from digest.web.security import CSP_ARCHIVE, FIELD, Csrf, RateLimiter, SecurityMiddleware, client_key

log = logging.getLogger("digest.web")

HONEYPOT = "website"
#: the largest id either database stores (SQLite INTEGER, PostgreSQL BIGINT); a larger one names nothing
MAX_ID = 2**63 - 1
NO_STORE = {"cache-control": "no-store"}


class Web:
    """Everything a request handler needs, built once per app."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        key = store.secret_key(config.security.secret_key)
        try:
            self.signer = TokenSigner(key)
            self.key = key
        except ValueError:
            raise ConfigError("config key security.secret_key: must be at least 16 characters "
                              "(set DIGEST_SECURITY_SECRET_KEY)") from None
        self.base_url = config.newsletter.base_url.rstrip("/")
        self.csrf = Csrf(key, self.base_url)
        self.per_client = RateLimiter(config.web.signup_rate_per_hour, 3600.0)
        self.env: Environment = environment()
        self.css = (templates_dir() / "web" / "site.css").read_bytes()
        self.catalogue = CatalogueCache(config, store)

    # ---- rendering ------------------------------------------------------------------------------
    def page(self, request: Request, template: str, *, status: int = 200, csrf: bool = False,
             headers: dict[str, str] | None = None, **ctx: Any) -> HTMLResponse:
        cookie = None
        token = ""
        if csrf:
            token, cookie = self.csrf.issue(request)
        root = request.scope.get("root_path", "").rstrip("/")
        html = self.env.get_template(f"web/{template}").render(
            site_title=self.config.newsletter.title, root=root, csrf_field=FIELD, csrf_token=token, **ctx)
        response = HTMLResponse(html, status_code=status, headers=headers)
        self.csrf.set_cookie(response, cookie)
        return response

    def message(self, request: Request, title: str, text: str, *, status: int = 200,
                links: list[tuple[str, str]] | None = None, headers: dict[str, str] | None = None) -> HTMLResponse:
        return self.page(request, "message.html.j2", status=status, page_title=title, text=text,
                         links=links or [], headers=headers if headers is not None else dict(NO_STORE))

    # ---- tokens ---------------------------------------------------------------------------------
    def subscriber_for(self, kind: str, token: str) -> tuple[Subscriber | None, str]:
        """The subscriber a token names, or (None, "invalid"|"expired"). Constant-time checks only."""
        try:
            claims: TokenClaims = self.signer.verify(kind, token)
        except TokenError as exc:
            return None, "expired" if "expired" in str(exc) else "invalid"
        sub = self.store.subscriber(id=claims.subscriber_id)
        nonce = (sub.confirm_nonce if kind == "confirm" else sub.token_nonce) if sub is not None else ""
        if sub is None or not hmac.compare_digest(claims.nonce.encode(), (nonce or "").encode()):
            return None, "invalid"
        return sub, "ok"

    def link(self, kind: str, sub: Subscriber) -> str:
        return f"/{kind}/{self.signer.sign(kind, sub.id, sub.token_nonce)}"

    def invalid_link(self, request: Request, why: str) -> HTMLResponse:
        if why == "expired":
            return self.message(request, "This link has expired",
                                "Confirmation links work for a limited time. Sign up again and we will send "
                                "you a fresh one. Nothing was changed.", status=410,
                                links=[("/subscribe", "Sign up again")])
        return self.message(request, "This link is not valid",
                            "The link is incomplete, altered or no longer in use, so nothing was changed. "
                            "If you copied it from an email, make sure you copied all of it.", status=400,
                            links=[("/", "Home")])

    # ---- sign-up --------------------------------------------------------------------------------
    async def process_signup(self, address: str) -> bool:
        """Register the address and send one confirmation mail (at most one a day); False when the mail
        server could not be used, so the page can say so.

        The answer must not tell a stranger whether the address is known. An address that gets no
        mail (confirmed, suppressed, mailed within the day) is answered after a check that the mail
        server is reachable, so "could not be sent" depends on the server, not on the address. A
        failed mail leaves the address pending and owed a confirmation: the worker's next run (or
        ``digest subscribers resend-confirm``) sends it.
        """
        from digest.mail.deliver import check_smtp

        try:
            sub = await run_in_threadpool(queries.register, self.store, address)
            claim = None
            if sub is not None and sub.status == "pending":
                claim = await run_in_threadpool(queries.claim_confirmation, self.store, sub.id)
                if claim is None:
                    log.info("web: confirmation for subscriber %s already sent in the last day", sub.id,
                             extra={"subscriber": sub.id})
            if sub is None or claim is None:
                try:
                    await run_in_threadpool(check_smtp, self.config.smtp)
                except MailError as exc:
                    log.warning("web: the mail server is unreachable: %s", exc)
                    return False
                return True
            try:
                await send_one(self.config, confirmation_message(self.config, self.signer, sub),
                               confirmation_sender(self.config, self.key, sub))
            except MailError as exc:
                log.warning("web: confirmation mail for subscriber %s failed (kept pending; the worker "
                            "retries it): %s", sub.id, exc, extra={"subscriber": sub.id})
                await run_in_threadpool(queries.release_confirmation, self.store, sub.id, *claim)
                return False
            log.info("web: confirmation mail sent to subscriber %s", sub.id, extra={"subscriber": sub.id})
            return True
        except Exception:
            log.exception("web: sign-up processing failed")
            return False

    async def process_welcome(self, subscriber_id: int) -> None:
        """Mail the latest issue to a reader who has just confirmed (digest.mail.welcome). After the response."""
        try:
            outcome = await run_in_threadpool(send_welcome, self.store, self.config, subscriber_id)
            log.info("web: %s", outcome.message)
        except MailError as exc:
            log.warning("web: welcome mail for subscriber %s failed: %s", subscriber_id, exc)
        except Exception:
            log.exception("web: welcome mail processing failed")


def _single(form: Any, name: str) -> str | None:
    """The one string value of a form field; None when it is absent, repeated or a file."""
    values = form.getlist(name)
    return values[0] if len(values) == 1 and isinstance(values[0], str) else None


def _archive_id(raw: str) -> int | None:
    """The issue id a path names, or None when it names nothing any database could hold.

    Parsed here rather than by Starlette's ``{id:int}``: 5,000 digits make its int() raise ValueError
    and 20 make the database driver raise OverflowError; both were answered with 500.
    """
    if not re.fullmatch(r"[1-9][0-9]{0,18}", raw):  # one spelling per issue: no leading zeros
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def _canonical_ids(catalogue: Catalogue, ids: list[Any]) -> list[str]:
    """Actor ids as the catalogue names them now (an id stored before a link joined it to another
    actor becomes that actor's), each once, in order; unknown ones are kept for the form to judge."""
    out: list[str] = []
    for a in ids:
        a = str(a)
        a = catalogue.resolve(a) or a
        if a not in out:
            out.append(a)
    return out


def _form_lists(form: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in set(form.keys()):
        out[key] = [v for v in form.getlist(key) if isinstance(v, str)]
    return out


async def _read_form(request: Request) -> Any:
    try:
        return await request.form(max_files=0, max_fields=2000)
    except HTTPException:
        raise
    except Exception:  # noqa: BLE001 - malformed multipart and the like
        raise HTTPException(400, "The form could not be read.") from None


#: what a path segment may hold unquoted in a Location we build (no "?", "#" or "%": those are quoted)
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def slash_redirect(base_url: str, routes: list[BaseRoute]) -> Any:
    """The router's fallback: a path that matches with its trailing slash toggled is redirected there.

    Starlette's own redirect builds ``Location`` from the request's Host header, so a forged Host
    made us point readers (and caches) at another site. Here it is built from ``newsletter.base_url``.
    """

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = get_route_path(scope)
            if path not in ("", "/"):
                other = path.rstrip("/") if path.endswith("/") else path + "/"
                probe = {**scope, "path": scope["path"][: len(scope["path"]) - len(path)] + other}
                if any(route.matches(probe)[0] is not Match.NONE for route in routes):
                    query = scope.get("query_string", b"").decode("latin-1")
                    location = base_url + quote(other, safe=_PATH_SAFE) + (f"?{query}" if query else "")
                    await RedirectResponse(location)(scope, receive, send)
                    return
        raise HTTPException(404)

    return fallback


def create_app(config: Config, store: Store | None = None, *, fetch: Any = None) -> Starlette:
    """The ASGI app. Opens (and on shutdown closes) the configured store when none is given.

    ``fetch`` replaces the HTTPS GET the SES webhook uses for SNS certificates (tests)."""
    from digest.web.webhooks import webhook_routes

    logs.guard()  # link tokens out of the access log, whichever handlers the server installs
    own_store = store is None
    store = store if store is not None else Store.open(config)
    web = Web(config, store)

    def public_issues(limit: int) -> list[Any]:
        """The newest sent issues worth showing: an empty one (``send --send-empty``) is left out."""
        return [i for i in store.sent_issues(limit * 2 + 10) if is_public(i)][:limit]

    # ---- pages ----------------------------------------------------------------------------------
    async def signup_page(request: Request) -> Response:
        return web.page(request, "subscribe.html.j2", csrf=True, page_title="Subscribe", error="", email="",
                        headers=dict(NO_STORE))

    async def subscribe(request: Request) -> Response:
        form = await _read_form(request)
        if not web.csrf.check(request, _single(form, FIELD)):
            return web.message(request, "Please try again",
                               "This form had expired or did not come from our sign-up page. Reload the page and "
                               "submit it again.", status=403, links=[("/subscribe", "Back to the sign-up page")])
        host = request.client.host if request.client else None
        if not web.per_client.allow(client_key(host)):
            return web.message(request, "Too many sign-ups",
                               "There were too many sign-up requests from your network. Please try again later.",
                               status=429, headers={"retry-after": "3600", **NO_STORE})
        raw = _single(form, "email")
        trap = form.get(HONEYPOT)
        sent = web.message(request, "Check your inbox",
                           "If the address can receive mail, a message with a confirmation link is on its way. "
                           "Open the link to start receiving the digest. Nothing else will be sent until you do.",
                           links=[("/archive/", "Read past issues")])
        if isinstance(trap, str) and trap.strip():
            log.info("web: honeypot filled; sign-up ignored")
            return sent
        try:
            if not isinstance(raw, str):
                raise InvalidAddressError("invalid email address: empty")
            address = normalise_address(raw)
        except InvalidAddressError:
            shown = raw[:MAX_ADDRESS] if isinstance(raw, str) else ""
            return web.page(request, "subscribe.html.j2", csrf=True, status=400, page_title="Subscribe",
                            error="That does not look like an email address. Please check it and try again.",
                            email=shown.replace("\r", " ").replace("\n", " "), headers=dict(NO_STORE))
        if not await web.process_signup(address):
            return web.message(request, "The confirmation mail could not be sent",
                               "Our mail server did not take the message just now, so no confirmation mail is on "
                               "its way yet. Your sign-up is kept, waiting for confirmation, and we will send the "
                               "mail again shortly; you may also sign up again later. Nothing else will be sent "
                               "until you confirm.", status=503,
                               headers={"retry-after": "900", **NO_STORE}, links=[("/archive/", "Read past issues")])
        return sent

    async def confirm(request: Request) -> Response:
        sub, why = await run_in_threadpool(web.subscriber_for, "confirm", request.path_params["token"])
        if sub is None:
            return web.invalid_link(request, why)
        status = await run_in_threadpool(queries.confirm, store, sub.id)
        if status != "confirmed":
            return web.message(request, "This link is no longer valid",
                               "This address was unsubscribed or can no longer receive mail, so nothing was "
                               "changed. To subscribe again, sign up.", status=400,
                               links=[("/subscribe", "Sign up")])
        response = web.page(request, "confirmed.html.j2", page_title="You are subscribed", email=sub.email,
                            already=sub.status == "confirmed", preferences_url=web.link("preferences", sub),
                            unsubscribe_url=web.link("unsubscribe", sub), headers=dict(NO_STORE))
        if sub.status == "pending":  # confirmed by this request: the welcome mail, once (it checks the ledger)
            response.background = BackgroundTask(web.process_welcome, sub.id)
        return response

    async def unsubscribe(request: Request) -> Response:
        sub, _why = await run_in_threadpool(web.subscriber_for, "unsubscribe", request.path_params["token"])
        if sub is None:
            return web.invalid_link(request, "invalid")
        if request.method == "POST":
            # RFC 8058 one-click: the body is "List-Unsubscribe=One-Click" and carries no CSRF token;
            # the signed token in the URL is the proof. Whatever the body says, unsubscribe.
            await run_in_threadpool(queries.unsubscribe, store, sub.id)
            log.info("web: subscriber %s unsubscribed", sub.id)
            return web.message(request, "You are unsubscribed",
                               f"{sub.email} will get no more issues of {config.newsletter.title}.",
                               links=[("/subscribe", "Changed your mind? Subscribe again")])
        return web.page(request, "unsubscribe.html.j2", csrf=True, page_title="Unsubscribe", email=sub.email,
                        done=sub.status in ("unsubscribed", "suppressed"),
                        preferences_url=web.link("preferences", sub), headers=dict(NO_STORE))

    async def preferences(request: Request) -> Response:
        sub, _why = await run_in_threadpool(web.subscriber_for, "preferences", request.path_params["token"])
        if sub is None:
            return web.invalid_link(request, "invalid")
        catalogue = await run_in_threadpool(web.catalogue.get)
        countries = catalogue.countries
        values = prefs_mod.current(config, sub.preferences)
        if not isinstance(values.get("actors"), list):
            values["actors"] = []
        stored_ids = {str(a) for a in values["actors"]}
        values["actors"] = _canonical_ids(catalogue, values["actors"])
        errors: dict[str, str] = {}
        saved = searching = False
        status = 200
        query = request.query_params.get("q", "")
        if request.method == "POST":
            form = await _read_form(request)
            if not web.csrf.check(request, _single(form, FIELD)):
                return web.message(request, "Please try again",
                                   "This form had expired. Reload the page and save your choices again. "
                                   "Nothing was changed.", status=403,
                                   links=[(web.link("preferences", sub), "Back to your preferences")])
            lists = _form_lists(form)
            lists["actors"] = _canonical_ids(catalogue, lists.get("actors") or [])
            searching = _single(form, "action") == "search"
            if searching:
                query = _single(form, "q") or ""
            # an id stored before the knowledge base changed stays valid until the reader drops it
            values, errors = prefs_mod.parse(lists, actor_ids=set(catalogue.by_id) | stored_ids,
                                             countries=set(countries) | set(values.get("countries") or []))
            if searching:  # a search keeps what was ticked on the page, and saves nothing
                errors = {}
            elif errors:
                status = 400
            else:
                await run_in_threadpool(store.set_preferences, sub.id, values)
                saved = True
        query = " ".join(query.split())[:prefs_mod.MAX_QUERY]
        followed = [catalogue.by_id.get(a) or Choice(a, a, (), None, 0, ()) for a in values["actors"]]
        mine = set(values["actors"])
        if query:
            found, total = catalogue.search(query, prefs_mod.SEARCH_LIMIT + len(mine))
        else:
            found, total = catalogue.most_seen(prefs_mod.MOST_SEEN + len(mine)), 0
        results = [c for c in found if c.id not in mine][:prefs_mod.SEARCH_LIMIT if query else prefs_mod.MOST_SEEN]
        more = max(0, total - len(results) - sum(1 for c in found if c.id in mine))
        return web.page(request, "preferences.html.j2", csrf=True, status=status, page_title="Your preferences",
                        email=sub.email, subscribed=sub.status == "confirmed", status_label=sub.status,
                        prefs=values, errors=errors, saved=saved, searching=searching, query=query,
                        followed=followed, results=results, total=total, more=more, known=len(catalogue),
                        countries=sorted(set(countries) | set(values.get("countries") or [])),
                        topics=TOPICS, weekdays=prefs_mod.WEEKDAYS, timezones=prefs_mod.timezones(),
                        unsubscribe_url=web.link("unsubscribe", sub), headers=dict(NO_STORE))

    async def archive_index(request: Request) -> Response:
        issues = await run_in_threadpool(public_issues, 200)
        return web.page(request, "archive.html.j2", page_title="Archive", issues=issues)

    async def archive_issue(request: Request) -> Response:
        issue_id = _archive_id(request.path_params["issue_id"])
        if issue_id is None:
            raise HTTPException(404)
        issue = await run_in_threadpool(store.published_issue, issue_id)
        if issue is None or not is_public(issue):  # not received by anyone yet, or an empty issue
            raise HTTPException(404)
        # every story, and the archive's footer: no reader's preferences or unsubscribe links
        html = await run_in_threadpool(archive_html, issue, config.newsletter.base_url,
                                       config.newsletter.postal_address)
        subscribe_url = escape(f"{web.base_url}/subscribe", quote=True)
        for ph in PLACEHOLDERS:  # none left; a placeholder elsewhere in an old issue points at sign-up
            html = html.replace(ph, subscribe_url)
        return HTMLResponse(html, headers={"content-security-policy": CSP_ARCHIVE,
                                           "cache-control": "public, max-age=300"})

    async def feed(request: Request) -> Response:
        issues = await run_in_threadpool(public_issues, 30)
        body = build_feed(issues, title=config.newsletter.title, base_url=web.base_url)
        return Response(body, media_type="application/atom+xml; charset=utf-8",
                        headers={"cache-control": "public, max-age=300"})

    async def healthz(request: Request) -> Response:
        try:
            await asyncio.wait_for(run_in_threadpool(queries.ping, store), timeout=5.0)
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            log.warning("web: health check failed: %s", type(exc).__name__)
            return PlainTextResponse("database unavailable", status_code=503, headers=dict(NO_STORE))
        return PlainTextResponse("ok", headers=dict(NO_STORE))

    async def stylesheet(request: Request) -> Response:
        return Response(web.css, media_type="text/css; charset=utf-8",
                        headers={"cache-control": "public, max-age=3600"})

    # ---- errors ---------------------------------------------------------------------------------
    titles = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 413: "Request too large"}

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = exc.status_code
        title = titles.get(code, "Something went wrong")
        text = exc.detail if code not in (404, 405) and isinstance(exc.detail, str) else {
            404: "There is nothing at this address.", 405: "This page does not accept that kind of request.",
        }.get(code, "The request could not be handled.")
        headers = dict(exc.headers or {})
        return web.message(request, title, text, status=code, headers={**NO_STORE, **headers},
                           links=[("/", "Home")])

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        try:
            yield
        finally:
            if own_store:
                store.close()

    routes = [
        Route("/", signup_page, methods=["GET"]),
        Route("/subscribe", signup_page, methods=["GET"]),
        Route("/subscribe", subscribe, methods=["POST"]),
        Route("/confirm/{token}", confirm, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
        Route("/preferences/{token}", preferences, methods=["GET", "POST"]),
        Route("/archive/", archive_index, methods=["GET"]),
        Route("/archive/{issue_id}", archive_issue, methods=["GET"]),  # not {:int}: see _archive_id
        Route("/feed.xml", feed, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/static/site.css", stylesheet, methods=["GET"]),
        *(webhook_routes(config, store, fetch) if fetch is not None else webhook_routes(config, store)),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, max_body=64 * 1024, https=web.base_url.startswith("https://"),
                               large=("/webhooks/", 4 * 1024 * 1024))],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.router.default = slash_redirect(web.base_url, app.router.routes)
    app.state.web = web
    return app
