from datetime import date

from celery import Task, shared_task

from quick_publisher.queueing import EMAIL_RETRY, TRANSIENT_ERRORS, email_retry_countdown

from . import reports, services


@shared_task
def publish_scheduled_posts():
    return {"published": services.publish_due_posts()}


@shared_task
def flush_view_counts():
    return {"views_flushed": services.flush_view_counts()}


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def send_view_count_report(report_date=None):
    day = date.fromisoformat(report_date) if report_date else reports.default_report_date()
    return queue_report_chunks(report_date=day)


class ReportDeliveryTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        reports.mark_deliveries_failed(task_id=task_id, error=f"{type(exc).__name__}: {exc}")


@shared_task(bind=True, base=ReportDeliveryTask, **EMAIL_RETRY)
def send_view_count_reports_to_authors(self, author_ids, report_date, accepted_author_ids=()):
    try:
        return reports.send_reports_to_authors(
            author_ids=author_ids,
            report_date=date.fromisoformat(report_date),
            task_id=self.request.id,
            accepted_author_ids=accepted_author_ids,
        )
    except reports.ReportsNotRecorded as exc:
        # Retried as autoretry would, telling the next attempt which reports the SMTP server already has.
        countdown = email_retry_countdown(self.request.retries)
        raise self.retry(exc=exc, kwargs={"accepted_author_ids": exc.author_ids}, countdown=countdown) from exc


def queue_report_chunks(*, report_date, author_ids=None):
    """Queue one task per chunk of eligible authors; the workers share the run. Returns a summary."""
    authors = chunks = 0
    for chunk in reports.eligible_author_id_chunks(author_ids=author_ids):
        send_view_count_reports_to_authors.delay(chunk, report_date.isoformat())
        authors += len(chunk)
        chunks += 1
    return {"date": report_date.isoformat(), "authors": authors, "chunks": chunks, "queued": authors}


def queue_todays_report_now(*, author_ids):
    """The admin's "send today's report now": the report the daily run sends today (yesterday's views), now,
    to the chosen eligible authors who have not had it yet. Returns how many were queued.

    Not a report of today's views so far: that would take the author's one delivery for today's date, and
    tomorrow's run would then skip them instead of sending the full day's numbers.
    """
    return queue_report_chunks(report_date=reports.default_report_date(), author_ids=author_ids)["queued"]
