"""Bounce, complaint and auto-reply messages in the shapes the common MTAs write, built here.

The project's own fixtures: each builder writes a message the way that MTA lays it out (Postfix's
"Undelivered Mail Returned to Sender" with its DSN part, Exim's "Mail delivery failed" with a
``5.0.0`` status and the real code in the diagnostic, Gmail's and Exchange's DSNs, Amazon SES's
DSN, an ARF complaint as Yahoo's and Microsoft's feedback loops send them, an out-of-office reply)
around the original message headers our mailer sends. They are addressed to the VERP address
the original went out from.
"""

from __future__ import annotations

ORIGINAL_FROM = "Cyber Digest <digest@example.org>"


def original_headers(verp: str, rcpt: str, unsubscribe_url: str = "") -> str:
    lines = [
        f"Return-Path: <{verp}>",
        f"From: {ORIGINAL_FROM}",
        f"To: {rcpt}",
        "Subject: Cyber Digest: 12 stories, 3 actors",
        "Date: Thu, 03 Dec 2026 07:00:02 +0000",
        "Message-ID: <7.42.a1b2c3d4e5f6@example.org>",
        "MIME-Version: 1.0",
        "List-Id: Cyber Digest <digest.example.org>",
    ]
    if unsubscribe_url:
        lines.append(f"List-Unsubscribe: <{unsubscribe_url}>")
    lines.append('Content-Type: multipart/alternative; boundary="=_digest_0011"')
    return "\r\n".join(lines) + "\r\n"


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def postfix(verp: str, rcpt: str, status: str = "5.1.1",
            diagnostic: str = "smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual "
                              "mailbox table", action: str = "failed") -> bytes:
    diag = diagnostic.format(rcpt=rcpt)
    return _crlf(f"""Return-Path: <>
X-Original-To: {verp}
Delivered-To: {verp}
Received: by mx.example.org (Postfix) id 4Q1; Thu,  3 Dec 2026 07:00:05 +0000 (UTC)
Date: Thu,  3 Dec 2026 07:00:05 +0000 (UTC)
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: {verp}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4Q1.1733209205/mx.example.org"
Message-Id: <20261203070005.4Q1@mx.example.org>

This is a MIME-encapsulated message.

--4Q1.1733209205/mx.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<{rcpt}>: host mail.remote.example[192.0.2.25] said: {diag.partition('; ')[2]}

--4Q1.1733209205/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 4Q1
X-Postfix-Sender: rfc822; {verp}
Arrival-Date: Thu,  3 Dec 2026 07:00:02 +0000 (UTC)

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {action}
Status: {status}
Remote-MTA: dns; mail.remote.example
Diagnostic-Code: {diag}

--4Q1.1733209205/mx.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{original_headers(verp, rcpt)}
--4Q1.1733209205/mx.example.org--
""")


def exim(verp: str, rcpt: str, smtp: str = "550 5.1.1 <{rcpt}>: user unknown") -> bytes:
    """Exim: Status 5.0.0, the real enhanced code only in the remote server's words."""
    said = smtp.format(rcpt=rcpt)
    return _crlf(f"""Return-path: <>
Envelope-to: {verp}
Delivery-date: Thu, 03 Dec 2026 07:00:09 +0000
From: Mail Delivery System <Mailer-Daemon@relay.example.net>
To: {verp}
References: <7.42.a1b2c3d4e5f6@example.org>
Content-Type: multipart/report; report-type=delivery-status; boundary=1733209209-eximdsn-1804289383
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tI@relay.example.net>
Date: Thu, 03 Dec 2026 07:00:09 +0000
Auto-Submitted: auto-replied

--1733209209-eximdsn-1804289383
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {rcpt}
    host mx.remote.example [198.51.100.7]
    SMTP error from remote mail server after RCPT TO:<{rcpt}>:
    {said}

--1733209209-eximdsn-1804289383
Content-type: message/delivery-status

Reporting-MTA: dns; relay.example.net

Action: failed
Final-Recipient: rfc822;{rcpt}
Status: 5.0.0
Remote-MTA: dns; mx.remote.example
Diagnostic-Code: smtp; {said}

--1733209209-eximdsn-1804289383
Content-type: message/rfc822

{original_headers(verp, rcpt)}
--=_digest_0011--

--1733209209-eximdsn-1804289383--
""")


def gmail(verp: str, rcpt: str, status: str = "5.1.1",
          said: str = "550-5.1.1 The email account that you tried to reach does not exist.") -> bytes:
    return _crlf(f"""Delivered-To: {verp}
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {verp}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <67a1.050a0220@mx.google.com>
Date: Thu, 03 Dec 2026 07:00:06 -0800 (PST)
Content-Type: multipart/report; boundary="000000000000dsn1"; report-type=delivery-status
MIME-Version: 1.0

--000000000000dsn1
Content-Type: multipart/related; boundary="000000000000dsn2"

--000000000000dsn2
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {rcpt} because the address couldn't be found, or is unable to receive mail.

The response was:

{said}

--000000000000dsn2--

--000000000000dsn1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; mail-sor-f41.google.com
Arrival-Date: Thu, 03 Dec 2026 07:00:05 -0800 (PST)

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: {status}
Remote-MTA: dns; gmail-smtp-in.l.google.com.
Diagnostic-Code: smtp; {said}
Last-Attempt-Date: Thu, 03 Dec 2026 07:00:06 -0800 (PST)

--000000000000dsn1
Content-Type: message/rfc822

{original_headers(verp, rcpt)}
--=_digest_0011--

--000000000000dsn1--
""")


def exchange(verp: str, rcpt: str, status: str = "5.2.2",
             said: str = "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException") -> bytes:
    return _crlf(f"""From: postmaster@outlook.example
To: {verp}
Date: Thu, 3 Dec 2026 07:00:07 +0000
Content-Type: multipart/report; report-type=delivery-status;
	boundary="a2b1c3d4-exch"
MIME-Version: 1.0
Message-ID: <ex-5a6b@outlook.example>
Subject: Undeliverable: Cyber Digest: 12 stories, 3 actors
Auto-Submitted: auto-replied
X-MS-Exchange-Message-Is-Ndr:

--a2b1c3d4-exch
Content-Type: text/plain; charset="us-ascii"

Delivery has failed to these recipients or groups:

{rcpt}
The recipient's mailbox is full and can't accept messages now.

--a2b1c3d4-exch
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01.outlook.example
Received-From-MTA: dns;mail.example.org
Arrival-Date: Thu, 3 Dec 2026 07:00:03 +0000

Final-Recipient: rfc822;{rcpt}
Action: failed
Status: {status}
Diagnostic-Code: smtp;{said}

--a2b1c3d4-exch
Content-Type: message/rfc822

{original_headers(verp, rcpt)}
--=_digest_0011--

--a2b1c3d4-exch--
""")


def ses_dsn(verp: str, rcpt: str, status: str = "5.1.1") -> bytes:
    return _crlf(f"""Return-Path: <>
From: MAILER-DAEMON@amazonses.com
To: {verp}
Subject: Delivery Status Notification (Failure)
Message-ID: <0100018c-ses-dsn@email.amazonses.com>
Date: Thu, 3 Dec 2026 07:00:08 +0000
MIME-Version: 1.0
Content-Type: multipart/report; boundary="ses-1"; report-type=delivery-status

--ses-1
Content-Type: text/plain; charset=UTF-8

An error occurred while trying to deliver the mail to the following recipients:
{rcpt}

--ses-1
Content-Type: message/delivery-status

Reporting-MTA: dns; a8-60.smtp-out.amazonses.com

Action: failed
Final-Recipient: rfc822; {rcpt}
Diagnostic-Code: smtp; 550 {status} user unknown
Status: {status}

--ses-1--
""")


def delayed(verp: str, rcpt: str) -> bytes:
    return postfix(verp, rcpt, "4.4.1", "X-Postfix; connect to mail.remote.example[192.0.2.25]:25: "
                   "Connection timed out", action="delayed")


def qmail(verp: str, rcpt: str) -> bytes:
    """qmail: no DSN part at all, only text (flufl.bounce's qmail detector reads it)."""
    return _crlf(f"""Return-Path: <>
Delivered-To: {verp}
From: MAILER-DAEMON@qmail.example
To: {verp}
Subject: failure notice
Date: 3 Dec 2026 07:00:10 -0000
Message-ID: <q-1@qmail.example>

Hi. This is the qmail-send program at qmail.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<{rcpt}>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

{original_headers(verp, rcpt)}
""")


def arf(verp: str, rcpt: str, feedback_type: str = "abuse", unsubscribe_url: str = "",
        redact: bool = False) -> bytes:
    """An ARF complaint (RFC 5965) as a feedback loop sends it; ``redact`` drops our envelope sender
    from the report (some loops do), leaving only the original's List-Unsubscribe to go by."""
    mail_from = "" if redact else f"Original-Mail-From: <{verp}>\n"
    headers = original_headers(verp, "redacted@fbl.example" if redact else rcpt, unsubscribe_url)
    if redact:
        headers = "\r\n".join(h for h in headers.split("\r\n") if not h.startswith("Return-Path"))
    return _crlf(f"""From: <feedback@fbl.example>
To: <{"abuse@example.org" if redact else verp}>
Subject: FW: Cyber Digest: 12 stories, 3 actors
Date: Thu, 3 Dec 2026 09:12:00 +0000
Message-ID: <fbl-1@fbl.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="fbl_part"

--fbl_part
Content-Type: text/plain; charset="US-ASCII"

This is an email abuse report for an email message received from IP 203.0.113.9.

--fbl_part
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: FBL/1.0
Version: 1
{mail_from}Original-Rcpt-To: <{rcpt}>
Arrival-Date: Thu, 3 Dec 2026 07:00:04 +0000
Source-IP: 203.0.113.9

--fbl_part
Content-Type: message/rfc822

{headers}
--=_digest_0011--

--fbl_part--
""")


def auto_reply(verp: str, rcpt: str) -> bytes:
    return _crlf(f"""From: {rcpt}
To: {verp}
Subject: Automatic reply: Cyber Digest: 12 stories, 3 actors
Date: Thu, 3 Dec 2026 07:01:00 +0000
Message-ID: <ooo-{rcpt}>
Auto-Submitted: auto-replied
X-Autoreply: yes
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday with limited access to email.
""")


def garbage(n: int) -> bytes:
    shapes = [
        b"",
        b"\x00\x01\x02 not a message at all \xff\xfe",
        b"Subject: hello\r\n\r\nDid you get my last letter? Write back soon.\r\n",
        (b"From: someone@spam.example\r\nTo: bounces@example.org\r\nSubject: WIN A PRIZE\r\n"
         b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"x\"\r\n\r\n"
         b"--x\r\nContent-Type: text/plain\r\n\r\nnothing here\r\n--x--\r\n"),
        b"Content-Type: multipart/mixed; boundary=\"nope\"\r\n\r\n--nope\r\nbroken" * 3,
    ]
    return shapes[n % len(shapes)]
