"""The report tasks, and queueing them: the tick's, a send by hand, a retry. Each send task takes a chunk of
authors of one period."""

import math
from datetime import date

from celery import Task, shared_task
from celery.signals import worker_init
from django.conf import settings
from django.utils import timezone

from quick_publisher.queueing import EMAIL_RETRY, TRANSIENT_ERRORS, email_retry_countdown

from ..models import ReportDelivery
from .claims import mark_failed
from .eligibility import eligible_author_chunks, latest_periods
from .periods import AuthorsByPeriod, Period
from .sending import ClaimedByAnotherExecution, ReportsNotRecorded, send_reports_to_authors
from .tick import stranded_deliveries, take_due_reports


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def queue_due_reports():
    """The 15-minute tick (a row of the database schedule): queues the report of each author whose hour has come."""
    return queue_reports_due()


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def queue_view_count_reports(report_date=None, kind=None, author_ids=None):
    """By hand (the command): the report of the period starting on report_date, or each author's latest one."""
    start = date.fromisoformat(report_date) if report_date else None
    return queue_latest_reports(period_start=start, kind=kind, author_ids=author_ids)


# Tasks this worker runs at once (its pool's processes or threads), set as it starts; the processes of a prefork
# pool are forked after it, and inherit it.
WORKER_CONCURRENCY = {"tasks": 1}


@worker_init.connect
def remember_worker_concurrency(sender, **kwargs):
    WORKER_CONCURRENCY["tasks"] = sender.concurrency


def smtp_connections_per_task():
    """A worker host's REPORT_SMTP_CONNECTIONS shared among the tasks its worker runs at once."""
    return max(1, settings.REPORT_SMTP_CONNECTIONS // WORKER_CONCURRENCY["tasks"])


class ReportDeliveryTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        mark_failed(task_id=task_id, error=f"{type(exc).__name__}: {exc}")


# Named as messages already queued name it.
@shared_task(
    bind=True, base=ReportDeliveryTask, name="publisher.tasks.send_view_count_reports_to_authors", **EMAIL_RETRY
)
def send_view_count_reports_to_authors(self, author_ids, report_date, accepted_author_ids=(), kind="daily"):
    try:
        return send_reports_to_authors(
            author_ids=author_ids,
            period=Period.of(kind, report_date),
            task_id=self.request.id,
            accepted_author_ids=accepted_author_ids,
            # Applied in the calling process (no worker): on its thread and database connection.
            connections=1 if self.request.is_eager else smtp_connections_per_task(),
        ).as_result()
    except ReportsNotRecorded as exc:
        # Retried as autoretry would, telling the next attempt which reports the SMTP server already has.
        countdown = email_retry_countdown(self.request.retries)
        raise self.retry(exc=exc, kwargs={"accepted_author_ids": exc.author_ids}, countdown=countdown) from exc
    except ClaimedByAnotherExecution as exc:
        # Not dropped: once that claim has lapsed, either its execution sent them or this task takes them over.
        countdown = max(1, math.ceil((exc.lapses_at - timezone.now()).total_seconds()))
        raise self.retry(exc=exc, countdown=countdown) from exc


def queue_sends(groups):
    """A send task of up to REPORT_CHUNK_SIZE authors for each period's authors. Returns how many were queued."""
    size, tasks = settings.REPORT_CHUNK_SIZE, 0
    for period, author_ids in groups.items():
        for first in range(0, len(author_ids), size):
            send_view_count_reports_to_authors.delay(
                author_ids[first : first + size], period.start.isoformat(), kind=period.kind
            )
            tasks += 1
    return tasks


def queue_reports_due(*, now=None):
    """Queue the reports due now, chunk by chunk as each is recorded, and those stranded earlier."""
    now = now or timezone.now()
    summary = {"run": None, "authors_due": 0, "queued": 0, "skipped": 0, "chunks": 0}
    for run, chunk in take_due_reports(now=now):
        summary["run"] = run.pk
        summary["authors_due"] += chunk.authors
        summary["queued"] += chunk.groups.authors()
        summary["skipped"] += chunk.skipped
        summary["chunks"] += queue_sends(chunk.groups)
    stranded = stranded_deliveries(now=now)
    summary["requeued"] = stranded.authors()
    summary["chunks"] += queue_sends(stranded)
    return summary


def queue_latest_reports(*, period_start=None, kind=None, author_ids=None, now=None):
    """Queue one task per chunk and period of eligible authors; the workers share the run. Returns a summary.

    Without period_start, each author gets their latest complete period in their own days;
    without kind, their own frequency (with a kind, only the authors who chose it). Never the period still running:
    that would take its delivery, and the author's own hour would then skip them instead of sending the full numbers.
    """
    now = now or timezone.now()
    authors = chunks = 0
    periods = set()
    for chunk in eligible_author_chunks(author_ids=author_ids, frequency=kind):
        groups = latest_periods(chunk, now=now, kind=kind, period_start=period_start)
        chunks += queue_sends(groups)
        authors += len(chunk)
        periods |= groups.labels()
    return {"periods": sorted(periods), "authors": authors, "chunks": chunks, "queued": authors}


def retry_failed_deliveries(*, delivery_ids):
    """The admin's retry: failed deliveries are claimable again, by the same claim that keeps them to one."""
    failed = ReportDelivery.objects.filter(pk__in=delivery_ids, status=ReportDelivery.Status.FAILED)
    groups = AuthorsByPeriod.from_rows(failed.values_list("kind", "period_start", "author_id"))
    queue_sends(groups)
    return groups.authors()
