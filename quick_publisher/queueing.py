"""Queueing Celery tasks from a request, and the retry policy of the tasks that send email (both apps)."""

import random
from smtplib import SMTPException

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from . import broker_urls

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


def email_retry_countdown(retries):
    """Seconds before the next try of an email task that retries itself, as EMAIL_RETRY spaces autoretries:
    exponential, capped, with full jitter."""
    ceiling = min(EMAIL_RETRY["retry_backoff_max"], EMAIL_RETRY["retry_backoff"] * 2**retries)
    return random.randint(0, ceiling)


# A request publishes once, on a connection with short timeouts (REDIS_SOCKET_TIMEOUT, whichever the broker): a
# broker that hangs (connections open, no answer) must not hold the request for the broker's socket timeout, twice.
REQUEST_PUBLISH_OPTIONS = {
    "redis": {
        "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "max_retries": 0,
    },
    # py-amqp: the connection and its handshake, then each read (the publisher confirm) and write.
    "amqp": {
        "connect_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "read_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "write_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "confirm_publish": True,
        "max_retries": 0,
    },
}


def request_publish_options(broker_url):
    return REQUEST_PUBLISH_OPTIONS["amqp" if broker_urls.is_amqp(broker_url) else "redis"]


def queue_after_commit(task, *args, **kwargs):
    """Queue a Celery task once the current transaction commits.

    robust=True: if the broker is down the request still succeeds; the periodic sweepers pick the work up.
    """

    def queue_task():
        options = request_publish_options(task.app.conf.broker_url)
        with task.app.connection_for_write(transport_options=options) as connection:
            task.apply_async(args, kwargs, connection=connection, retry=False)

    queue_task.__qualname__ = f"queue_task({task.name})"
    transaction.on_commit(queue_task, robust=True)
