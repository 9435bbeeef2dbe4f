"""Build the MIME bytes of one digest message per subscriber, fast, from a once-rendered issue.

The HTML and text are rendered once per issue (with placeholders for the personal links);
per subscriber only the links are substituted, the two parts quoted-printable encoded and the
headers written. Text that came from feeds and reaches a header (the subject) is cleaned so it
can never start a new header or smuggle an encoded word.
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from dataclasses import dataclass
from email import policy
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import quote

from ..render import PREFERENCES, UNSUBSCRIBE, RenderedIssue
from ..tokens import TokenSigner

_CTRL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_FOLD = policy.SMTP.clone(max_line_length=78)


def clean_header_text(value: str, limit: int = 300) -> str:
    """One line of plain text safe to put in a header: no CR/LF or controls, no encoded words."""
    value = _CTRL.sub(" ", value)
    value = value.replace("=?", "=\u200b?")  # an encoded-word opener from a feed stays literal text
    value = re.sub(r"\s{2,}", " ", value).strip()
    return value[:limit]


def fold(name: str, value: str) -> bytes:
    """``Name: value`` folded and RFC 2047-encoded where needed, CRLF-terminated."""
    return _FOLD.fold(name, value).encode("ascii")


def _qp(text: str) -> bytes:
    data = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    nonce: str = ""


class MessageFactory:
    """Per-issue message builder: ``build(recipient)`` returns the full message as bytes."""

    def __init__(self, rendered: RenderedIssue, *, sender: str, base_url: str, signer: TokenSigner,
                 issue_id: int | None = None, reply_to: str = "", list_id: str = "",
                 unsubscribe_mailto: str = "", dkim: object | None = None) -> None:
        self.rendered = rendered
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.issue_id = issue_id
        name, addr = parseaddr(sender)
        self.envelope_from = addr
        self.domain = addr.rpartition("@")[2] or "localhost"
        self.unsubscribe_mailto = unsubscribe_mailto
        self.dkim = dkim
        lid = list_id or f"digest.{self.domain}"
        head = [
            fold("From", formataddr((clean_header_text(name), addr))),
            fold("Subject", clean_header_text(rendered.subject)),
            fold("MIME-Version", "1.0"),
            fold("List-Id", f"{clean_header_text(name or 'digest')} <{lid}>"),
            fold("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
            fold("Auto-Submitted", "auto-generated"),
        ]
        if reply_to:
            head.append(fold("Reply-To", clean_header_text(reply_to)))
        self._head = b"".join(head)
        self._html, self._text = rendered.html, rendered.text

    def links(self, r: Recipient) -> tuple[str, str]:
        unsub = self.signer.sign("unsubscribe", r.subscriber_id, r.nonce)
        prefs = self.signer.sign("preferences", r.subscriber_id, r.nonce)
        return f"{self.base_url}/unsubscribe/{unsub}", f"{self.base_url}/preferences/{prefs}"

    def build(self, r: Recipient) -> bytes:
        unsub_url, prefs_url = self.links(r)
        html = self._html.replace(UNSUBSCRIBE, unsub_url).replace(PREFERENCES, prefs_url)
        text = self._text.replace(UNSUBSCRIBE, unsub_url).replace(PREFERENCES, prefs_url)
        boundary = f"=_digest_{secrets.token_hex(12)}"
        lu = f"<{unsub_url}>"
        if self.unsubscribe_mailto:
            lu += f", <mailto:{self.unsubscribe_mailto}?subject={quote('unsubscribe ' + str(r.subscriber_id))}>"
        msgid = f"<{self.issue_id or 0}.{r.subscriber_id}.{secrets.token_hex(6)}@{self.domain}>"
        head = b"".join((
            self._head,
            fold("To", clean_header_text(r.email)),
            fold("Date", formatdate(time.time(), localtime=False)),
            fold("Message-ID", msgid),
            fold("List-Unsubscribe", lu),
            fold("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
        ))
        b = boundary.encode()
        body = b"".join((
            b"\r\n--", b, b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
            _qp(text),
            b"\r\n--", b, b"\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
            _qp(html),
            b"\r\n--", b, b"--\r\n",
        ))
        message = head + body
        if self.dkim is not None:
            message = self.dkim(message)  # type: ignore[operator]
        return message
