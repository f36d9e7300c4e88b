"""pytest plugin (loaded with -p, before Django reads its settings): give the test session a Redis.

REDIS_URL set: use that server (its database is flushed at the start). Unset: start a private redis-server on a
free port for the session, so a newcomer's machine needs no Redis service and a developer's is never touched.
"""

import os
import shutil
import tempfile

import pytest
import redis

from quick_publisher.redis_server import start_private_redis


class PrivateRedis:
    """A redis-server owned by the test session; fault tests may stop and restart it."""

    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="qp-test-redis-")
        self.process, self.url = start_private_redis(self.data_dir)
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self):
        """Shut down after writing the append-only file, as a service stop would."""
        try:
            redis.Redis.from_url(self.url).shutdown(save=True)
        except redis.RedisError:
            pass
        self.process.wait(timeout=10)

    def start(self):
        self.process, _ = start_private_redis(self.data_dir, port=self.port)

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.data_dir, ignore_errors=True)


_private = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _private
    if not os.environ.get("REDIS_URL"):
        _private = PrivateRedis()
        os.environ["REDIS_URL"] = _private.url
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=2).flushdb()
    return (yield)


def pytest_unconfigure(config):
    if _private is not None:
        _private.close()


def private_redis():
    """The session's private Redis, or None when the tests run against REDIS_URL."""
    return _private
