"""Read the bounce mailbox: IMAP, POP3, or a local Maildir or mbox file the MTA delivers to.

Each message goes through :class:`digest.mail.intake.Intake`, which records it (raw text too) before
the mailbox is touched. Then what was understood (a bounce, a complaint, an auto-reply, a delay
warning) is deleted, and what was not (garbage, a forged or token-less bounce) is **moved aside,
never deleted**:

* IMAP: moved to the folder ``bounces.aside`` (created when missing; MOVE, or COPY then delete);
* Maildir: moved to its subfolder ``.<aside>``; mbox: moved to the mbox file ``<path>.<aside>``;
* POP3, which has no folders: left on the server, a copy kept in the local Maildir
  ``bounces.aside_dir``, and never read again (its UIDL is recorded).

A run stopped half-way (the database went away) leaves every message not yet recorded where it
was; the next run reads it again.
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
import poplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from digest.config import BouncesConfig, Config
from digest.errors import MailError
from digest.mail.intake import Intake, IntakeResult
from digest.private import private_dir
from digest.store import Store

log = logging.getLogger("digest.bounces")


class MailboxError(MailError):
    """The bounce mailbox could not be reached or read."""


@dataclass
class FetchReport:
    mailbox: str
    read: int = 0
    understood: int = 0
    set_aside: int = 0
    skipped: int = 0
    results: list[IntakeResult] = field(default_factory=list)

    def add(self, result: IntakeResult) -> None:
        self.read += 1
        self.results.append(result)
        if result.understood:
            self.understood += 1
        else:
            self.set_aside += 1

    @property
    def suppressed(self) -> int:
        return sum(r.outcome == "suppressed" for r in self.results)

    def summary(self) -> str:
        return (f"{self.mailbox}: read {self.read}, understood {self.understood} (suppressed {self.suppressed}), "
                f"moved aside {self.set_aside}" + (f", skipped {self.skipped} set aside before" if self.skipped
                                                  else ""))


def aside_maildir(config: Config) -> mailbox.Maildir:
    """The local Maildir for copies set aside where the source cannot move them (the pipe, POP3)."""
    path = private_dir(config.path(config.bounces.aside_dir))
    for sub in ("tmp", "new", "cur"):  # Maildir(create=True) makes them only for a new folder
        (path / sub).mkdir(mode=0o700, exist_ok=True)
    return mailbox.Maildir(path, create=False)


def keep_aside(config: Config, raw: bytes) -> str:
    """Store one message in the local aside Maildir; its key."""
    return aside_maildir(config).add(raw)


def fetch(store: Store, config: Config, intake: Intake | None = None) -> FetchReport:
    """Read the configured bounce mailbox once; :class:`MailboxError` when it cannot be read."""
    b = config.bounces
    if not b.mailbox:
        raise MailboxError("no bounce mailbox configured: set bounces.mailbox to imap, pop3, maildir or mbox")
    intake = intake or Intake(store, config)
    readers: dict[str, Callable[[Config, Intake, FetchReport], None]] = {
        "imap": _imap, "pop3": _pop3, "maildir": _maildir, "mbox": _mbox}
    report = FetchReport(b.mailbox)
    try:
        readers[b.mailbox](config, intake, report)
    except (OSError, imaplib.IMAP4.error, poplib.error_proto, mailbox.Error, ssl.SSLError) as exc:
        where = f"{b.host}:{_port(b)}" if b.mailbox in ("imap", "pop3") else str(config.path(b.path))
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise MailboxError(f"bounce mailbox {b.mailbox} {where}: {reason} (read {report.read} before)") from None
    log.info("bounce mailbox %s", report.summary())
    return report


def _port(b: BouncesConfig) -> int:
    if b.port:
        return b.port
    return {"imap": 993 if b.tls else 143, "pop3": 995 if b.tls else 110}[b.mailbox]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# ---- IMAP ----------------------------------------------------------------------------------------
def _imap_quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap(config: Config, intake: Intake, report: FetchReport) -> None:
    b = config.bounces
    port = _port(b)
    if b.tls:
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(b.host, port, ssl_context=ssl.create_default_context(),
                                                timeout=b.timeout_seconds)
    else:
        conn = imaplib.IMAP4(b.host, port, timeout=b.timeout_seconds)
    try:
        if b.starttls:
            conn.starttls(ssl.create_default_context())
        conn.login(b.user, b.password)
        typ, data = conn.select(_imap_quote(b.folder))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot open folder {b.folder!r}: {_text(data[0] or b'')}")
        validity = _text((conn.response("UIDVALIDITY")[1] or [b""])[0] or b"")
        typ, data = conn.uid("SEARCH", None, "UNDELETED")
        uids = (data[0] or b"").split() if typ == "OK" else []
        typ, data = conn.capability()  # after login: servers announce MOVE and UIDPLUS only then
        caps = {c.upper() for c in _text(data[0] or b"").split()} if typ == "OK" else set()
        caps |= {_text(c).upper() for c in conn.capabilities}
        aside_ready = False
        done: list[bytes] = []
        for uid in uids:
            typ, fetched = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((part[1] for part in fetched or [] if isinstance(part, tuple) and len(part) > 1), None)
            if typ != "OK" or raw is None:
                continue  # gone meanwhile (another reader expunged it)
            result = intake.process_message(raw, "imap", mailbox_key=f"{b.folder}/{validity}/{_text(uid)}")
            report.add(result)
            if result.understood:
                conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                done.append(uid)
                continue
            if not aside_ready:
                conn.create(_imap_quote(b.aside))  # NO when it exists: fine
                aside_ready = True
            if "MOVE" in caps:
                typ, data = conn.uid("MOVE", uid, _imap_quote(b.aside))
            else:
                typ, data = conn.uid("COPY", uid, _imap_quote(b.aside))
                if typ == "OK":
                    conn.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
                    done.append(uid)
            if typ != "OK":  # not moved: it stays where it is, undeleted
                log.warning("bounce mailbox: could not move message %s aside: %s", _text(uid), _text(data[0] or b""))
        if done:
            if "UIDPLUS" in caps:  # expunge only what we flagged, not what another client marked
                conn.uid("EXPUNGE", b",".join(done).decode())
            else:
                conn.expunge()
        conn.close()
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


# ---- POP3 ----------------------------------------------------------------------------------------
def _pop3(config: Config, intake: Intake, report: FetchReport) -> None:
    b = config.bounces
    port = _port(b)
    if b.tls:
        conn: poplib.POP3 = poplib.POP3_SSL(b.host, port, context=ssl.create_default_context(),
                                            timeout=b.timeout_seconds)
    else:
        conn = poplib.POP3(b.host, port, timeout=b.timeout_seconds)
    try:
        if b.starttls:
            conn.stls(ssl.create_default_context())
        conn.user(b.user)
        conn.pass_(b.password)
        _resp, listing, _octets = conn.uidl()
        for line in listing:
            m = re.match(rb"(\d+)\s+(\S+)", line)
            if not m:
                continue
            num, uid = m.group(1).decode(), _text(m.group(2))
            key = f"{b.user}@{b.host}/{uid}"[:300]
            if intake.seen("pop3", key):
                report.skipped += 1  # set aside by an earlier run: it stays on the server, unread
                continue
            _resp, lines, _octets = conn.retr(num)
            raw = b"\r\n".join(lines) + b"\r\n"
            result = intake.process_message(raw, "pop3", mailbox_key=key)
            report.add(result)
            if result.understood:
                conn.dele(num)
            else:
                keep_aside(config, raw)
        conn.quit()  # the deletions take effect here
    except BaseException:
        try:
            conn.close()  # without QUIT the server deletes nothing of this session
        except OSError:
            pass
        raise


# ---- Maildir and mbox ----------------------------------------------------------------------------
def _maildir(config: Config, intake: Intake, report: FetchReport) -> None:
    b = config.bounces
    path = config.path(b.path)
    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        raise mailbox.Error(f"not a Maildir (no cur/ and new/): {path}")
    box = mailbox.Maildir(path, create=False)
    aside: mailbox.Maildir | None = None
    for key in sorted(box.keys()):
        try:
            raw = box.get_bytes(key)
        except KeyError:
            continue  # taken by another reader meanwhile
        result = intake.process_message(raw, "maildir", mailbox_key=key)
        report.add(result)
        if not result.understood:
            if aside is None:
                aside = box.add_folder(b.aside) if b.aside not in box.list_folders() else box.get_folder(b.aside)
            aside.add(raw)  # the bytes as they were; written before the removal
        box.discard(key)


def _mbox(config: Config, intake: Intake, report: FetchReport) -> None:
    b = config.bounces
    path = config.path(b.path)
    if not path.is_file():
        raise mailbox.Error(f"no such mbox file: {path}")
    box = mailbox.mbox(path, create=False)
    box.lock()
    aside: mailbox.mbox | None = None
    try:
        for key in list(box.keys()):
            raw = box.get_bytes(key)
            result = intake.process_message(raw, "mbox", mailbox_key=f"{path.name}/{key}")
            report.add(result)
            if not result.understood:
                if aside is None:
                    aside = mailbox.mbox(Path(f"{path}.{b.aside}"), create=True)
                    aside.lock()
                aside.add(raw)  # the bytes as they were (a new From_ line)
            box.discard(key)
    finally:
        # the moved messages are on disk before the mailbox forgets them: when the aside file cannot
        # be written, the mailbox is left as it was
        try:
            if aside is not None:
                try:
                    aside.flush()
                finally:
                    aside.unlock()
                    aside.close()
            box.flush()
        finally:
            box.unlock()
            box.close()
