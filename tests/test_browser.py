"""End to end in headless Chromium: subscribe through the page, confirm from the mail aiosmtpd caught,
change preferences, unsubscribe. The app runs on uvicorn on a loopback port in a thread; a
screenshot of every page goes to test-artifacts/.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest
from conftest import ROOT, SmtpSink, free_port

from digest.config import Config
from digest.store import Actor, Issue, Store, utcnow
from digest.web import create_app

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]

pytestmark = pytest.mark.browser


class ThreadedServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app: object, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                                                    ws="none", lifespan="on", access_log=False))
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright python package is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def site(smtp_config: Config) -> Iterator[tuple[str, Store]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = smtp_config.replace(newsletter={"base_url": base})
    store = Store.open(config)
    with store.session() as s:
        s.add_all([Actor(id="jewelbug", name="Jewelbug", country="China", aliases=[]),
                   Actor(id="apt28", name="APT28", country="Russia", aliases=[]),
                   Actor(id="volt-typhoon", name="Volt Typhoon", country="China", aliases=[])])
        now = utcnow()
        s.add(Issue(issue_date=now.strftime("%Y-%m-%d"), period_start=now, period_end=now,
                    subject="Cyber Digest, 28 Nov 2026: Jewelbug Breached Russian IT Firm for Five Months",
                    html=_issue_html(),
                    text="Jewelbug breached a Russian IT firm.", status="sent", sent_at=now, story_count=1,
                    actor_count=1, article_ids=[], story_keys=[]))
    try:
        with ThreadedServer(create_app(config, store), port):
            yield base, store
    finally:
        store.close()


def _issue_html() -> str:
    """A real issue rendered by the email templates (placeholders and all)."""
    from datetime import UTC, datetime

    from digest.issue.render import render_issue
    from digest.models import IssueContent, Section, StoryItem

    when = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    story = StoryItem(key="s1", headline="Chinese Threat Group Jewelbug Breached Russian IT Firm for Five Months",
                      url="https://www.security.com/threat-intelligence/jewelbug",
                      summary="A China-linked group that Symantec tracks as Jewelbug spent five months inside a "
                              "Russian IT service provider, reaching its code repositories and build systems.",
                      source="Symantec", published=when, also=(("The Record", "https://therecord.media/x"),))
    issue = IssueContent(title="Cyber Digest", date=when, period_start=when, period_end=when,
                         sections=(Section(key="industry", title="Industry", stories=(story,)),),
                         counts={"stories": 1, "actors": 0, "sources": 2}, preheader="Jewelbug")
    return render_issue(issue, base_url="http://127.0.0.1:8000", now=when).html


def _wait_for_mail(sink: SmtpSink, address: str, seconds: float = 30.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        mails = sink.to(address)
        if mails:
            payload = mails[0].get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
        time.sleep(0.1)
    raise AssertionError(f"no confirmation mail for {address}")


def test_subscribe_confirm_preferences_unsubscribe(browser: object, site: tuple[str, Store],
                                                   smtp_server: SmtpSink) -> None:
    base, store = site
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 900, "height": 1000})  # type: ignore[attr-defined]
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))

    def shot(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"web-{name}.png"), full_page=True)

    # sign-up page; a bad address first
    page.goto(base + "/")
    shot("01-subscribe")
    page.fill("#email", "not an address")
    page.click("button[type=submit]")
    page.wait_for_selector("#email-error")
    assert "does not look like an email address" in page.inner_text("#email-error")
    shot("02-subscribe-error")
    page.fill("#email", "Browser.Reader@Example.org")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your inbox")
    shot("03-check-inbox")

    # the link from the mail aiosmtpd caught
    body = _wait_for_mail(smtp_server, "browser.reader@example.org")
    m = re.search(re.escape(base) + r"/confirm/\S+", body)
    assert m, body
    page.goto(m.group(0))
    page.wait_for_selector("text=You are subscribed")
    shot("04-confirmed")
    sub = store.subscriber(email="browser.reader@example.org")
    assert sub is not None and sub.status == "confirmed"

    # preferences
    page.click("text=Choose what you get")
    page.wait_for_selector("h1:has-text('Your preferences')")
    shot("05-preferences")
    page.check("input[name=mode][value=custom]")
    # actors: found by a search (Enter in the box), ticked; a second search keeps the first pick
    page.fill("#actor-q", "jewel")
    page.press("#actor-q", "Enter")
    page.wait_for_selector("#results input[value=jewelbug]")
    page.check("input[name=actors][value=jewelbug]")
    page.fill("#actor-q", "APT28")
    page.click("button[value=search]")
    page.wait_for_selector("text=Not saved yet")
    assert page.is_checked("#followed input[value=jewelbug]")
    page.check("#results input[name=actors][value=apt28]")
    page.check("input[name=countries][value=China]")
    page.check("input[name=topics][value=ransomware]")
    page.check("input[name=frequency][value=weekly]")
    page.select_option("#weekday", "4")
    page.select_option("#hour", "18")
    page.select_option("#timezone", "Europe/Berlin")
    page.click("button:has-text('Save preferences')")
    page.wait_for_selector("text=Saved.")
    shot("06-preferences-saved")
    sub = store.subscriber(email="browser.reader@example.org")
    assert sub is not None and sub.preferences == {
        "mode": "custom", "actors": ["jewelbug", "apt28"], "countries": ["China"], "topics": ["ransomware"],
        "frequency": "weekly", "weekday": 4, "hour": 18, "timezone": "Europe/Berlin"}

    # unsubscribe: the page first (changes nothing), then the button
    page.click("a:has-text('Unsubscribe')")
    page.wait_for_selector("h1:has-text('Unsubscribe?')")
    shot("07-unsubscribe")
    sub = store.subscriber(email="browser.reader@example.org")
    assert sub is not None and sub.status == "confirmed"
    page.click("button:has-text('Unsubscribe')")
    page.wait_for_selector("text=You are unsubscribed")
    shot("08-unsubscribed")
    sub = store.subscriber(email="browser.reader@example.org")
    assert sub is not None and sub.status == "unsubscribed"

    # archive and one issue
    page.goto(base + "/archive/")
    shot("09-archive")
    page.click("text=Jewelbug Breached")
    page.wait_for_load_state()
    assert "%%" not in page.content()
    shot("10-archive-issue")

    refused = [c for c in console if "Content Security Policy" in c or "Refused" in c]
    assert refused == []
    # the confirmation and, on confirming, the welcome mail with the latest issue; nothing else
    subjects = [m["Subject"] for m in smtp_server.to("browser.reader@example.org")]
    assert len(smtp_server.messages) == 2 and subjects[1].startswith("Welcome! Cyber Digest, 28 Nov 2026"), subjects


def test_top_stories_links_scroll_to_their_items(browser: object, site: tuple[str, Store]) -> None:
    """The issue's head lists the top stories; clicking one brings its item into view (archive page)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from issue_fixture import NOW, composed_issue

    from digest.issue.render import render_issue

    base, store = site
    issue = composed_issue()
    html = render_issue(issue, base_url=base, now=NOW).html
    with store.session() as s:
        row = Issue(issue_date="2026-11-28", period_start=NOW, period_end=NOW, subject="Cyber Digest: top stories",
                    html=html, text="", status="sent", sent_at=utcnow(), story_count=7, actor_count=5,
                    article_ids=[], story_keys=[])
        s.add(row)
        s.flush()
        issue_id = row.id
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 700, "height": 500})  # type: ignore[attr-defined]
    page.goto(f"{base}/archive/{issue_id}")
    assert page.evaluate("window.scrollY") == 0
    for key in reversed(issue.top):  # the lowest item first, so every click has to move the page
        page.click(f".top a[href='#s-{key}']")
        page.wait_for_function(f"location.hash === '#s-{key}'")
        box = page.locator(f"table#s-{key}").bounding_box()
        assert box is not None and 0 <= box["y"] < 500, (key, box)
        assert page.evaluate("window.scrollY") > 0
    page.screenshot(path=str(ARTIFACTS / "web-11-top-story-clicked.png"))
    # a pointer in another actor's section leads to the same item
    page.click("p.ref a[href='#s-a1']")
    box = page.locator("table#s-a1").bounding_box()
    assert box is not None and 0 <= box["y"] < 500


def test_follow_actors_on_a_phone_without_script(browser: object, site: tuple[str, Store]) -> None:
    """A phone (touch, 390 px, JavaScript off): search by another vendor's name, tap chips, save."""
    from digest.store import ActorLink
    from digest.tokens import TokenSigner

    base, store = site
    with store.session() as s:
        s.add(Actor(id="earth-alux", name="Earth Alux", country="China", aliases=[]))
        s.add_all([ActorLink(name_a="Jewelbug", name_b=n, relation="same", vendor=v)
                   for n, v in (("Earth Alux", "Trend Micro"), ("CL-STA-0049", "Palo Alto Networks Unit 42"),
                                ("REF7707", "Elastic"))])
    sub, _ = store.add_subscriber("phone@example.org", confirmed=True)
    token = TokenSigner(store.secret_key("")).sign("preferences", sub.id, sub.token_nonce)
    ARTIFACTS.mkdir(exist_ok=True)
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,  # type: ignore[attr-defined]
                              has_touch=True, java_script_enabled=False, device_scale_factor=2)
    page = ctx.new_page()
    page.goto(f"{base}/preferences/{token}")
    assert page.locator("select[multiple]").count() == 0
    page.fill("#actor-q", "REF7707")
    page.tap("button[value=search]")
    page.wait_for_selector("text=1 actor matches")
    chip = page.locator("label.choice:has(input[value=jewelbug])")
    text = chip.inner_text()
    assert "Jewelbug" in text and "Earth Alux" in text and "CL-STA-0049" in text
    assert page.locator("input[value=earth-alux]").count() == 0  # one entry for the actor, not one per name
    box = chip.bounding_box()
    assert box is not None and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.screenshot(path=str(ARTIFACTS / "web-12-phone-actor-search.png"), full_page=True)
    chip.tap()
    assert page.is_checked("input[value=jewelbug]")
    page.fill("#actor-q", "volt")
    page.tap("button[value=search]")
    page.wait_for_selector("text=Not saved yet")
    assert page.is_checked("#followed input[value=jewelbug]")
    page.locator("label.choice:has(input[value=volt-typhoon])").tap()
    page.locator("label:has(input[name=mode][value=custom])").tap()
    page.tap("button:has-text('Save preferences')")
    page.wait_for_selector("text=Saved.")
    page.screenshot(path=str(ARTIFACTS / "web-13-phone-actors-saved.png"), full_page=True)
    saved = store.subscriber(email="phone@example.org")
    assert saved is not None and saved.preferences["mode"] == "custom"
    assert saved.preferences["actors"] == ["jewelbug", "volt-typhoon"]
    assert [page.is_checked(f"#followed input[value={a}]") for a in ("jewelbug", "volt-typhoon")] == [True, True]
    ctx.close()
