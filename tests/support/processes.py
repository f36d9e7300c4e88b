"""Celery workers in subprocesses (`celery -A quick_publisher worker`), on the test database (database_url), which a
test can SIGKILL."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import kombu.exceptions
import redis
from django.conf import settings
from django.db import connection

from tests.support.brokers import running_workers
from tests.support.project import celery_app


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
