"""The periodic tasks, stored in the database (django-celery-beat) and edited in the admin from then on.

ensure_periodic_tasks() runs after every migrate. It creates a missing row and never touches an existing one,
so a time or an on/off switch changed in the admin survives restarts and deploys.
"""

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

DUE_REPORTS = "Send due view-count reports"
FLUSH_VIEWS = "Flush view counts"
VERIFICATION_SWEEP = "Resend missing verification emails"
PUBLISH_SCHEDULED = "Publish scheduled posts"
RESULT_CLEANUP = "Delete expired task results"
IMAGE_SWEEP = "Sweep image files"
PAGE_INVALIDATIONS = "Replay lost page invalidations"


def _every(seconds):
    schedule, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    return {"interval": schedule}


def _daily_at(hour, minute=0):
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute=str(minute),
        hour=str(hour),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    return {"crontab": schedule}


def ensure_periodic_tasks():
    wanted = {
        # Every 15 minutes, so that authors in :30 and :45 zones get theirs on time.
        DUE_REPORTS: (
            "publisher.reports.tasks.queue_due_reports",
            _every(900),
            "Every 15 minutes: queues the report of each author whose hour has come, once per period.",
        ),
        PUBLISH_SCHEDULED: (
            "publisher.tasks.publish_scheduled_posts",
            _every(60),
            "Publishes the scheduled posts whose time has come.",
        ),
        FLUSH_VIEWS: (
            "publisher.tasks.flush_view_counts",
            _every(60),
            "Moves page views buffered in Redis into the database.",
        ),
        PAGE_INVALIDATIONS: (
            "publisher.tasks.replay_lost_page_invalidations",
            _every(60),
            "Reads every cached post page again after a change that Redis was unreachable for.",
        ),
        VERIFICATION_SWEEP: (
            "main.tasks.resend_missing_verifications",
            _every(300),
            "Mails the verification link to users whose sign-up email never left.",
        ),
        IMAGE_SWEEP: (
            "publisher.images.tasks.sweep_images",
            _daily_at(3),
            "Deletes image files no image refers to, and queues the renditions of images that still have none.",
        ),
        RESULT_CLEANUP: (
            "quick_publisher.tasks.delete_expired_task_results",
            _daily_at(4),
            "Deletes stored task results older than TASK_RESULT_MAX_AGE_DAYS.",
        ),
    }
    for name, (task, schedule, description) in wanted.items():
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": task, "description": description, **schedule})
