"""Subscriber operations shared by the CLI and the web app: validation, sign-up, confirmation mail."""

from __future__ import annotations

import asyncio
import csv
import io
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from digest.config import Config
from digest.errors import InvalidAddressError, MailError
from digest.issue.render import environment
from digest.mail.message import clean_header_text
from digest.store import Store, Subscriber
from digest.textfile import looks_binary
from digest.tokens import TokenSigner

MAX_ADDRESS = 254


def normalise_address(raw: str) -> str:
    """A valid, normalised address, or :class:`InvalidAddressError` with a one-line reason."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidAddressError("invalid email address: empty")
    value = raw.strip()
    if any(c in value for c in "\r\n\t\x00") or len(value) > MAX_ADDRESS:
        raise InvalidAddressError(f"invalid email address {value[:60]!r}: contains control characters or is too long")
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidAddressError(f"invalid email address {value[:80]!r}: {exc}") from None
    return result.normalized.lower() if result.normalized.isascii() else result.normalized


def confirm_url(config: Config, signer: TokenSigner, sub: Subscriber) -> str:
    ttl = config.security.confirm_token_days * 86400
    token = signer.sign("confirm", sub.id, sub.confirm_nonce, ttl_seconds=ttl)
    return f"{config.newsletter.base_url.rstrip('/')}/confirm/{token}"


def confirmation_message(config: Config, signer: TokenSigner, sub: Subscriber) -> EmailMessage:
    nl = config.newsletter
    url = confirm_url(config, signer, sub)
    body = environment().get_template("email/confirm.txt.j2").render(
        title=nl.title, confirm_url=url, base_url=nl.base_url.rstrip("/"), days=config.security.confirm_token_days)
    msg = EmailMessage()
    msg["From"] = nl.sender
    msg["To"] = sub.email
    msg["Subject"] = clean_header_text(f"Confirm your subscription to {nl.title}")
    msg["Date"] = formatdate()
    msg["Message-ID"] = make_msgid(domain=parseaddr(nl.sender)[1].rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    return msg


async def send_one(config: Config, msg: EmailMessage, sender: str | None = None) -> None:
    """Send one message; ``sender`` is the envelope sender (VERP), by default the From address."""
    smtp = config.smtp
    try:
        await aiosmtplib.send(msg, sender=sender, hostname=smtp.host, port=smtp.port, timeout=smtp.timeout_seconds,
                              use_tls=smtp.tls, start_tls=smtp.starttls or False,
                              username=smtp.username or None, password=smtp.password or None)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"could not send mail via {smtp.host}:{smtp.port}: {exc}") from None


def confirmation_sender(config: Config, key: bytes, sub: Subscriber) -> str | None:
    """The VERP envelope sender of a confirmation mail (issue 0), so that its bounce removes the address."""
    from digest.mail.verp import make_verp

    verp = make_verp(config, key)
    return verp.address(sub.id, 0) if verp is not None else None


def send_confirmation(store: Store, config: Config, sub: Subscriber) -> None:
    key = store.secret_key(config.security.secret_key)
    signer = TokenSigner(key)
    asyncio.run(send_one(config, confirmation_message(config, signer, sub), confirmation_sender(config, key, sub)))
    store.mark_confirm_sent(sub.id)


def read_address_file(path: Path) -> list[str]:
    """Addresses from a file with one address a line, or a CSV with an ``email`` column."""
    return [address for address, _status in read_subscriber_file(path)]


MAX_ADDRESS_FILE_BYTES = 50_000_000


def read_subscriber_file(path: Path) -> list[tuple[str, str]]:
    """(address, status) from one address a line, or a CSV with an ``email`` column and maybe a
    ``status`` column (what `subscribers export` writes; "" when there is none).

    A binary file raises InvalidAddressError in one line that quotes none of its bytes.
    """
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_ADDRESS_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidAddressError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_ADDRESS_FILE_BYTES:
        raise InvalidAddressError(f"{path}: larger than {MAX_ADDRESS_FILE_BYTES} bytes")
    if looks_binary(data):
        raise InvalidAddressError(f"{path}: not a text file (binary data); expected one address a line, "
                                  f"or CSV with an email column")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    text = data.decode("utf-16") if utf16 else data.decode("utf-8-sig", errors="replace")
    first = text.splitlines()[0] if text.strip() else ""
    if "," in first or first.strip().lower() == "email":
        reader = csv.DictReader(io.StringIO(text))
        fields = {f.strip().lower(): f for f in (reader.fieldnames or []) if f}
        if "email" not in fields:
            shown = ", ".join(repr(clean_header_text(f, 40)) for f in list(fields)[:10])
            raise InvalidAddressError(f"{path}: CSV has no 'email' column (columns: {shown})")
        status = fields.get("status")
        return [((row.get(fields["email"]) or "").strip(),
                 (row.get(status) or "").strip().lower() if status else "") for row in reader]
    return [(ln.strip(), "") for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def write_subscriber_csv(subscribers: list[Subscriber]) -> str:
    """CSV of subscribers (email, status, created_at); `subscribers import` reads it back."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["email", "status", "created_at"])
    for sub in subscribers:
        writer.writerow([sub.email, sub.status, sub.created_at.isoformat() if sub.created_at else ""])
    return buf.getvalue()
