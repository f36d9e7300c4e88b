"""What /healthz asks: can we reach the database and the broker right now?"""

from django.db import connection

from quick_publisher.celery import app
from quick_publisher.queueing import request_publish_options


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker():
    """Whichever broker is configured (Redis or RabbitMQ), with a request's short timeouts: a broker that hangs
    fails the check in about a second instead of holding it for the broker's socket timeout."""
    with app.connection_for_write(transport_options=request_publish_options(app.conf.broker_url)) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)


def failed_checks():
    failures = {}
    for name, check in (("database", check_database), ("broker", check_broker)):
        try:
            check()
        except Exception as exc:  # any failure is reported, none is raised
            failures[name] = f"{type(exc).__name__}: {exc}"[:300]
    return failures
