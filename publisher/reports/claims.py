"""Claims that keep each report to one email: an execution of a send task claims its deliveries, renews the claims
before sending, marks each sent after the SMTP server accepts it, and lets go of what it did not send.

A claim is one execution's (its token): a redelivered message keeps its task id, so the task id alone cannot tell
two executions apart. A claim lapses REPORT_CLAIM_LEASE seconds after it was made or renewed; another execution
takes a delivery over only then.
"""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Min, Q
from django.utils import timezone

from ..models import ReportDelivery

Status = ReportDelivery.Status


def lease():
    return timedelta(seconds=settings.REPORT_CLAIM_LEASE)


def deliveries_in(period):
    return ReportDelivery.objects.filter(kind=period.kind, period_start=period.start)


def deliveries_of(author_ids, period):
    return deliveries_in(period).filter(author_id__in=author_ids)


@dataclass(frozen=True)
class Claim:
    """One execution's claim on the deliveries of one period."""

    period: object  # a reports.periods.Period
    task_id: str
    token: str = field(default_factory=lambda: secrets.token_hex(16))

    def take(self, author_ids):
        """Claim these authors' deliveries, and return the author ids claimed.

        Claimable: never tried, failed before, let go by an execution that stopped early, or held by a claim that
        has lapsed (its execution died, or is cut off and will find the claim gone when it renews it). A live claim
        is left alone, even one of this very task: a redelivered message keeps its task id while the worker that
        took it first may still be sending. Skipped and sent ones never are.
        """
        ReportDelivery.objects.bulk_create(
            [ReportDelivery(author_id=pk, kind=self.period.kind, period_start=self.period.start) for pk in author_ids],
            ignore_conflicts=True,
        )
        now = timezone.now()
        claimable = Q(status__in=[Status.PENDING, Status.FAILED]) | Q(
            Q(claimed_at__isnull=True) | Q(claimed_at__lte=now - lease()), status=Status.SENDING
        )
        with transaction.atomic():
            claimed = list(
                deliveries_of(author_ids, self.period)
                .select_for_update(skip_locked=True)
                .filter(claimable)
                .values_list("author_id", flat=True)
            )
            deliveries_of(claimed, self.period).update(
                status=Status.SENDING, task_id=self.task_id, claim_token=self.token, claimed_at=now, error=""
            )
        return claimed

    def held(self, author_ids):
        return deliveries_of(author_ids, self.period).filter(status=Status.SENDING, claim_token=self.token)

    def renew(self, author_ids):
        """Before sending: which of these deliveries this execution still holds, their leases renewed from now, and
        until when they may be sent (while at least half a lease is left).

        One conditional UPDATE: a successor that took a delivery over holds it under its own token, or has sent it,
        and then it is not sent here; only when some are no longer held does one more query say which. The lease
        runs from before the UPDATE left, so an answer held up by the network counts against it: with less than
        half a lease left, the claims are renewed again.
        """
        held = self.held(author_ids)
        while True:
            renewed_at = timezone.now()
            renewed = held.update(claimed_at=renewed_at)
            if timezone.now() - renewed_at < lease() / 2:
                break
        held_ids = set(author_ids) if renewed == len(set(author_ids)) else set(held.values_list("author_id", flat=True))
        return held_ids, renewed_at + lease() / 2

    @cached_property
    def period_deliveries(self):
        """Every author's delivery of this period: built once, each sent mark narrowing it to one author."""
        return deliveries_in(self.period)

    def mark_sent(self, author_id):
        # Whoever holds the claim: the SMTP server has the report, and a renewal by anyone else now fails.
        self.period_deliveries.filter(author_id=author_id).update(status=Status.SENT, sent_at=timezone.now())

    def drop(self, author_ids):
        """Authors with nothing to report (their last post was unpublished since they were found eligible): no
        report, and no claim left behind as "sending" (should they publish again, a send by hand may mail them)."""
        if author_ids:
            self.held(author_ids).delete()

    def release(self):
        """An execution that stops early (the SMTP server failed it, and its task will retry) lets its claims go at
        once, so that the next attempt need not wait for them to lapse. With the database unreachable, they lapse."""
        try:
            ReportDelivery.objects.filter(claim_token=self.token, status=Status.SENDING).update(claimed_at=None)
        except (OperationalError, InterfaceError):
            pass

    def others_lapse_at(self, author_ids):
        """When the first of the claims that another execution of this very task holds on these deliveries lapses
        (None if there are none): this execution tries again then."""
        others = (
            deliveries_of(author_ids, self.period)
            .filter(status=Status.SENDING, task_id=self.task_id, claimed_at__isnull=False)
            .exclude(claim_token=self.token)
        )
        first = others.aggregate(first=Min("claimed_at"))["first"]
        return first + lease() if first else None


def skip_pending(author_ids, period, *, reason):
    return deliveries_of(author_ids, period).filter(status=Status.PENDING).update(status=Status.SKIPPED, error=reason)


def mark_failed(*, task_id, error):
    """Once a task gives up, the deliveries it still held are visibly failed (a later run may retry them)."""
    return ReportDelivery.objects.filter(task_id=task_id, status=Status.SENDING).update(
        status=Status.FAILED, error=error[:2000]
    )
