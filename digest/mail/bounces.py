"""Classify one message from the bounce intake: a DSN, a complaint, an auto-reply, or not understood.

* **DSN** (RFC 3464, ``multipart/report; report-type=delivery-status``): each recipient's
  ``Action`` and ``Status`` decide. A failure with a 5.x.x status on the recipient is hard; 4.x.x
  and the 5.x.x codes that are not about the address (RFC 3463: 5.2.2 mailbox full, 5.2.3 and
  5.3.4 too large, 5.6.x content, 5.7.x policy) are soft. A generic ``X.0.0`` status yields to the
  enhanced code in the ``Diagnostic-Code`` (Exim writes ``5.0.0`` and ``550 5.1.1 ...``). A
  ``delayed`` action is not a bounce: the relay is still trying.
* **Other bounce formats** (old qmail, Exim without DSN, Yahoo, ...): flufl.bounce, the library
  Mailman uses, finds the failed addresses and whether the failure is temporary or permanent; a
  status code in the text, when there is one, still decides over its guess. No keywords.
* **Complaints** (ARF, RFC 5965, ``report-type=feedback-report``): a Feedback-Type of abuse,
  fraud, virus or other is a complaint; not-spam and auth-failure reports are not.
* **Auto-replies** (RFC 3834 ``Auto-Submitted: auto-replied``, ``X-Autoreply``, ``Precedence:
  auto_reply``, ``X-Autorespond``) are ignored. A DSN may carry ``Auto-Submitted`` too: reports
  are recognised first.

Who the message is about comes from VERP (:mod:`digest.mail.verp`): the addresses this module
collects (the report's envelope recipient, ``To``, ``Delivered-To``, the enclosed message's
``Return-Path``, ARF's ``Original-Mail-From``) and, for complaints whose provider strips the
envelope, the signed unsubscribe token in the enclosed ``List-Unsubscribe``.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message

from flufl.bounce import all_failures

try:  # the detectors in flufl.bounce's order, to run one by one (see _failures)
    from flufl.bounce._scan import _DETECTORS
except ImportError:  # pragma: no cover - another layout of the library: its all_failures as a whole
    _DETECTORS = []

#: RFC 3463 codes, anywhere in a line of text
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE = re.compile(r"(?<!\d)([245]\d\d)(?!\d)")
_UNSUB = re.compile(r"/unsubscribe/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
#: 5.x.x codes that are about the message or the moment, not the address (RFC 3463)
SOFT_PERMANENT = ("5.2.2", "5.2.3", "5.3.4")
SOFT_PERMANENT_CLASSES = ("5.6.", "5.7.")
COMPLAINT_TYPES = ("abuse", "fraud", "virus", "other")
HEADERS_FOR_VERP = ("X-Original-To", "Delivered-To", "Envelope-To", "X-Envelope-To", "To", "Return-Path")
MAX_PARTS = 200


@dataclass(frozen=True)
class Recipient:
    address: str
    kind: str  # hard | soft | delayed | ignored
    status: str = ""
    detail: str = ""


@dataclass
class Classified:
    #: hard | soft | complaint | delayed | autoreply | ignored | unknown
    kind: str
    recipients: list[Recipient] = field(default_factory=list)
    status: str = ""
    detail: str = ""
    #: addresses where our VERP envelope sender may appear, most trustworthy first
    verp_candidates: list[str] = field(default_factory=list)
    #: signed unsubscribe tokens in the enclosed original message (complaints)
    unsubscribe_tokens: list[str] = field(default_factory=list)
    message_id: str = ""

    @property
    def understood(self) -> bool:
        return self.kind != "unknown"


def classify_status(status: str, action: str = "failed", diagnostic: str = "") -> tuple[str, str]:
    """(kind, the code that decided) for one DSN recipient; kind: hard, soft, delayed or ignored."""
    action = (action or "failed").strip().lower()
    if action in ("delivered", "relayed", "expanded"):
        return "ignored", status
    if action == "delayed":
        return "delayed", status
    m = _STATUS.search(status or "")
    code = ".".join(m.groups()) if m else ""
    if not code or code.endswith(".0.0"):  # generic: the diagnostic may say more
        d = _STATUS.search(diagnostic or "")
        if d and (not code or d.group(1) == code[0]):
            code = ".".join(d.groups())
        else:  # only a basic reply code: 552/452 is "mailbox full" (RFC 5321 4.2.2/4.2.3)
            basic = _SMTP_CODE.search(diagnostic or "")
            if basic is not None and (not code or basic.group(1)[0] == code[0]):
                code = {"552": "5.2.2", "452": "4.2.2"}.get(basic.group(1), code or f"{basic.group(1)[0]}.0.0")
    if not code:
        return ("hard", "") if action == "failed" else ("soft", "")
    return kind_of_code(code), code


def kind_of_code(code: str) -> str:
    """'hard' or 'soft' for an RFC 3463 code of a failed recipient."""
    if code.startswith("2."):
        return "ignored"
    if code.startswith("4."):
        return "soft"
    if code in SOFT_PERMANENT or code.startswith(SOFT_PERMANENT_CLASSES):
        return "soft"
    return "hard"


def parse(raw: bytes) -> Message | None:
    if not raw or not raw.strip():
        return None
    try:
        msg = email.message_from_bytes(raw, policy=policy.compat32)
    except Exception:  # noqa: BLE001 - whatever the parser chokes on is "not understood"
        return None
    if not msg.keys():
        return None
    return msg


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    inner = part.get_payload()
    if isinstance(inner, list):  # message/delivery-status parsed as a list of header blocks
        return "\n\n".join(str(p) for p in inner)
    return str(inner or "")


def _fields(block: str) -> list[dict[str, str]]:
    """RFC 3464 groups of ``Name: value`` fields, separated by blank lines (continuations joined)."""
    groups: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in block.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                groups.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        last = name.strip().lower()
        current[last] = value.strip()
    if current:
        groups.append(current)
    return groups


def _addr(value: str) -> str:
    """``rfc822; user@example.org`` -> ``user@example.org``."""
    _type, sep, rest = value.partition(";")
    return (rest if sep else value).strip().strip("<>").strip()


def _walk(msg: Message) -> list[Message]:
    parts = []
    for n, part in enumerate(msg.walk()):
        if n >= MAX_PARTS:
            break
        parts.append(part)
    return parts


def _enclosed_headers(parts: list[Message]) -> list[Message]:
    """The returned original message(s): message/rfc822 parts and text/rfc822-headers."""
    out: list[Message] = []
    for part in parts:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/rfc822-headers") and part.is_multipart():
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                out.append(inner[0])
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers", "message/rfc822"):
            inner_msg = email.message_from_string(_text(part), policy=policy.compat32)
            if inner_msg.keys():
                out.append(inner_msg)
    return out


def _report_type(msg: Message) -> str:
    if msg.get_content_type() != "multipart/report":
        for part in _walk(msg)[1:]:
            if part.get_content_type() == "multipart/report":
                return (part.get_param("report-type") or "").lower()  # type: ignore[union-attr]
        return ""
    return str(msg.get_param("report-type") or "").lower()


def _candidates(msg: Message, enclosed: list[Message], envelope: list[str]) -> list[str]:
    values = list(envelope)
    for name in HEADERS_FOR_VERP:
        values.extend(str(v) for v in msg.get_all(name, []))
    for inner in enclosed:
        values.extend(str(v) for v in inner.get_all("Return-Path", []))
        values.extend(str(v) for v in inner.get_all("Sender", []))
    return values


def _unsub_tokens(enclosed: list[Message]) -> list[str]:
    tokens: list[str] = []
    for inner in enclosed:
        for value in inner.get_all("List-Unsubscribe", []):
            tokens.extend(_UNSUB.findall(re.sub(r"\s+", "", str(value))))
    return tokens


def is_auto_reply(msg: Message) -> bool:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto.startswith("auto-replied"):
        return True
    if msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return True
    return str(msg.get("Precedence", "")).strip().lower() == "auto_reply"


def classify(raw: bytes, envelope_recipients: list[str] | None = None) -> Classified:
    """Classify one message (its raw bytes); ``envelope_recipients`` are the addresses the MTA
    delivered it to, when known (the pipe's ``$RECIPIENT``/``$ORIGINAL_RECIPIENT``)."""
    msg = parse(raw)
    if msg is None:
        return Classified("unknown", detail="empty or unparsable message")
    try:
        return _classify(msg, list(envelope_recipients or []))
    except Exception as exc:  # noqa: BLE001 - a malformed message must never stop the run
        return Classified("unknown", detail=f"malformed message: {type(exc).__name__}: {exc}"[:300])


def _classify(msg: Message, envelope: list[str]) -> Classified:
    parts = _walk(msg)
    enclosed = _enclosed_headers(parts)
    candidates = _candidates(msg, enclosed, envelope)
    message_id = str(msg.get("Message-ID", "")).strip()[:300]
    report = _report_type(msg)
    if report == "feedback-report":
        return _arf(parts, enclosed, candidates, message_id)
    if report == "delivery-status":
        result = _dsn(parts)
        if result is not None:
            result.verp_candidates, result.message_id = candidates, message_id
            return result
    # not a standard DSN (or one without recipient fields): flufl.bounce's detectors
    temporary, permanent = _failures(msg)
    if temporary or permanent:
        text = "\n".join(_text(p) for p in parts if p.get_content_maintype() == "text")[:20000]
        recipients = []
        for addr, default in [(a, "soft") for a in sorted(temporary)] + [(a, "hard") for a in sorted(permanent)]:
            address = addr.decode("utf-8", "replace") if isinstance(addr, bytes) else str(addr)
            kind, code = default, ""
            m = _line_code(text, address)
            if m:
                code, kind = m, kind_of_code(m)
            recipients.append(Recipient(address, kind, code, "flufl.bounce"))
        return _summarise(recipients, candidates, message_id)
    if is_auto_reply(msg):
        return Classified("autoreply", detail=str(msg.get("Subject", ""))[:200], verp_candidates=candidates,
                          message_id=message_id)
    return Classified("unknown", detail="neither a bounce, a complaint nor an auto-reply",
                      verp_candidates=candidates, message_id=message_id)


def _failures(msg: Message) -> tuple[set[bytes], set[bytes]]:
    """flufl.bounce's ``all_failures``, except that a detector that raises on a malformed message
    (its Yale detector does on a message without From) is skipped instead of ending the scan
    with a logged traceback: the next detectors still get their say."""
    if not _DETECTORS:
        temporary, permanent = all_failures(msg)
        return set(temporary), set(permanent)
    for detector in _DETECTORS:
        try:
            temporary, permanent = detector().process(msg)
        except Exception:  # noqa: BLE001, S112 - one detector's trouble with a malformed message
            continue
        if temporary or permanent:
            return set(temporary), set(permanent)
    return set(), set()


def _line_code(text: str, address: str) -> str:
    """The status code on the line naming ``address`` or just after it (a non-DSN bounce's text)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if address.lower() in line.lower():
            for near in lines[i:i + 3]:
                m = _STATUS.search(near)
                if m:
                    return ".".join(m.groups())
    return ""


def _dsn(parts: list[Message]) -> Classified | None:
    status_part = next((p for p in parts if p.get_content_type() in ("message/delivery-status",
                                                                       "message/global-delivery-status")), None)
    if status_part is None:
        return None
    groups = _fields(_text(status_part))
    recipients: list[Recipient] = []
    for g in groups:  # the first group is about the message (Reporting-MTA ...), then one per recipient
        if "final-recipient" not in g and "original-recipient" not in g:
            continue
        address = _addr(g.get("original-recipient", "")) or _addr(g.get("final-recipient", ""))
        kind, code = classify_status(g.get("status", ""), g.get("action", ""), g.get("diagnostic-code", ""))
        detail = g.get("diagnostic-code", "") or g.get("status", "")
        recipients.append(Recipient(address, kind, code, " ".join(detail.split())[:500]))
    if not recipients:
        return None
    return _summarise(recipients, [], "")


def _summarise(recipients: list[Recipient], candidates: list[str], message_id: str) -> Classified:
    """The message's kind is its worst recipient's: hard over soft over delayed."""
    for kind in ("hard", "soft", "delayed", "ignored"):
        worst = next((r for r in recipients if r.kind == kind), None)
        if worst is not None:
            return Classified(kind, recipients, worst.status, worst.detail, candidates, [], message_id)
    return Classified("unknown", recipients, detail="no recipient in the report")


def _arf(parts: list[Message], enclosed: list[Message], candidates: list[str], message_id: str) -> Classified:
    fb = next((p for p in parts if p.get_content_type() == "message/feedback-report"), None)
    if fb is None:
        return Classified("unknown", detail="feedback report without a message/feedback-report part",
                          verp_candidates=candidates, message_id=message_id)
    groups = _fields(_text(fb))
    fields: dict[str, str] = {}
    for g in groups:
        for k, v in g.items():
            fields.setdefault(k, v)
    ftype = fields.get("feedback-type", "").strip().lower()
    rcpt = _addr(fields.get("original-rcpt-to", ""))
    mail_from = _addr(fields.get("original-mail-from", ""))
    cands = ([mail_from] if mail_from else []) + candidates
    kind = "complaint" if ftype in COMPLAINT_TYPES else "ignored"
    detail = f"feedback-type {ftype or '?'}" + (f" from {fields['user-agent']}" if fields.get("user-agent") else "")
    return Classified(kind, [Recipient(rcpt, kind)] if rcpt else [], "", detail[:300], cands,
                      _unsub_tokens(enclosed), message_id)
