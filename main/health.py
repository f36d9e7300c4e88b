"""What /healthz asks: can we reach the database and the broker right now?

The answer is public: it says only which check failed. Why it failed (the exception, which names hosts and ports)
goes to the log."""

import logging

from django.db import connection

from quick_publisher.celery import app
from quick_publisher.queueing import request_publish_options

logger = logging.getLogger(__name__)


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker():
    """Whichever broker is configured (Redis or RabbitMQ), with a request's short timeouts: a broker that hangs
    fails the check in about a second instead of holding it for the broker's socket timeout."""
    with app.connection_for_write(transport_options=request_publish_options(app.conf.broker_url)) as conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
        except Exception as exc:  # where it was looked for, for the log (not every client's error says)
            raise ConnectionError(f"{conn.as_uri()}: {type(exc).__name__}: {exc}") from exc


CHECKS = (("database", check_database), ("broker", check_broker))


def failed_checks():
    """The names of the checks that failed; each failure is logged with its detail, none is raised."""
    failed = []
    for name, check in CHECKS:
        try:
            check()
        except Exception as exc:  # any failure is reported, none is raised
            logger.warning("Health check: the %s is unreachable: %s: %s", name, type(exc).__name__, exc)
            failed.append(name)
    return failed
