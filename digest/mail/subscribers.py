"""Subscriber operations shared by the CLI, the worker and the web app: validation, sign-up, confirmation mail.

A pending subscriber whose confirmation mail could not be sent (the mail server down or refusing)
keeps ``confirm_sent_at`` empty: it is *owed* a confirmation, which :func:`resend_confirmations`
sends (the worker after each poll, ``digest subscribers resend-confirm`` by hand).
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosmtplib
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import or_, select, update

from digest.config import Config
from digest.errors import InvalidAddressError, MailError
from digest.issue.render import environment
from digest.mail.message import clean_header_text
from digest.store import Store, Subscriber, utcnow
from digest.textfile import looks_binary
from digest.tokens import TokenSigner

MAX_ADDRESS = 254
#: at most one confirmation mail per address in this time (a sign-up flood sends one)
CONFIRM_INTERVAL = timedelta(days=1)


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
    # the real offset of the schedule's zone (formatdate() wrote -0000: "zone unknown")
    msg["Date"] = format_datetime(datetime.now(ZoneInfo(config.schedule.timezone)))
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
    except aiosmtplib.SMTPRecipientsRefused as exc:  # about this address, not the server
        raise InvalidAddressError(f"the mail server {smtp.host}:{smtp.port} refused {msg['To']}: "
                                  f"{' '.join(str(exc).split())[:200]}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"could not send mail via {smtp.host}:{smtp.port}: {' '.join(str(exc).split())[:200]}") from None


def confirmation_sender(config: Config, key: bytes, sub: Subscriber) -> str | None:
    """The VERP envelope sender of a confirmation mail (issue 0), so that its bounce removes the address."""
    from digest.mail.verp import make_verp

    verp = make_verp(config, key)
    return verp.address(sub.id, 0) if verp is not None else None


def send_confirmation(store: Store, config: Config, sub: Subscriber) -> None:
    """Mail ``sub`` its confirmation link; :class:`MailError` when the mail server did not take it
    (the address stays pending and owed a confirmation)."""
    key = store.secret_key(config.security.secret_key)
    signer = TokenSigner(key)
    asyncio.run(send_one(config, confirmation_message(config, signer, sub), confirmation_sender(config, key, sub)))
    store.mark_confirm_sent(sub.id)


def claim_confirmation(store: Store, subscriber_id: int, now: datetime | None = None,
                       interval: timedelta = CONFIRM_INTERVAL) -> tuple[datetime, datetime | None] | None:
    """Reserve the right to mail a confirmation: at most one per ``interval``, pending subscribers only.

    Returns (the claim time, the previous confirm_sent_at) or None when no mail may go out.
    """
    now = now or utcnow()
    with store.session() as s:
        previous = s.scalar(select(Subscriber.confirm_sent_at).where(Subscriber.id == subscriber_id))
        result = s.execute(
            update(Subscriber)
            .where(Subscriber.id == subscriber_id, Subscriber.status == "pending",
                   or_(Subscriber.confirm_sent_at.is_(None), Subscriber.confirm_sent_at <= now - interval))
            .values(confirm_sent_at=now))
        return (now, previous) if result.rowcount == 1 else None


def release_confirmation(store: Store, subscriber_id: int, claimed: datetime, previous: datetime | None = None) -> None:
    """Undo a claim whose mail could not be sent: the address is owed a confirmation again (retried by
    :func:`resend_confirmations`, and a later sign-up may try at once)."""
    with store.session() as s:
        s.execute(update(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.confirm_sent_at == claimed)
                  .values(confirm_sent_at=None))


@dataclass
class ResendReport:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: owed addresses not tried: the mail server failed on an earlier one in this run
    left: int = 0

    def summary(self) -> str:
        n = len(self.sent)
        line = f"{n} confirmation mail{'' if n == 1 else 's'} sent"
        if self.failed:
            line += f", {len(self.failed)} not sent ({self.failed[-1][1]})"
        if self.left:
            line += f", {self.left} left for the next try"
        return line


def owed_confirmations(store: Store, *, since: datetime | None = None,
                       emails: list[str] | None = None) -> list[Subscriber]:
    """Pending subscribers whose confirmation mail was never sent (created since ``since``), or the
    pending ones among ``emails`` whatever was sent before."""
    with store.session() as s:
        q = select(Subscriber).where(Subscriber.status == "pending").order_by(Subscriber.id)
        if emails is not None:
            q = q.where(Subscriber.email.in_(emails))
        else:
            q = q.where(Subscriber.confirm_sent_at.is_(None))
            if since is not None:
                q = q.where(Subscriber.created_at >= since)
        return list(s.scalars(q))


def resend_confirmations(store: Store, config: Config, *, emails: list[str] | None = None,
                         max_age: timedelta | None = None) -> ResendReport:
    """Send the confirmation mails that could not be sent before (or those of ``emails``).

    Each address is claimed first (as a sign-up does), so the worker, the web app and the CLI never
    mail one twice at once; a failure releases the claim. The first failure that is about the mail
    server (not one address) ends the run: the others wait for the next try instead of each waiting
    out a timeout. ``max_age`` leaves out addresses older than that (the worker: their link would
    have expired; an operator naming them sends anyway).
    """
    report = ResendReport()
    since = utcnow() - max_age if max_age is not None else None
    owed = owed_confirmations(store, since=since, emails=emails)
    for i, sub in enumerate(owed):
        claim = claim_confirmation(store, sub.id, interval=timedelta(0) if emails is not None else CONFIRM_INTERVAL)
        if claim is None:
            continue  # confirmed, or mailed by someone else meanwhile
        try:
            signer = TokenSigner(store.secret_key(config.security.secret_key))
            asyncio.run(send_one(config, confirmation_message(config, signer, sub)))
        except MailError as exc:
            release_confirmation(store, sub.id, *claim)
            report.failed.append((sub.email, str(exc)))
            if not isinstance(exc, InvalidAddressError):  # the server, not this address: stop here
                report.left = len(owed) - i - 1
                break
        else:
            report.sent.append(sub.email)
    return report


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
        return [(_unguard((row.get(fields["email"]) or "").strip()),
                 (row.get(status) or "").strip().lower() if status else "") for row in reader]
    return [(ln.strip(), "") for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _guard(cell: str) -> str:
    """A cell a spreadsheet would run as a formula ("=1+1"@example.org is a valid address) gets a
    leading apostrophe, as OWASP advises for CSV exports; :func:`_unguard` takes it off on import."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _unguard(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def write_subscriber_csv(subscribers: list[Subscriber]) -> str:
    """CSV of subscribers (email, status, created_at); `subscribers import` reads it back."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["email", "status", "created_at"])
    for sub in subscribers:
        writer.writerow([_guard(sub.email), sub.status, sub.created_at.isoformat() if sub.created_at else ""])
    return buf.getvalue()
