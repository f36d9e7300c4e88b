"""Fixtures that break things on purpose, for real.

- `smtp`: the suite's recording SMTP server (aiosmtpd), which can also drop sessions, hold a sender at a chosen
  message, and be stopped and started again on the same port.
- `worker_processes`: Celery workers in subprocesses (`celery -A quick_publisher worker`) on the test database,
  the session's Redis and that SMTP server, which a test can SIGKILL.
- `TcpProxy`: a proxy a worker reaches PostgreSQL through, which a test can cut.
- `network_namespaces`: hosts of their own for workers (`ip netns`, a veth pair each), whose link a test takes down.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import kombu.exceptions
import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import connection

from quick_publisher.celery import app as celery_app
from quick_publisher.redis_server import free_port
from tests.conftest import RecordingHandler, SMTPServer, broker_is_amqp, running_workers, skip_unless_required

# --- SMTP --------------------------------------------------------------------------------------------


class Gate:
    """A point where the SMTP server keeps a sender waiting: `reached` once it is there, on again after open()."""

    def __init__(self):
        self.reached = threading.Event()
        self._open = threading.Event()

    async def hold(self):
        self.reached.set()
        # In a thread, so that the server's event loop keeps serving everything else meanwhile.
        await asyncio.get_running_loop().run_in_executor(None, self._open.wait, 60)

    def wait_reached(self, timeout=60):
        if not self.reached.wait(timeout):
            raise AssertionError("the sender never reached the gate")

    def open(self):
        self._open.set()


class FaultySMTPHandler(RecordingHandler):
    """RecordingHandler, plus the faults a real server shows."""

    def __init__(self):
        super().__init__()
        self.recipients_seen = 0  # RCPT commands, counted from 1
        self.drops_left = 0
        self.dropped = 0
        self.delay = 0.0
        self.rcpt_gates = {}  # RCPT number -> Gate: the sender waits before the recipient is accepted
        self.accepted_gates = {}  # message number -> Gate: stored, and the sender waits for the 250

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.recipients_seen += 1
        if self.drops_left > 0:
            self.drops_left -= 1
            self.dropped += 1
            server.transport.abort()  # the connection goes away mid-message, with no goodbye
            return "421 4.4.2 Connection dropped"
        gate = self.rcpt_gates.get(self.recipients_seen)
        if gate:
            await gate.hold()
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        reply = await super().handle_DATA(server, session, envelope)
        gate = self.accepted_gates.get(len(self.messages)) if reply.startswith("250") else None
        if gate:
            await gate.hold()
        return reply


class FaultySMTPServer(SMTPServer):
    def __init__(self, handler, port):
        super().__init__(handler, port)
        self._controller = None

    def start(self):
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self):
        """Stop listening: connections are refused until start(), on the same port."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def drop_next(self, count):
        """Drop the next `count` sessions at RCPT, as a server under strain or a flaky network would."""
        self.handler.drops_left = count

    def hold_at_recipient(self, number):
        """The sender of the `number`-th RCPT (from 1) waits there, before its message is accepted."""
        gate = self.handler.rcpt_gates[number] = Gate()
        return gate

    def hold_after_accepting(self, number):
        """The `number`-th message (from 1) is stored; its sender waits for the 250 until the gate opens."""
        gate = self.handler.accepted_gates[number] = Gate()
        return gate

    def count_by_recipient(self):
        return Counter(message["To"] for message in self.messages)

    def open_all_gates(self):
        for gate in [*self.handler.rcpt_gates.values(), *self.handler.accepted_gates.values()]:
            gate.open()


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


def database_url(*, host=None, port=None):
    """DATABASE_URL of the test database (the one this test session created), optionally through a proxy."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{host or db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """`celery -A quick_publisher worker` in its own process group, on the test database and SMTP server."""

    def __init__(self, name, *, pool, concurrency, env, log_path, prefix=()):
        self.hostname = f"{name}@{socket.gethostname()}"
        self.command = [
            *prefix,  # e.g. `ip netns exec <name>`: it execs the worker, so the pid and process group are the worker's
            sys.executable,
            "-m",
            "celery",
            "-A",
            "quick_publisher",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--hostname",
            self.hostname,
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "--loglevel",
            "INFO",
        ]
        self.env = env
        self.log_path = log_path
        self.process = None

    def start(self, timeout=60):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.answers_ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"worker {self.hostname} did not start:\n{self.log()}")
        running_workers.add(self.hostname)
        return self

    def answers_ping(self):
        try:
            return celery_app.control.ping(destination=[self.hostname], timeout=0.5)
        except (redis.RedisError, kombu.exceptions.KombuError, OSError):
            return False  # a connection pooled before Redis restarted: the next try opens a new one

    def log(self):
        return Path(self.log_path).read_text(errors="replace")[-5000:]

    def pool_processes(self):
        """Pids of the prefork pool's child processes."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def kill(self):
        """SIGKILL the whole worker (main process and any pool processes): no shutdown, no ack, no cleanup."""
        running_workers.discard(self.hostname)
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process:
            self.process.wait(timeout=10)


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


# --- A database that goes away -----------------------------------------------------------------------


class TcpProxy:
    """Forwards a local port to the database server; cut() makes the database unreachable for a while.

    cut(refuse=n) closes every forwarded connection at once (as a failover or a network blip does) and turns the
    next n connection attempts away; after those, connections go through again. Counting attempts rather than
    seconds keeps the outage the same length on a fast machine and a slow one.
    """

    def __init__(self, target_host, target_port, *, listen_host="127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.create_server((listen_host, 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs = set()
        self.refuse_left = 0
        self.refused = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="db-proxy").start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self.refuse_left > 0:
                    self.refuse_left -= 1
                    self.refused += 1
                    client.close()
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = (client, upstream)
            with self.lock:
                self.pairs.add(pair)
            threading.Thread(target=self._pump, args=(client, upstream, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()

    def _pump(self, source, sink, pair):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        self._close(pair)

    def _close(self, pair):
        with self.lock:
            self.pairs.discard(pair)
        for sock in pair:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut(self, *, refuse):
        with self.lock:
            self.refuse_left = refuse
            pairs = list(self.pairs)
        for pair in pairs:
            self._close(pair)

    def refusals_done(self):
        with self.lock:
            return self.refuse_left == 0

    def close(self):
        self.closed = True
        self.listener.close()
        for pair in list(self.pairs):
            self._close(pair)


# --- A worker host cut off the network --------------------------------------------------------------


def ip(*args):
    """Run `ip`; its error output on failure."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode:
        raise OSError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


class NetworkNamespace:
    """A host of its own for a worker: a network namespace joined to this one by a veth pair. A worker started with
    exec_prefix reaches this host's services (which listen on 127.0.0.1) only through forwarders on this side of the
    link (worker_environment()), so cut() takes everything away from it at once, as a pulled cable would: no
    connection is closed, packets are just not delivered until restore().
    """

    def __init__(self, name, subnet):
        self.name = name
        self.link = f"{name}h"  # this side of the veth pair
        self.gateway = f"10.231.{subnet}.1"  # this side's address, where the forwarders listen
        self.address = f"10.231.{subnet}.2"
        self.exec_prefix = ("ip", "netns", "exec", name)
        self.proxies = {}

    def create(self):
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.link, "type", "veth", "peer", "name", f"{self.name}n", "netns", self.name)
            ip("addr", "add", f"{self.gateway}/30", "dev", self.link)
            ip("link", "set", self.link, "up")
            ip("-n", self.name, "addr", "add", f"{self.address}/30", "dev", f"{self.name}n")
            ip("-n", self.name, "link", "set", f"{self.name}n", "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except OSError:
            self.delete()
            raise

    def delete(self):
        for proxy in self.proxies.values():
            proxy.close()
        for args in (("netns", "delete", self.name), ("link", "delete", self.link)):  # the pair goes with either
            try:
                ip(*args)
            except OSError:
                pass

    def cut(self):
        ip("link", "set", self.link, "down")

    def restore(self):
        ip("link", "set", self.link, "up")

    def forward(self, host, port):
        """The port on the gateway where the namespace reaches host:port."""
        if (host, port) not in self.proxies:
            self.proxies[host, port] = TcpProxy(host, port, listen_host=self.gateway)
        return self.proxies[host, port].port

    def url_through(self, url, default_port):
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        port = self.forward(parts.hostname, parts.port or default_port)
        netloc = f"{credentials}@{self.gateway}:{port}" if credentials else f"{self.gateway}:{port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def worker_environment(self):
        """A worker's database, broker, Redis and SMTP server, reached over the link."""
        db = connection.settings_dict
        return {
            "DATABASE_URL": database_url(
                host=self.gateway, port=self.forward(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
            ),
            "REDIS_URL": self.url_through(settings.REDIS_URL, 6379),
            "CELERY_BROKER_URL": self.url_through(celery_app.conf.broker_url, 5672 if broker_is_amqp() else 6379),
            "EMAIL_HOST": self.gateway,
            "EMAIL_PORT": self.forward(settings.EMAIL_HOST, settings.EMAIL_PORT),
        }


def unused_subnet():
    """A third octet of 10.231.x.0/24 that no interface of this host uses yet."""
    addresses = ip("-4", "-o", "addr", "show")
    return next(n for n in range(1, 255) if f" 10.231.{n}." not in addresses)


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


# --- Data --------------------------------------------------------------------------------------------


def authors_with_posts(count):
    """`count` eligible authors (verified, reports on), each with one published post."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import AuthorFactory, PostFactory

    authors = AuthorFactory.create_batch(count, password=None)  # no password hashing: it is slow and unused here
    for author in authors:
        # Published before yesterday: a report lists the posts published by the end of its period.
        PostFactory(author=author, published_at=timezone.now() - timedelta(days=30))
    return authors
