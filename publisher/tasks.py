import math
from datetime import date

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from quick_publisher.queueing import EMAIL_RETRY, TRANSIENT_ERRORS, email_retry_countdown

from . import reports, services


@shared_task
def publish_scheduled_posts():
    return {"published": services.publish_due_posts()}


@shared_task
def flush_view_counts():
    return {"views_flushed": services.flush_view_counts()}


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def send_due_reports():
    """The 15-minute tick (a row of the database schedule): each author whose hour has come gets their report."""
    return queue_due_reports()


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def send_view_count_report(report_date=None, kind=None, author_ids=None):
    """By hand (the command): the report of the period starting on report_date, or each author's latest one."""
    start = date.fromisoformat(report_date) if report_date else None
    return queue_report_chunks(period_start=start, kind=kind, author_ids=author_ids)


class ReportDeliveryTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        reports.mark_deliveries_failed(task_id=task_id, error=f"{type(exc).__name__}: {exc}")


@shared_task(bind=True, base=ReportDeliveryTask, **EMAIL_RETRY)
def send_view_count_reports_to_authors(self, author_ids, report_date, accepted_author_ids=(), kind=reports.DAILY):
    try:
        return reports.send_reports_to_authors(
            author_ids=author_ids,
            period_start=date.fromisoformat(report_date),
            kind=kind,
            task_id=self.request.id,
            accepted_author_ids=accepted_author_ids,
        )
    except reports.ReportsNotRecorded as exc:
        # Retried as autoretry would, telling the next attempt which reports the SMTP server already has.
        countdown = email_retry_countdown(self.request.retries)
        raise self.retry(exc=exc, kwargs={"accepted_author_ids": exc.author_ids}, countdown=countdown) from exc
    except reports.ClaimedByAnotherExecution as exc:
        # Not dropped: once that claim has lapsed, either its execution sent them or this task takes them over.
        countdown = max(1, math.ceil((exc.lapses_at - timezone.now()).total_seconds()))
        raise self.retry(exc=exc, countdown=countdown) from exc


def queue_groups(groups):
    """Tasks of up to REPORT_CHUNK_SIZE authors for each (kind, period) group of author ids. Returns how many tasks
    were queued."""
    size, tasks = settings.REPORT_CHUNK_SIZE, 0
    for (kind, start), author_ids in groups.items():
        for first in range(0, len(author_ids), size):
            send_view_count_reports_to_authors.delay(author_ids[first : first + size], start.isoformat(), kind=kind)
            tasks += 1
    return tasks


def queue_due_reports(*, now=None):
    """Queue the reports due now, chunk by chunk as each is recorded, and those stranded earlier."""
    now = now or timezone.now()
    summary = {"run": None, "authors_due": 0, "queued": 0, "skipped": 0, "chunks": 0}
    for run, chunk in reports.take_due_reports(now=now):
        summary["run"] = run.pk
        summary["authors_due"] += chunk.authors
        summary["queued"] += sum(len(ids) for ids in chunk.groups.values())
        summary["skipped"] += chunk.skipped
        summary["chunks"] += queue_groups(chunk.groups)
    stranded = reports.stranded_deliveries(now=now)
    summary["requeued"] = sum(len(ids) for ids in stranded.values())
    summary["chunks"] += queue_groups(stranded)
    return summary


def queue_report_chunks(*, period_start=None, kind=None, author_ids=None, now=None):
    """Queue one task per chunk and period of eligible authors; the workers share the run. Returns a summary.

    Without period_start, each author gets their latest complete period in their own days; without kind, their
    own frequency (with a kind, only the authors who chose it).
    """
    now = now or timezone.now()
    authors = chunks = 0
    periods = set()
    for chunk in reports.eligible_author_chunks(author_ids=author_ids, frequency=kind):
        groups = reports.latest_periods(chunk, now=now, kind=kind, period_start=period_start)
        chunks += queue_groups(groups)
        authors += len(chunk)
        periods |= {reports.period_label(k, start) for k, start in groups}
    return {"periods": sorted(periods), "authors": authors, "chunks": chunks, "queued": authors}


def queue_todays_report_now(*, author_ids):
    """The admin's "send today's report now": each chosen eligible author's latest complete period (their
    yesterday, or last week), now, unless they have had it. Returns how many were queued.

    Never today's views so far, nor any later period: that would take the delivery of a period still running,
    and the author's own hour would then skip them instead of sending the full numbers.
    """
    return queue_report_chunks(author_ids=author_ids)["queued"]


def retry_failed_deliveries(*, delivery_ids):
    """The admin's retry: failed deliveries are claimable again, by the same claim that keeps them to one."""
    groups = reports.failed_delivery_groups(delivery_ids=delivery_ids)
    queue_groups(groups)
    return sum(len(ids) for ids in groups.values())
