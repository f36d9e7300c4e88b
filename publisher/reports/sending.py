"""Sending a chunk of reports: to each author still eligible who has not had it, once, on one SMTP connection."""

from dataclasses import dataclass

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


def send_reports_to_authors(*, author_ids, period, task_id, accepted_author_ids=()):
    """Deliver the period's report to each of these authors who is still eligible and has not had it yet.

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
        sent = accepted + send_while_claimed(to_send, claim=claim, accepted=accepted)
    except Exception:
        claim.release()
        raise
    lapses_at = claim.others_lapse_at(eligible)
    if lapses_at:
        raise ClaimedByAnotherExecution(lapses_at)
    return SendSummary(period=period, authors=len(author_ids), sent_to=sent)


def send_while_claimed(to_send, *, claim, accepted):
    """Send each report whose delivery this execution still holds, on one SMTP connection; the authors sent to.
    The claims are renewed together, and again whenever less than half a lease would be left for a send."""
    sent, held, send_before = [], set(), None
    if not to_send:
        return sent
    with get_connection() as connection:
        for number, report in enumerate(to_send):
            author_id = report.author.pk
            if send_before is None or timezone.now() >= send_before:
                held, send_before = claim.renew([later.author.pk for later in to_send[number:]])
            if author_id not in held:
                continue  # a successor took it over after this execution's lease lapsed
            view_count_report_email(report, connection=connection).send()
            try:
                claim.mark_sent(author_id)
            except (OperationalError, InterfaceError) as exc:
                # A plain retry would claim this delivery again and send it twice: say that it left.
                raise ReportsNotRecorded([*accepted, author_id]) from exc
            sent.append(author_id)
    return sent


def skip_authors_no_longer_eligible(author_ids, period):
    """Turned off (or unpublished everything) between the tick and the send: their report is not sent, and an
    author left without a published post is due no more reports until they publish again."""
    if author_ids:
        skip_pending(author_ids, period, reason="no longer receives reports when it was to be sent")
        keep_schedules(author_ids)
