"""What the benchmarks share: a fresh PostgreSQL database, wrk, gunicorn, and stopping what they started."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from quick_publisher.redis_server import free_port  # noqa: F401  (re-exported for the benchmarks)

ROOT = Path(__file__).resolve().parent.parent


def recreate_database(database_url):
    import psycopg

    url = urlparse(database_url)
    name = url.path.lstrip("/")
    maintenance = url._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup():
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def find_wrk(make_target):
    """wrk on PATH; as root on Debian, installed from its package when missing."""
    wrk = shutil.which("wrk")
    if wrk is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install wrk)", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env={**os.environ,
                       "DEBIAN_FRONTEND": "noninteractive"})
        wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("This benchmark loads the site with wrk, which is not installed.\n"
                 "  Debian/Ubuntu: sudo apt-get install wrk\n"
                 "  macOS:         brew install wrk\n"
                 f"then run `make {make_target}` again.")
    return wrk


def start_gunicorn(env, port, access_log, error_log, *, workers, threads, worker_class="gthread",
                   new_session=False):
    command = [
        sys.executable, "-m", "gunicorn", "quick_publisher.wsgi:application",
        "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
        "--backlog", "2048", "--keep-alive", "5",
        "--access-logfile", str(access_log), "--access-logformat", "%(m)s %(U)s %(s)s",
        "--error-logfile", str(error_log),
    ]
    return subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, start_new_session=new_session)


def stop(process):
    """SIGTERM (a warm shutdown for a worker), SIGKILL after 20 s; to its whole process group if it leads one."""
    if process.poll() is not None:
        return
    leads_group = os.getpgid(process.pid) == process.pid

    def send(sig):
        if leads_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)

    send(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        process.wait()
