"""The Celery broker and the workers a test has consuming from it: which broker this run uses (broker_is_amqp), the
workers running (worker_running), the queue's messages and the workers' idleness (queued_messages, workers_idle,
wait_until_idle), and a broker that is down (dead_broker) or hangs (stalled_broker)."""

import contextlib
import socket
from urllib.parse import urlsplit, urlunsplit

import kombu.exceptions
import redis

from tests.support.project import celery_app, free_port, is_amqp
from tests.support.waiting import wait_until


def broker_is_amqp():
    return is_amqp(celery_app.conf.broker_url)


# --- Workers and the queue ---------------------------------------------------------------------------


# Hostnames of the workers a test has running: `settle()` waits until they and the queue are idle.
running_workers = set()


@contextlib.contextmanager
def worker_running(hostname):
    running_workers.add(hostname)
    try:
        yield
    finally:
        running_workers.discard(hostname)


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


# --- A broker that is down, or hangs -----------------------------------------------------------------


def point_celery_at(url):
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
    point_celery_at(broker_url_at(free_port()))
    try:
        yield
    finally:
        point_celery_at(original)


@contextlib.contextmanager
def stalled_broker():
    """Celery publishes to a broker that hangs: the connection is made (the kernel completes it for a listening
    socket), then nothing ever answers, as with a stalled server or a network partition."""
    original = celery_app.conf.broker_url
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:  # never accepts, never answers
        point_celery_at(broker_url_at(listener.getsockname()[1]))
        try:
            yield
        finally:
            point_celery_at(original)
