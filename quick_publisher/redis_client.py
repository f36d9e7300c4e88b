"""The Redis client of the app's own keys (buffered views, page versions), and its Lua scripts."""

import functools

import redis
from django.conf import settings


@functools.cache
def client():
    return redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)


def run_script(source, *, keys, args):
    """Called by its SHA, sent to Redis only when Redis does not have it yet (redis-py's Script does that)."""
    redis_client = client()
    return registered_script(redis_client, source)(keys=keys, args=args, client=redis_client)


@functools.cache
def registered_script(redis_client, source):
    return redis_client.register_script(source)
