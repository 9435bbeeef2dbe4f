"""Build the MIME bytes of one digest message per subscriber, fast, from a once-rendered issue.

The HTML and text are rendered once per issue with placeholders for the personal links
(``render.PLACEHOLDERS``). This factory quoted-printable encodes both parts once, line by line:
every line without a placeholder is encoded once per issue into a static chunk, and per subscriber
only the few lines holding a personal link are substituted and encoded (quoted-printable encodes
each line on its own, so the joined chunks are byte-for-byte the encoding of the whole part). The
multipart boundary is chosen per issue and contains ``=_``, which can never occur in a
quoted-printable body. Per subscriber the cost is three HMACs (two links and the VERP envelope
sender), a handful of short lines and four headers.

Text that came from feeds or configuration and reaches a header (subject, names) goes through
:func:`clean_header_text`, so it can never start a new header or smuggle an encoded word.
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import quote

from digest.issue.rendered import PLACEHOLDERS, PREFERENCES, UNSUBSCRIBE, RenderedIssue
from digest.mail.verp import Verp
from digest.tokens import TokenSigner

_CTRL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")
_FOLD = policy.SMTP.clone(max_line_length=78)
_SIMPLE = re.compile(r"^[\x21-\x7e][\x20-\x7e]*$")


def clean_header_text(value: str, limit: int = 300) -> str:
    """One line of plain text safe to put in a header: no CR/LF or controls, no encoded words."""
    value = _CTRL.sub(" ", str(value))
    value = value.replace("=?", "=\u200b?")  # an encoded-word opener from a feed stays literal text
    value = _SPACES.sub(" ", value).strip()
    return value[:limit]


def fold(name: str, value: str) -> bytes:
    """``Name: value`` folded and RFC 2047-encoded where needed, CRLF-terminated."""
    return _FOLD.fold(name, value).encode("ascii")


def unstructured(name: str, value: str) -> bytes:
    """An unstructured header (Subject): plain ASCII folded at spaces, anything else as UTF-8
    base64 encoded words, so an encoded word typed into a feed title decodes to itself."""
    if value.isascii() and "=?" not in value:
        return fold(name, value)
    from email.header import Header

    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n", maxlinelen=76)
    return f"{name}: {encoded}\r\n".encode("ascii")


def header(name: str, value: str) -> bytes:
    """A header line; the cheap path for short printable ASCII values, else :func:`fold`."""
    if len(name) + len(value) <= 76 and _SIMPLE.match(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return fold(name, value)


_DOT = re.compile(rb"(?m)^\.")


def _qp(text: str) -> bytes:
    data = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return data.replace(b"\n", b"\r\n")


def dot_stuff(data: bytes) -> bytes:
    """SMTP transparency (RFC 5321 4.5.2): a line that starts with '.' gets another one."""
    return _DOT.sub(b"..", data)


class EncodedPart:
    """A quoted-printable body with per-recipient placeholders, encoded once.

    ``chunks`` alternate between pre-encoded static bytes and raw lines that hold a placeholder;
    ``wire`` holds the same chunks dot-stuffed for the SMTP DATA phase (chunks start at a line
    start, so stuffing them one by one equals stuffing the whole).
    """

    def __init__(self, text: str, placeholders: tuple[str, ...] = PLACEHOLDERS) -> None:
        self.chunks: list[bytes | str] = []
        static: list[str] = []
        for line in text.replace("\r\n", "\n").splitlines(keepends=True):
            if any(p in line for p in placeholders):
                if static:
                    self.chunks.append(_qp("".join(static)))
                    static = []
                self.chunks.append(line)
            else:
                static.append(line)
        if static:
            self.chunks.append(_qp("".join(static)))
        self.wire: list[bytes | str] = [dot_stuff(c) if isinstance(c, bytes) else c for c in self.chunks]
        self.size = sum(len(c) for c in self.chunks)

    def encode(self, substitute: Callable[[str], str], wire: bool = False) -> list[bytes]:
        if wire:
            return [c if isinstance(c, bytes) else dot_stuff(_qp(substitute(c))) for c in self.wire]
        return [c if isinstance(c, bytes) else _qp(substitute(c)) for c in self.chunks]


def _phrase(name: str) -> str:
    """A display name for List-Id: cleaned, quoted when it holds specials, encoded when not ASCII."""
    from email.header import Header

    name = clean_header_text(name, 100).replace('"', "'").replace("\\", "/")
    if not name.isascii():
        return Header(name, "utf-8").encode()
    return f'"{name}"' if re.search(r'[()<>\[\]:;@,."]', name) else name


@dataclass(frozen=True)
class Recipient:
    subscriber_id: int
    email: str
    nonce: str = ""


class MessageFactory:
    """Per-issue message builder: ``build(recipient)`` returns the full message as bytes (CRLF)."""

    def __init__(self, rendered: RenderedIssue, *, sender: str, base_url: str, signer: TokenSigner,
                 issue_id: int | None = None, reply_to: str = "", list_id: str = "",
                 unsubscribe_mailto: str = "", dkim: Callable[[bytes], bytes] | None = None,
                 verp: Verp | None = None) -> None:
        self.rendered = rendered
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.issue_id = issue_id
        name, addr = parseaddr(clean_header_text(sender))
        self.envelope_from = addr
        self.domain = addr.rpartition("@")[2] or "localhost"
        self.unsubscribe_mailto = quote(clean_header_text(unsubscribe_mailto).replace(" ", ""), safe="@+.-_")
        self.dkim = dkim
        #: per-recipient envelope senders (VERP); the From header stays ``sender``
        self.verp = verp
        lid = re.sub(r"[^A-Za-z0-9.\-]", "", list_id or f"digest.{self.domain}") or "digest.localhost"
        self.boundary = f"=_digest_{secrets.token_hex(12)}"
        head = [
            fold("From", formataddr((clean_header_text(name), addr))),
            unstructured("Subject", clean_header_text(rendered.subject, 250)),
            b"MIME-Version: 1.0\r\n",
            fold("List-Id", f"{_phrase(name or 'digest')} <{lid}>"),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Auto-Submitted: auto-generated\r\n",
        ]
        if reply_to:
            head.append(fold("Reply-To", clean_header_text(reply_to)))
        head.append(fold("Content-Type", f'multipart/alternative; boundary="{self.boundary}"'))
        self._head = b"".join(head)
        b = self.boundary.encode("ascii")
        self._open_text = (b"\r\n--" + b + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        self._open_html = (b"\r\n--" + b + b"\r\nContent-Type: text/html; charset=utf-8\r\n"
                           b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
        self._close = b"\r\n--" + b + b"--\r\n"
        self._close_wire = self._close + b".\r\n"
        self._text = EncodedPart(rendered.text)
        self._html = EncodedPart(rendered.html)
        self._date_at = -1
        self._date = b""

    @property
    def size(self) -> int:
        """Approximate size in bytes of one built message."""
        return len(self._head) + self._text.size + self._html.size + 600

    def links(self, r: Recipient) -> tuple[str, str]:
        unsub = self.signer.sign("unsubscribe", r.subscriber_id, r.nonce)
        prefs = self.signer.sign("preferences", r.subscriber_id, r.nonce)
        return f"{self.base_url}/unsubscribe/{unsub}", f"{self.base_url}/preferences/{prefs}"

    def envelope_sender(self, r: Recipient) -> str:
        """MAIL FROM for ``r``: ``bounces+<signed token>@domain`` with VERP, else the sender address."""
        if self.verp is None or r.subscriber_id <= 0:
            return self.envelope_from
        return self.verp.address(r.subscriber_id, self.issue_id)

    def _date_header(self) -> bytes:
        now = int(time.time())
        if now != self._date_at:
            self._date_at, self._date = now, b"Date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        return self._date

    def build(self, r: Recipient) -> bytes:
        """The message as bytes with CRLF line ends (what a mailbox stores)."""
        return self._build(r, False)

    def build_wire(self, r: Recipient) -> bytes:
        """The message ready for the SMTP DATA phase: dot-stuffed, ending with the ``.`` line.
        Cheaper than ``dot_stuff(build(r))``: the static chunks were stuffed once per issue."""
        if self.dkim is not None:
            return dot_stuff(self._build(r, False)) + b".\r\n"
        return self._build(r, True)

    def _build(self, r: Recipient, wire: bool) -> bytes:
        unsub_url, prefs_url = self.links(r)

        def sub(line: str) -> str:
            return line.replace(UNSUBSCRIBE, unsub_url).replace(PREFERENCES, prefs_url)

        lu = f"<{unsub_url}>"
        if self.unsubscribe_mailto:
            lu += f",\r\n <mailto:{self.unsubscribe_mailto}?subject={quote('unsubscribe ' + str(r.subscriber_id))}>"
        msgid = f"<{self.issue_id or 0}.{r.subscriber_id}.{secrets.token_hex(6)}@{self.domain}>"
        parts = [
            self._head,
            header("To", clean_header_text(r.email, 320)),
            self._date_header(),
            f"Message-ID: {msgid}\r\nList-Unsubscribe: {lu}\r\n".encode("ascii"),
            self._open_text, *self._text.encode(sub, wire),
            self._open_html, *self._html.encode(sub, wire),
            self._close_wire if wire else self._close,
        ]
        message = b"".join(parts)
        if self.dkim is not None:
            message = self.dkim(message)
        return message
