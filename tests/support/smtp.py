"""SMTP servers for the tests (aiosmtpd), which record every message: SMTPServer, and FaultySMTPServer that also
misbehaves on cue (refuses, drops sessions, keeps a sender waiting at a Gate, stops and starts again); text_body and
html_body read a received message's parts."""

import asyncio
import email
import threading
import time
from collections import Counter
from email import policy

from aiosmtpd.controller import Controller

from tests.support.brokers import wait_until_idle


class RecordingHandler:
    """Keeps every message; can be told to refuse the next few, as a struggling SMTP server would."""

    def __init__(self):
        self.messages = []
        self.senders = []  # each message's envelope sender (MAIL FROM)
        self.refusals_left = 0
        self.refused = 0
        self.received = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.received:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            self.messages.append(message)
            self.senders.append(envelope.mail_from)
            self.received.notify_all()
        return "250 OK"


class SMTPServer:
    def __init__(self, handler, port):
        self.handler = handler
        self.port = port

    @property
    def messages(self):
        return list(self.handler.messages)

    def refuse_next(self, count):
        self.handler.refusals_left = count

    def wait_for(self, count, timeout=20):
        """Wait until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.handler.received:
            while len(self.handler.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} email(s), got {len(self.handler.messages)}")
                self.handler.received.wait(remaining)
        return self.messages

    def settle(self, timeout=60):
        """Wait until nothing more can arrive (the broker's queue empty and every running worker idle); return
        everything received. Duplicates, if any, are among it: no fixed sleep that a slow machine could outlast."""
        wait_until_idle(timeout=timeout)
        return self.messages

    def messages_to(self, address):
        return [m for m in self.messages if m["To"] == address]


def text_body(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def html_body(message):
    return message.get_body(preferencelist=("html",)).get_content()


# --- A server that misbehaves ------------------------------------------------------------------------


class Gate:
    """A point where the SMTP server keeps a sender waiting: `reached` once it is there, on again after open()."""

    def __init__(self):
        self.reached = threading.Event()
        self._open = threading.Event()

    async def hold(self):
        self.reached.set()
        # In a thread, so that the server's event loop keeps serving everything else meanwhile.
        await asyncio.get_running_loop().run_in_executor(None, self._open.wait, 60)

    def wait_reached(self, timeout=60):
        if not self.reached.wait(timeout):
            raise AssertionError("the sender never reached the gate")

    def open(self):
        self._open.set()


class FaultySMTPHandler(RecordingHandler):
    """RecordingHandler, plus the faults a real server shows."""

    def __init__(self):
        super().__init__()
        self.recipients_seen = 0  # RCPT commands, counted from 1
        self.drops_left = 0
        self.dropped = 0
        self.delay = 0.0
        self.rcpt_gates = {}  # RCPT number -> Gate: the sender waits before the recipient is accepted
        self.accepted_gates = {}  # message number -> Gate: stored, and the sender waits for the 250

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.recipients_seen += 1
        if self.drops_left > 0:
            self.drops_left -= 1
            self.dropped += 1
            server.transport.abort()  # the connection goes away mid-message, with no goodbye
            return "421 4.4.2 Connection dropped"
        gate = self.rcpt_gates.get(self.recipients_seen)
        if gate:
            await gate.hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = await super().handle_DATA(server, session, envelope)
        gate = self.accepted_gates.get(len(self.messages)) if reply.startswith("250") else None
        if gate:
            await gate.hold()
        return reply


class FaultySMTPServer(SMTPServer):
    def __init__(self, handler, port):
        super().__init__(handler, port)
        self._controller = None

    def start(self):
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        """Stop listening: connections are refused until start(), on the same port."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def drop_next(self, count):
        """Drop the next `count` sessions at RCPT, as a server under strain or a flaky network would."""
        self.handler.drops_left = count

    def hold_at_recipient(self, number):
        """The sender of the `number`-th RCPT (from 1) waits there, before its message is accepted."""
        gate = self.handler.rcpt_gates[number] = Gate()
        return gate

    def hold_after_accepting(self, number):
        """The `number`-th message (from 1) is stored; its sender waits for the 250 until the gate opens."""
        gate = self.handler.accepted_gates[number] = Gate()
        return gate

    def count_by_recipient(self):
        return Counter(message["To"] for message in self.messages)

    def open_all_gates(self):
        for gate in [*self.handler.rcpt_gates.values(), *self.handler.accepted_gates.values()]:
            gate.open()
