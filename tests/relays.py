"""Relays on loopback for the delivery tests and benchmarks: one aiosmtpd server whose behaviour
the caller changes while it runs (451 to every RCPT, a 5xx at MAIL FROM or DATA, a stall after N
messages, a delay per message), counting what it accepted per recipient.

Used by tests/test_send_faults.py and bench/send_faults.py, bench/send_kill.py.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Relay:
    """What the relay does, changed by the test while it runs."""

    host: str
    port: int
    rcpt_reply: str = ""          # e.g. "451 4.3.0 try again later" for every RCPT
    mail_reply: str = ""          # e.g. "530 5.7.0 Authentication required" at MAIL FROM
    data_reply: str = ""          # the answer at the end of DATA instead of 250
    stall_after: int | None = None  # accept this many messages, then answer nothing after a greeting
    delay: float = 0.0            # seconds each message takes at the end of DATA (a slow, healthy relay)
    per_rcpt: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> int:
        with self.lock:
            return sum(self.per_rcpt.values())

    def stalled(self) -> bool:
        return self.stall_after is not None and self.accepted >= self.stall_after

    def heal(self) -> None:
        self.rcpt_reply = self.mail_reply = self.data_reply = ""
        self.stall_after = None


def start_relay(relay: Relay, **smtp_kw: object):  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    class Handler:
        async def _stall(self) -> None:
            while relay.stalled():
                await asyncio.sleep(0.1)

        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
            await self._stall()
            session.host_name = hostname
            return responses

        async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
            await self._stall()
            if relay.mail_reply:
                return relay.mail_reply
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
            return "250 OK"

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
            if relay.rcpt_reply:
                return relay.rcpt_reply
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            if relay.data_reply:
                return relay.data_reply
            if relay.delay:
                await asyncio.sleep(relay.delay)
            with relay.lock:
                relay.per_rcpt.update(envelope.rcpt_tos)
            return "250 Message accepted"

    controller = Controller(Handler(), hostname=relay.host, port=relay.port, **smtp_kw)
    controller.start()
    return controller
