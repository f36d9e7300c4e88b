"""gunicorn in a subprocess, as in production (`-c gunicorn.conf.py`, gthread workers), on the test database and the
session's Redis, which a test can signal (SIGTERM, SIGHUP) like a deploy does."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from tests.support.processes import database_url
from tests.support.project import free_port

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


class GunicornProcess:
    def __init__(self, log_path, *, workers=1, **environment):
        self.port = free_port()
        self.log_path = log_path
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "quick_publisher.wsgi",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "2",
        ]
        self.env = {
            **os.environ,  # pytest-env's settings (DEBUG=0, SECRET_KEY...) and REDIS_URL
            "ENV_FILE": os.devnull,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "ALLOWED_HOSTS": "127.0.0.1",
            "VIEW_BATCH_INTERVAL": "0.25",  # the default, not the in-process tests' setting
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in environment.items()},
        }
        self.process = None

    def start(self, timeout=60):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=settings.BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("/healthz")
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"gunicorn did not start:\n{self.log()}") from None
                time.sleep(0.1)

    def get(self, path):
        """(status, body) of a GET as a browser sends it."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers={"User-Agent": BROWSER})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def signal(self, signal_number):
        self.process.send_signal(signal_number)

    def stop(self):
        """SIGTERM (gunicorn's graceful stop), and wait for it."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self):
        return Path(self.log_path).read_text(errors="replace")[-5000:]
