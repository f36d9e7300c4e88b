"""Django's Redis cache, failing open: while Redis is unreachable the cache behaves as an empty one that keeps
nothing, instead of raising.

The cache holds the rate-limit counters. django-ratelimit's RATELIMIT_FAIL_OPEN covers a cache that answers
"nothing", not one that raises, so with the stock backend a Redis outage turned sign-up, login, resend and
password reset into 500s. After an error the cache leaves Redis alone for LEAVE_ALONE_AFTER_ERROR seconds: a
Redis that hangs costs a request one socket timeout, not one per cache call.
"""

import functools
import logging
import time

import redis
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

LEAVE_ALONE_AFTER_ERROR = 2  # seconds: enough for one request not to wait twice


def _failing_open(method, answer_when_down):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        if time.monotonic() < self.unreachable_until:
            return answer_when_down(*args, **kwargs)
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as exc:
            self.unreachable_until = time.monotonic() + LEAVE_ALONE_AFTER_ERROR
            logger.warning("Redis cache unavailable (%s): %s treated as a miss", exc, method.__name__)
            return answer_when_down(*args, **kwargs)

    return call


def _key_not_found(key, *args, **kwargs):
    raise ValueError(f"Key {key!r} not found (the cache is unreachable).")


class FailOpenRedisCache(RedisCache):
    unreachable_until = 0.0  # monotonic time; each thread has its own cache object

    get = _failing_open(RedisCache.get, lambda key, default=None, version=None: default)
    get_many = _failing_open(RedisCache.get_many, lambda keys, version=None: {})
    has_key = _failing_open(RedisCache.has_key, lambda key, version=None: False)
    add = _failing_open(RedisCache.add, lambda *args, **kwargs: False)
    set = _failing_open(RedisCache.set, lambda *args, **kwargs: None)
    set_many = _failing_open(RedisCache.set_many, lambda data, *args, **kwargs: list(data))
    touch = _failing_open(RedisCache.touch, lambda *args, **kwargs: False)
    incr = _failing_open(RedisCache.incr, _key_not_found)
    delete = _failing_open(RedisCache.delete, lambda *args, **kwargs: False)
    delete_many = _failing_open(RedisCache.delete_many, lambda *args, **kwargs: None)
