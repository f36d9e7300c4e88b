from datetime import date

from celery import Task, shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings
from django.utils import timezone
from django_celery_results.models import TaskResult

from main.queueing import EMAIL_RETRY, TRANSIENT_ERRORS

from . import reports, services


@shared_task
def flush_view_counts():
    return {"views_flushed": services.flush_view_counts()}


@shared_task(autoretry_for=TRANSIENT_ERRORS, retry_backoff=True, max_retries=5)
def send_view_count_report(report_date=None):
    day = date.fromisoformat(report_date) if report_date else reports.default_report_date()
    return reports.queue_daily_reports(report_date=day)


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
        countdown = get_exponential_backoff_interval(
            self.retry_backoff, self.request.retries, self.retry_backoff_max, self.retry_jitter
        )
        raise self.retry(exc=exc, kwargs={"accepted_author_ids": exc.author_ids}, countdown=countdown)


@shared_task
def delete_expired_task_results():
    deleted, _ = TaskResult.objects.filter(date_done__lt=timezone.now() - settings.TASK_RESULT_MAX_AGE).delete()
    return {"deleted": deleted}
