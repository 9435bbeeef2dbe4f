"""Issue 17 item 4 (and the footer parts of 11): the public archive shows issues without a reader's footer,
an empty issue (``send --send-empty``) is not archived, the postal address is in every footer.

End to end on real parts: the demo feeds over HTTP, a real send through aiosmtpd, the web app's
archive and Atom feed over HTTP (Starlette through httpx).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner, Result
from conftest import SmtpSink
from test_pipeline import demo_env  # noqa: F401 - the fixture
from test_web import ATOM, TestClient

from digest.cli.main import cli
from digest.config import load_config
from digest.store import Issue, Store
from digest.web import create_app

POSTAL = "Cyber Digest Ltd, 1 Example Street, 10115 Berlin, Germany"


def run(cfg: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(cfg), *args], catch_exceptions=False)


def test_archive_has_no_subscriber_footer_and_no_empty_issue(demo_env, smtp_server: SmtpSink) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg, tmp = demo_env
    cfg.write_text(cfg.read_text() + f'\n[newsletter]\npostal_address = "{POSTAL}"\nbase_url = "http://testserver"\n')
    assert run(cfg, "poll").exit_code == 0
    assert run(cfg, "subscribe", "--confirmed", "a@example.org").exit_code == 0
    sent = run(cfg, "send", "--no-poll")
    assert sent.exit_code == 0 and "sent 1" in sent.output, sent.output
    empty = run(cfg, "send", "--no-poll", "--send-empty")
    assert empty.exit_code == 0 and "sent 1" in empty.output, empty.output

    mail = smtp_server.parsed()[0]
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    for body in parts.values():  # the reader's own mail keeps its footer, with the postal address
        assert "You get this because you subscribed" in body and "/unsubscribe/" in body
        assert POSTAL in body

    config = load_config(cfg, root=tmp)
    store = Store.open(config)
    with store.session() as s:
        issues = list(s.query(Issue).order_by(Issue.id))
    assert [i.status for i in issues] == ["sent", "sent"]
    full, blank = issues[0].id, issues[1].id
    with TestClient(create_app(config, store)) as c:
        page = c.get(f"/archive/{full}")
        assert page.status_code == 200
        assert "Jewelbug" in page.text  # the issue itself
        assert "You get this because" not in page.text
        assert not re.search(r'href="[^"]*/(unsubscribe|preferences)', page.text)
        assert ">Preferences<" not in page.text and ">Unsubscribe<" not in page.text
        assert re.search(r'href="http://testserver/subscribe"[^>]*>Subscribe<', page.text)
        assert POSTAL in page.text

        assert c.get(f"/archive/{blank}").status_code == 404  # an empty issue is not archived
        index = c.get("/archive/").text
        assert f'href="/archive/{full}"' in index and f'href="/archive/{blank}"' not in index
        root = ET.fromstring(c.get("/feed.xml").content)
        ids = [e.findtext(f"{ATOM}id") for e in root.findall(f"{ATOM}entry")]
        assert ids == [f"http://testserver/archive/{full}"]
        summaries = " ".join(e.findtext(f"{ATOM}summary") or "" for e in root.findall(f"{ATOM}entry"))
        assert "You get this because" not in summaries and "/unsubscribe/" not in summaries
    store.close()


def test_an_issue_stored_without_content_loses_its_reader_links_too() -> None:
    """Issues from before the content column: the mail as sent, its footer replaced."""
    from datetime import timedelta

    from digest.issue.build import archive_html
    from digest.store import utcnow

    html = ('<html><body><p>Story</p><table><tr><td class="footer" style="color:#5b6475">You get this because '
            'you subscribed to X.<br><a href="%%PREFERENCES_URL%%">Preferences</a> · '
            '<a href="%%UNSUBSCRIBE_URL%%">Unsubscribe</a> · <a href="http://h/archive/">Archive</a></td></tr>'
            '</table></body></html>')
    now = utcnow()
    issue = Issue(id=1, issue_date="2026-12-01", period_start=now - timedelta(days=1), period_end=now, subject="s",
                  html=html, text="", status="sent", story_count=2, content=None)
    out = archive_html(issue, "http://h")
    assert "<p>Story</p>" in out and "You get this because" not in out and "%%" not in out
    assert 'href="http://h/subscribe"' in out
