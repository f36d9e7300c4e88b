from smtplib import SMTPException

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

# Worth retrying: the SMTP server or the database being away for a while.
TRANSIENT_ERRORS = (SMTPException, OSError, OperationalError, InterfaceError)
# Options for tasks that send email: exponential backoff with jitter, up to a limit.
EMAIL_RETRY = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": settings.EMAIL_RETRY_BACKOFF,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": settings.EMAIL_MAX_RETRIES,
}


def queue_after_commit(task, *args, **kwargs):
    """Queue a Celery task once the current transaction commits.

    robust=True: if the broker is down the request still succeeds; the periodic sweepers pick the work up.
    """

    def queue_task():
        task.delay(*args, **kwargs)

    queue_task.__qualname__ = f"queue_task({task.name})"
    transaction.on_commit(queue_task, robust=True)
