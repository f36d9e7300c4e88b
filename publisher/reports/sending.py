"""Sending a chunk of reports: to each author still eligible who has not had it, once, over a few SMTP connections."""

import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass

from django import db
from django.core.mail import get_connection
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from .claims import Claim, skip_pending
from .content import build_reports
from .eligibility import eligible_authors
from .emails import view_count_report_email
from .preferences import keep_schedules


class ReportsNotRecorded(Exception):
    """The SMTP server accepted these authors' reports, but the database could not record them as sent."""

    def __init__(self, author_ids):
        super().__init__(f"reports accepted by the SMTP server, not recorded as sent: authors {author_ids}")
        self.author_ids = author_ids


class ClaimedByAnotherExecution(Exception):
    """Some of the deliveries are claimed by another execution of this very task: its message was delivered again
    (its worker was cut off from the broker) while that execution may still be sending. Try again at lapses_at."""

    def __init__(self, lapses_at):
        super().__init__(f"deliveries claimed by another execution of this task until {lapses_at:%H:%M:%S} UTC")
        self.lapses_at = lapses_at


@dataclass(frozen=True)
class SendSummary:
    period: object  # a reports.periods.Period
    authors: int
    sent_to: list

    def as_result(self):
        """As the task's stored result shows it."""
        return {
            "kind": self.period.kind,
            "date": self.period.start.isoformat(),
            "authors": self.authors,
            "sent": len(self.sent_to),
            "sent_to": self.sent_to,
            "skipped": self.authors - len(self.sent_to),
        }


def send_reports_to_authors(*, author_ids, period, task_id, accepted_author_ids=(), connections=1):
    """Deliver the period's report to each of these authors who is still eligible and has not had it yet, over up to
    `connections` SMTP connections at once.

    accepted_author_ids: reports that an earlier attempt of this task handed to the SMTP server but could not
    record, the database being unreachable. They are recorded now and not sent again.
    """
    claim = Claim(period=period, task_id=task_id)
    accepted = list(accepted_author_ids)
    for author_id in accepted:
        claim.mark_sent(author_id)
    eligible = list(eligible_authors().filter(pk__in=author_ids).exclude(pk__in=accepted).values_list("pk", flat=True))
    skip_authors_no_longer_eligible(set(author_ids) - set(eligible) - set(accepted), period)
    claimed = claim.take(eligible)
    to_send = build_reports(author_ids=claimed, period=period) if claimed else []
    claim.drop(set(claimed) - {report.author.pk for report in to_send})
    try:
        sent = accepted + send_while_claimed(to_send, claim=claim, accepted=accepted, connections=connections)
    except Exception:
        claim.release()
        raise
    lapses_at = claim.others_lapse_at(eligible)
    if lapses_at:
        raise ClaimedByAnotherExecution(lapses_at)
    return SendSummary(period=period, authors=len(author_ids), sent_to=sent)


# Senders per SMTP connection: while one waits for the relay's reply, another builds its next report.
SENDERS_PER_SMTP_CONNECTION = 2


def send_while_claimed(to_send, *, claim, accepted, connections=1):
    """Send each report whose delivery this execution still holds, over up to `connections` SMTP connections at
    once; the authors sent to. The connections are lent to twice as many senders, each a thread with a database
    connection of its own for its sent marks: a sender builds its next report holding no SMTP connection, so that
    building one report overlaps the relay's reply to another, and the connections are busy sending. With one
    connection, the reports go out on this thread (and its database connection)."""
    if not to_send:
        return []
    queue = ClaimedQueue(to_send, claim=claim)
    smtp = SMTPConnections(min(connections, len(to_send)))
    senders = 1 if connections == 1 else min(connections * SENDERS_PER_SMTP_CONNECTION, len(to_send))
    try:
        if senders == 1:
            send_from_queue(queue, smtp)
        else:
            threads = [
                threading.Thread(target=send_from_queue_on_own_connection, args=(queue, smtp)) for _ in range(senders)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        smtp.close()
    if queue.not_recorded:
        # A plain retry would claim these deliveries again and send them twice: say that they left.
        raise ReportsNotRecorded([*accepted, *queue.not_recorded]) from queue.failures[0]
    if queue.failures:
        raise queue.failures[0]
    return queue.sent


class ClaimedQueue:
    """An execution's reports, handed to its senders one at a time. Each is sent only if the execution still holds
    its delivery as it is about to go: the claims on every report not yet sent are renewed together, and again
    whenever less than half a lease would be left for a send. A failure on one connection stops every sender before
    its next report; what they already sent stays sent."""

    def __init__(self, to_send, *, claim):
        self.claim = claim
        self.pending = deque(to_send)
        self.unsent = dict.fromkeys(report.author.pk for report in to_send)  # in order: the claims to renew
        self.held, self.send_before = set(), None
        self.sent, self.not_recorded, self.failures = [], [], []
        self.lock = threading.Lock()

    def next_report(self):
        """The next report to build, or None when there is none left or a sender failed."""
        with self.lock:
            return self.pending.popleft() if self.pending and not self.failures else None

    def still_held(self, author_id):
        """About to send this author's report: whether this execution still holds its delivery (else a successor
        took it over after this execution's lease lapsed)."""
        with self.lock:
            if self.send_before is None or timezone.now() >= self.send_before:
                self.held, self.send_before = self.claim.renew(list(self.unsent))
            self.unsent.pop(author_id, None)
            return author_id in self.held

    def record(self, author_id):
        """The SMTP server accepted this author's report: mark it sent."""
        try:
            self.claim.mark_sent(author_id)
        except (OperationalError, InterfaceError) as exc:
            with self.lock:
                self.not_recorded.append(author_id)
                self.failures.append(exc)
            return
        with self.lock:
            self.sent.append(author_id)

    def fail(self, exc):
        with self.lock:
            self.failures.append(exc)


class SMTPConnections:
    """Up to `limit` SMTP connections, each lent to one sender at a time: opened when first needed and kept open for
    the next sender; one whose send failed is closed (another is opened in its place if needed)."""

    def __init__(self, limit):
        self.free = threading.BoundedSemaphore(limit)
        self.idle, self.lock = [], threading.Lock()

    @contextmanager
    def lent(self):
        with self.free:
            with self.lock:
                connection = self.idle.pop() if self.idle else None
            if connection is None:
                connection = get_connection()
                connection.open()
            try:
                yield connection
            except BaseException:
                connection.close()
                raise
            with self.lock:
                self.idle.append(connection)

    def close(self):
        with self.lock:
            idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


def send_from_queue(queue, smtp):
    """One sender's sends: build a report, then, over a lent SMTP connection, send it while its delivery is still held
    and mark it sent; until the queue is empty or a sender failed."""
    try:
        while (report := queue.next_report()) is not None:
            email = view_count_report_email(report)
            with smtp.lent() as connection:
                if not queue.still_held(report.author.pk):
                    continue
                connection.send_messages([email])
                # Marked before the connection's next message: what it has had accepted is recorded first.
                queue.record(report.author.pk)
    except Exception as exc:  # raised by send_while_claimed once every sender has stopped
        queue.fail(exc)


def send_from_queue_on_own_connection(queue, smtp):
    try:
        send_from_queue(queue, smtp)
    finally:
        db.connection.close()  # this thread's own, opened for its renewals and sent marks


def skip_authors_no_longer_eligible(author_ids, period):
    """Turned off (or unpublished everything) between the tick and the send: their report is not sent, and an
    author left without a published post is due no more reports until they publish again."""
    if author_ids:
        skip_pending(author_ids, period, reason="no longer receives reports when it was to be sent")
        keep_schedules(author_ids)
