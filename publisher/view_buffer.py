"""Page views buffered in Redis, moved into the database by a periodic flush.

One hash, ``views:pending``, holds for each post two fields incremented together in one MULTI:
``<post_id>`` (views not yet in the database, for display) and ``<post_id>:<date>`` (the same views by day).
A flush renames the hash to ``views:flushing`` in one atomic step, so a view that arrives during a flush lands
in a fresh ``views:pending`` and is neither lost nor counted twice.
"""

import functools
import uuid
from collections import defaultdict
from datetime import date

import redis
from django.conf import settings

PENDING = "views:pending"
FLUSHING = "views:flushing"
BATCH_FIELD = "__batch__"

# Take the batch to flush: an unfinished one first (a flush that died half-way), else the pending views.
_TAKE_BATCH = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return redis.call('HGET', KEYS[2], ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ARGV[2]
"""

# Delete the batch only if it is still the one we flushed (a slower, concurrent flush must not delete the next).
_DROP_BATCH = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@functools.cache
def client():
    return redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)


def add_view(post_id, day):
    """Buffer one view; return how many of this post's views are not in the database yet."""
    pipe = client().pipeline(transaction=True)
    pipe.hincrby(PENDING, str(post_id), 1)
    pipe.hincrby(PENDING, f"{post_id}:{day.isoformat()}", 1)
    pipe.hget(FLUSHING, str(post_id))
    pending, _, flushing = pipe.execute()
    return pending + int(flushing or 0)


def unflushed_views(post_id):
    pipe = client().pipeline(transaction=False)
    pipe.hget(PENDING, str(post_id))
    pipe.hget(FLUSHING, str(post_id))
    return sum(int(value or 0) for value in pipe.execute())


def take_batch():
    """Return (batch_id, {(post_id, date): views}) for the batch to flush, or (None, {})."""
    r = client()
    batch_id = r.eval(_TAKE_BATCH, 2, PENDING, FLUSHING, BATCH_FIELD, uuid.uuid4().hex)
    if batch_id is None:
        return None, {}
    counts = defaultdict(int)
    for field, value in r.hgetall(FLUSHING).items():
        post_id, sep, day = field.decode().partition(":")
        if sep and post_id.isdigit():
            counts[(int(post_id), date.fromisoformat(day))] += int(value)
    return batch_id.decode() if isinstance(batch_id, bytes) else batch_id, dict(counts)


def drop_batch(batch_id):
    client().eval(_DROP_BATCH, 1, FLUSHING, BATCH_FIELD, batch_id)
