"""Waiting and timing: wait_until (poll for work done elsewhere), timed/Timing (wall, CPU and waiting time of a
block) and request_wait_budget (what a request may wait for when Redis is down or hangs)."""

import contextlib
import time


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
