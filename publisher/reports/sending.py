"""Sending a chunk of reports: to each author still eligible who has not had it, once, over a few SMTP connections."""

import threading
from collections import deque
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


def send_while_claimed(to_send, *, claim, accepted, connections=1):
    """Send each report whose delivery this execution still holds, over up to `connections` SMTP connections at
    once; the authors sent to. Each connection has a sender of its own, a thread with a database connection of its
    own for its sent marks, while this thread builds the emails for them: building overlaps the relay's replies, and
    a sender, which only sends, waits after each round trip for one builder at most, not for other senders' builds.
    With one connection, the reports are built and sent in turn on this thread (and its database connection)."""
    if not to_send:
        return []
    queue = ClaimedQueue([report.author.pk for report in to_send], claim=claim)
    if connections == 1:
        send_in_turn(to_send, queue)
    else:
        senders = [
            threading.Thread(target=send_from_queue, args=(queue,)) for _ in range(min(connections, len(to_send)))
        ]
        for sender in senders:
            sender.start()
        try:
            build_emails(to_send, queue)
        finally:
            for sender in senders:
                sender.join()
    if queue.not_recorded:
        # A plain retry would claim these deliveries again and send them twice: say that they left.
        raise ReportsNotRecorded([*accepted, *queue.not_recorded]) from queue.failures[0]
    if queue.failures:
        raise queue.failures[0]
    return queue.sent


def send_in_turn(to_send, queue):
    """Over one SMTP connection, on this thread: each report built, then sent."""
    with get_connection() as smtp:
        for report in to_send:
            queue.add(report.author.pk, view_count_report_email(report))
            if not send_next(queue, smtp):
                break


def build_emails(to_send, queue):
    """Each report's email, built in order for the senders, until they are all built or a sender failed."""
    try:
        for report in to_send:
            if queue.stopped():
                break
            queue.add(report.author.pk, view_count_report_email(report))
    except Exception as exc:  # raised by send_while_claimed once every sender has stopped
        queue.fail(exc)
    finally:
        queue.all_added()


class ClaimedQueue:
    """An execution's emails, built in order and handed to its senders one at a time. Each is sent only if the
    execution still holds its delivery as it is about to go: the claims on every report not yet sent are renewed
    together, and again whenever less than half a lease would be left for a send. A failure on one connection stops
    every sender before its next email; what they already sent stays sent."""

    def __init__(self, author_ids, *, claim):
        self.claim = claim
        self.built, self.building = deque(), True
        self.unsent = dict.fromkeys(author_ids)  # in order: the claims to renew
        self.held, self.send_before = set(), None
        self.sent, self.not_recorded, self.failures = [], [], []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)

    def add(self, author_id, email):
        with self.changed:
            self.built.append((author_id, email))
            self.changed.notify()

    def all_added(self):
        with self.changed:
            self.building = False
            self.changed.notify_all()

    def stopped(self):
        with self.lock:
            return bool(self.failures)

    def next_email(self):
        """The next (author id, email) to send, once built; None when all are sent or a sender failed."""
        with self.changed:
            self.changed.wait_for(lambda: self.built or not self.building or self.failures)
            return self.built.popleft() if self.built and not self.failures else None

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
            with self.changed:
                self.not_recorded.append(author_id)
            self.fail(exc)
            return
        with self.lock:
            self.sent.append(author_id)

    def fail(self, exc):
        with self.changed:
            self.failures.append(exc)
            self.changed.notify_all()


def send_next(queue, smtp):
    """Send the next email over this SMTP connection if its delivery is still held, and mark it sent before the
    connection carries anything else: what a connection had accepted is recorded first. False once none is left."""
    if (item := queue.next_email()) is None:
        return False
    author_id, email = item
    if queue.still_held(author_id):
        smtp.send_messages([email])
        queue.record(author_id)
    return True


def send_from_queue(queue):
    """One sender: its own SMTP connection, and its own database connection for its renewals and sent marks; it
    sends until every email is built and sent or a sender failed."""
    try:
        with get_connection() as smtp:
            while send_next(queue, smtp):
                pass
    except Exception as exc:  # raised by send_while_claimed once every sender has stopped
        queue.fail(exc)
    finally:
        db.connection.close()


def skip_authors_no_longer_eligible(author_ids, period):
    """Turned off (or unpublished everything) between the tick and the send: their report is not sent, and an
    author left without a published post is due no more reports until they publish again."""
    if author_ids:
        skip_pending(author_ids, period, reason="no longer receives reports when it was to be sent")
        keep_schedules(author_ids)
