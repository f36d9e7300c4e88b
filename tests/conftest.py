"""Fixtures that run the real things: a Celery worker on Redis, an SMTP server, a broker that is down or hangs; and
the suite's hooks. Their support code is in tests/support."""

import os
import time

import pytest
import time_machine
from aiosmtpd.controller import Controller
from celery.contrib.testing import tasks as celery_testing_tasks  # noqa: F401  registers celery.ping
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from tests import private_redis as private_redis_plugin
from tests.support.brokers import broker_is_amqp, dead_broker, stalled_broker, worker_running
from tests.support.project import celery_app, free_port
from tests.support.redis_state import clear_shared_state, forget_process_views
from tests.support.requirements import required, skip_unless_required
from tests.support.smtp import RecordingHandler, SMTPServer

# Celery prefers the CELERY_BROKER_URL environment variable to its configuration. The settings have read it (it is
# the broker of this run, RabbitMQ in CI's third pass); from here the configuration decides, so that a test can point
# Celery at a dead or hanging broker. Worker processes are given the configured URL explicitly.
assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
os.environ.pop("CELERY_BROKER_URL", None)
# Every task module now, as a worker would find it: pointing Celery at another broker (dead_broker, stalled_broker)
# closes the app, which takes it out of the apps that a shared task registers with when its module is imported
# later; a worker started after that would refuse the tasks of any module imported since.
celery_app.autodiscover_tasks(force=True)


def pytest_sessionstart(session):
    if required("POSTGRES") and connection.vendor != "postgresql":
        raise pytest.UsageError(f"REQUIRE_POSTGRES is set but the database is {connection.vendor} (set DATABASE_URL)")


# Tests that use these involve the broker: CI runs them again on RabbitMQ (`-m broker`, README "Tests").
BROKER_FIXTURES = {"celery_worker", "worker_processes", "broker_at_dead_port", "hanging_broker", "eight_worker_threads"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        in_faults = item.path.parent.name == "faults"  # some take a worker later, with request.getfixturevalue
        if in_faults or BROKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        skip_unless_required(
            "POSTGRES", "needs PostgreSQL (set DATABASE_URL): SQLite serializes every write, so it proves nothing here"
        )


@pytest.fixture(autouse=True)
def fresh_redis_state():
    """Rate-limit counters, buffered views and shared cached pages from one test must not leak into the next.

    Only those keys: flushing the database would also drop the broker's queue bindings.
    """
    clear_shared_state()
    yield
    forget_process_views()


# --- Celery ------------------------------------------------------------------------------------------


@pytest.fixture
def celery_worker(transactional_db):
    """A real worker thread consuming from the session's Redis; tasks see committed data only."""
    celery_app.control.purge()  # nothing left over from earlier tests
    # On RabbitMQ a solo pool in a thread of this process takes each task only ~10 s after it is queued (its event
    # loop waits out a poll); a pool of one thread takes it at once and runs tasks one at a time all the same.
    pool = "threads" if broker_is_amqp() else "solo"
    with start_worker(celery_app, pool=pool, concurrency=1, perform_ping_check=True, shutdown_timeout=30) as worker:
        with worker_running(worker.hostname):
            yield worker
    celery_app.control.purge()


@pytest.fixture
def private_redis():
    redis_server = private_redis_plugin.private_redis()
    if redis_server is None:
        skip_unless_required(
            "PRIVATE_REDIS", "stops and starts Redis: only with the session's private Redis (REDIS_URL unset)"
        )
    yield redis_server
    if redis_server.process.poll() is not None:
        redis_server.start()


@pytest.fixture
def broker_at_dead_port():
    with dead_broker():
        yield


@pytest.fixture
def hanging_broker():
    """Celery publishes to a broker that hangs: the connection is made (the kernel completes it for a listening
    socket), then nothing ever answers, as with a stalled server or a network partition."""
    with stalled_broker():
        yield


# --- SMTP --------------------------------------------------------------------------------------------


@pytest.fixture
def smtp_server(settings):
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    try:
        yield SMTPServer(handler, port)
    finally:
        controller.stop()


# --- The clock ---------------------------------------------------------------------------------------


@pytest.fixture
def clock_within_one_rate_window():
    """django-ratelimit counts in fixed windows (a minute for logins): a test whose requests straddled a window's end
    would see its count start again. The clock stands still instead, so that all of a test's requests fall in one."""
    with time_machine.travel(time.time(), tick=False):
        yield
