"""Fixtures that run the real things: a Celery worker on Redis, an SMTP server, factories."""

import contextlib
import email
import os
import socket
import threading
import time
from email import policy
from urllib.parse import urlsplit, urlunsplit

import kombu.exceptions
import pytest
import redis
import time_machine
from aiosmtpd.controller import Controller
from celery.contrib.testing import tasks as celery_testing_tasks  # noqa: F401  registers celery.ping
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from publisher import services, view_buffer
from quick_publisher.celery import app as celery_app
from quick_publisher.redis_server import free_port
from tests import private_redis as private_redis_plugin

# Celery prefers the CELERY_BROKER_URL environment variable to its configuration. The settings have read it (it is
# the broker of this run, RabbitMQ in CI's third pass); from here the configuration decides, so that a test can point
# Celery at a dead or hanging broker. Worker processes are given the configured URL explicitly.
assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
os.environ.pop("CELERY_BROKER_URL", None)


def required(what):
    """CI sets REQUIRE_POSTGRES=1, REQUIRE_BROWSER=1, REQUIRE_PRIVATE_REDIS=1 and REQUIRE_NETNS=1 where it provides
    those things: there a test that would be skipped for want of one fails instead, so a run cannot go green without
    the real thing."""
    return os.environ.get(f"REQUIRE_{what}", "").strip() not in ("", "0")


def skip_unless_required(what, reason):
    if required(what):
        pytest.fail(f"REQUIRE_{what} is set, and yet: {reason}", pytrace=False)
    pytest.skip(reason)


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


def broker_is_amqp():
    return celery_app.conf.broker_url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


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
    client = view_buffer.client()
    for pattern in ("*rl:*", "views:*", "post-pages:*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


# --- Celery ------------------------------------------------------------------------------------------


# Hostnames of the workers a test has running: `settle()` waits until they and the queue are idle.
running_workers = set()


@contextlib.contextmanager
def worker_running(hostname):
    running_workers.add(hostname)
    try:
        yield
    finally:
        running_workers.discard(hostname)


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


def queued_messages(queue=None):
    """Messages waiting in the broker's queue (not those a worker has taken), on Redis or RabbitMQ alike."""
    declared = celery_app.amqp.queues[queue or celery_app.conf.task_default_queue]
    with celery_app.connection_for_read() as conn:
        try:
            # Declared as the workers declare it (same arguments), which also answers how many messages it holds.
            return declared.bind(conn.default_channel).queue_declare().message_count
        except (*conn.connection_errors, *conn.channel_errors):
            return None  # a connection the broker closed (it restarted): unknown, ask again


def workers_idle(hostnames):
    """True when every worker answers that it runs, holds and has scheduled no task. A worker busy in a solo pool
    does not answer at all: that counts as busy."""
    if not hostnames:
        return True
    inspect = celery_app.control.inspect(destination=sorted(hostnames), timeout=1, limit=len(hostnames))
    for held in (inspect.active, inspect.reserved, inspect.scheduled):
        try:
            replies = held() or {}
        except (redis.RedisError, kombu.exceptions.KombuError, OSError):
            return False  # a connection pooled before the broker restarted: the next try opens a new one
        if set(replies) != set(hostnames) or any(replies.values()):
            return False
    return True


def wait_until_idle(hostnames=None, timeout=60):
    """Wait until the queue is empty and every running worker idle, twice in a row: then no task is left that could
    still send anything (a retry is queued, or scheduled on a worker, before the task that retries finishes)."""
    hostnames = set(running_workers if hostnames is None else hostnames)
    calm = 0

    def idle():
        nonlocal calm
        quiet = queued_messages() == 0 and workers_idle(hostnames) and queued_messages() == 0
        calm = calm + 1 if quiet else 0
        return calm >= 2

    wait_until(idle, timeout=timeout, interval=0.2)


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


# --- SMTP --------------------------------------------------------------------------------------------


class RecordingHandler:
    """Keeps every message; can be told to refuse the next few, as a struggling SMTP server would."""

    def __init__(self):
        self.messages = []
        self.refusals_left = 0
        self.refused = 0
        self.received = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self.received:
            if self.refusals_left > 0:
                self.refusals_left -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            self.messages.append(message)
            self.received.notify_all()
        return "250 OK"


class SMTPServer:
    def __init__(self, handler, port):
        self.handler = handler
        self.port = port

    @property
    def messages(self):
        return list(self.handler.messages)

    def refuse_next(self, count):
        self.handler.refusals_left = count

    def wait_for(self, count, timeout=20):
        """Wait until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.handler.received:
            while len(self.handler.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} email(s), got {len(self.handler.messages)}")
                self.handler.received.wait(remaining)
        return self.messages

    def settle(self, timeout=60):
        """Wait until nothing more can arrive (the broker's queue empty and every running worker idle); return
        everything received. Duplicates, if any, are among it: no fixed sleep that a slow machine could outlast."""
        wait_until_idle(timeout=timeout)
        return self.messages

    def messages_to(self, address):
        return [m for m in self.messages if m["To"] == address]


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


def text_body(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def html_body(message):
    return message.get_body(preferencelist=("html",)).get_content()


def _point_celery_at(url):
    celery_app.conf.broker_url = url
    celery_app.close()  # drop pooled connections to the old broker
    del celery_app.amqp  # and its producers (a cached property): the next publish makes them for the new broker


def broker_url_at(port):
    """The configured broker (Redis or RabbitMQ, its credentials and database or vhost) at another local port."""
    parts = urlsplit(celery_app.conf.broker_url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"))


@contextlib.contextmanager
def dead_broker():
    """Celery publishes to a port where nothing listens, as when the broker is down."""
    original = celery_app.conf.broker_url
    _point_celery_at(broker_url_at(free_port()))
    try:
        yield
    finally:
        _point_celery_at(original)


@pytest.fixture
def broker_at_dead_port():
    with dead_broker():
        yield


@pytest.fixture
def hanging_broker():
    """Celery publishes to a broker that hangs: the connection is made (the kernel completes it for a listening
    socket), then nothing ever answers, as with a stalled server or a network partition."""
    original = celery_app.conf.broker_url
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:  # never accepts, never answers
        _point_celery_at(broker_url_at(listener.getsockname()[1]))
        try:
            yield
        finally:
            _point_celery_at(original)


class Timing:
    """Wall time of a block, and how much of it this thread spent on the CPU; the rest it spent waiting."""

    wall = cpu = 0.0

    @property
    def waited(self):
        return max(0.0, self.wall - self.cpu)

    def __str__(self):
        return f"{self.wall:.2f}s, of which {self.waited:.2f}s waiting and {self.cpu:.2f}s on the CPU"


# What a request may wait for when Redis is down or hangs: the cache and the broker give up after
# REDIS_SOCKET_TIMEOUT each (0.5 s); the rest is for the scheduler of a busy shared machine. Waiting for the
# broker's own socket timeout (CELERY_BROKER_SOCKET_TIMEOUT, 5 s), a retry loop or SMTP (EMAIL_TIMEOUT, 10 s)
# exceeds it. Measured as waiting time, not wall time: hashing a password on a loaded machine takes what it takes.
def request_wait_budget(timeouts=2, slack=0.5):
    from django.conf import settings

    return timeouts * settings.REDIS_SOCKET_TIMEOUT + slack


@contextlib.contextmanager
def timed():
    """with timed() as t: ... then t.wall, t.cpu and t.waited (wall time not spent on this thread's CPU)."""
    timing = Timing()
    wall, cpu = time.monotonic(), time.thread_time()
    try:
        yield timing
    finally:
        timing.wall, timing.cpu = time.monotonic() - wall, time.thread_time() - cpu


@pytest.fixture
def clock_within_one_rate_window():
    """django-ratelimit counts in fixed windows (a minute for logins): a test whose requests straddled a window's end
    would see its count start again. The clock stands still instead, so that all of a test's requests fall in one."""
    with time_machine.travel(time.time(), tick=False):
        yield


def record_view(post, *, day=None):
    """Count one view of the post as its page does (in Redis; in the database when Redis is unavailable) on the
    author's day, or `day`, and return the views its page would show."""
    day = day or services.authors_today(post.author.report_time_zone)
    try:
        post_views = view_buffer.count_view(post.pk, day)
    except redis.RedisError:
        return services.count_view_in_database(post.pk, day)
    return services.views_shown(post_views, post_id=post.pk, views_in_database=post.view_count)


def wait_until(predicate, timeout=20, interval=0.05):
    """Poll until predicate() is truthy (work done by the worker thread); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        time.sleep(interval)
