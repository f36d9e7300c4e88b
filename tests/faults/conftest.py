"""Fixtures that break things on purpose, for real (their support code is in tests/support).

- `smtp`: the suite's recording SMTP server (aiosmtpd), which can also drop sessions, hold a sender at a chosen
  message, and be stopped and started again on the same port (tests.support.smtp.FaultySMTPServer).
- `worker_processes`: Celery workers in subprocesses (`celery -A quick_publisher worker`) on the test database,
  the session's Redis and that SMTP server, which a test can SIGKILL (tests.support.processes.WorkerProcess).
- `network_namespaces`: hosts of their own for workers (`ip netns`, a veth pair each), whose link a test takes down
  (tests.support.netns.NetworkNamespace).

A proxy a worker reaches PostgreSQL through, which a test can cut, is tests.support.proxy.TcpProxy.
"""

import os

import pytest
import redis
from django.conf import settings

from tests.support.brokers import broker_is_amqp
from tests.support.netns import NetworkNamespace, unused_subnet
from tests.support.processes import WorkerProcess, database_url
from tests.support.project import celery_app, free_port
from tests.support.requirements import skip_unless_required
from tests.support.smtp import FaultySMTPHandler, FaultySMTPServer

# --- SMTP --------------------------------------------------------------------------------------------


@pytest.fixture
def smtp(settings):
    """A recording SMTP server that misbehaves on cue; wait_for/settle/refuse_next as in `smtp_server`."""
    server = FaultySMTPServer(FaultySMTPHandler(), free_port())
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    try:
        yield server
    finally:
        server.open_all_gates()
        server.stop()


# --- Workers in subprocesses -------------------------------------------------------------------------


@pytest.fixture
def worker_processes(transactional_db, tmp_path):
    """Start workers with start_worker(name, pool=..., concurrency=..., prefix=..., **environment); all are killed
    at the end. prefix: what runs the worker command (NetworkNamespace.exec_prefix runs it in a namespace).

    No in-process worker may run alongside (it would take their tasks): do not use `celery_worker` with this.
    """
    # Connections pooled before an earlier test restarted Redis are dead: start from fresh ones.
    celery_app.close()
    celery_app.amqp._producer_pool = None
    celery_app.control.purge()
    workers = []

    def start_worker(name, *, pool="solo", concurrency=1, prefix=(), **environment):
        env = {
            **os.environ,  # pytest-env's settings (DEBUG=0, SECRET_KEY, EMAIL_RETRY_*, SITE_URL) and REDIS_URL
            "ENV_FILE": "/dev/null",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": celery_app.conf.broker_url,
            "EMAIL_BACKEND": settings.EMAIL_BACKEND,
            "EMAIL_HOST": settings.EMAIL_HOST,
            "EMAIL_PORT": str(settings.EMAIL_PORT),
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in environment.items()},
        }
        worker = WorkerProcess(
            name, pool=pool, concurrency=concurrency, env=env, log_path=tmp_path / f"{name}.log", prefix=prefix
        )
        workers.append(worker)
        return worker.start()

    yield start_worker
    for worker in workers:
        worker.kill()
    # Nothing of this test may reach the next one: queued tasks, and tasks a killed worker held unacknowledged.
    celery_app.control.purge()
    if not broker_is_amqp():  # RabbitMQ requeued them when the workers' connections closed; purge() took them
        broker = redis.Redis.from_url(celery_app.conf.broker_url)
        broker.delete("unacked", "unacked_index")


# --- A worker host cut off the network --------------------------------------------------------------


@pytest.fixture
def network_namespaces():
    """network_namespaces(count): that many NetworkNamespaces, deleted at the end (their links and forwarders too).
    Skipped where namespaces cannot be made (not root, no CAP_NET_ADMIN, no iproute2)."""
    made = []

    def make(count):
        for index in range(count):
            namespace = NetworkNamespace(f"qp{os.getpid()}w{index + 1}", unused_subnet())
            try:
                namespace.create()
            except OSError as exc:
                skip_unless_required("NETNS", f"cannot make a network namespace here (needs root and iproute2): {exc}")
            made.append(namespace)
        return made[-count:]

    yield make
    for namespace in made:
        namespace.delete()
