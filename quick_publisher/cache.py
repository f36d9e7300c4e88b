"""Django's Redis cache, failing open: while Redis is unreachable the cache behaves as an empty one that keeps
nothing, instead of raising.

The cache holds the rate-limit counters. django-ratelimit's RATELIMIT_FAIL_OPEN covers a cache that answers
"nothing", not one that raises, so with the stock backend a Redis outage turned sign-up, login, resend and
password reset into 500s.
"""

import functools
import logging

import redis
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


def _failing_open(method, answer_when_down):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except redis.RedisError as exc:
            logger.warning("Redis cache unavailable (%s): %s treated as a miss", exc, method.__name__)
            return answer_when_down(*args, **kwargs)

    return call


def _key_not_found(key, *args, **kwargs):
    raise ValueError(f"Key {key!r} not found (the cache is unreachable).")


class FailOpenRedisCache(RedisCache):
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
