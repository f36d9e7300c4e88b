"""Page views buffered in Redis, moved into the database by a periodic flush (.flush).

One hash, ``views:pending``, holds for each post two fields incremented together: ``<post_id>`` (views not yet in
the database, for display) and ``<post_id>:<date>`` (the same views by day). A flush renames the hash to
``views:flushing`` in one atomic step, so a view that arrives during a flush lands in a fresh ``views:pending`` and
is neither lost nor counted twice.

``views:in-database`` holds, for each post a flush has touched, its views in the database as that flush left them.
The flush writes them in the same atomic step as it drops its batch, so that ``in-database + flushing + pending``
read in one call is always the post's total, without a database query. A post missing from it (never flushed
since Redis started) is read from the database and written with HSETNX, which never overwrites a flush's value.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from quick_publisher.redis_client import client, run_script

PENDING = "views:pending"
FLUSHING = "views:flushing"
IN_DATABASE = "views:in-database"
BATCH_FIELD = "__batch__"

# Take the batch to flush: an unfinished one first (a flush that died half-way), else the pending views.
TAKE_BATCH = """
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

# Delete the batch only if it is still the one we flushed (a slower, concurrent flush must not delete the next),
# and in the same step record the posts' views in the database, which now include the batch.
DROP_BATCH = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return redis.call('DEL', KEYS[1])
"""


@dataclass(frozen=True)
class BufferedViews:
    """A post's views as Redis knows them."""

    unflushed: int = 0  # views not in the database yet
    in_database: int | None = None  # as the last flush left them; None if no flush has since Redis started


def views_of_posts(post_ids):
    """{post_id: BufferedViews} for many posts in one round trip."""
    fields = [str(post_id) for post_id in post_ids]
    if not fields:
        return {}
    pipe = client().pipeline(transaction=True)
    pipe.hmget(PENDING, fields)
    pipe.hmget(FLUSHING, fields)
    pipe.hmget(IN_DATABASE, fields)
    pending, flushing, in_database = pipe.execute()
    return {
        post_id: BufferedViews(
            unflushed=int(pending[n] or 0) + int(flushing[n] or 0),
            in_database=None if in_database[n] is None else int(in_database[n]),
        )
        for n, post_id in enumerate(post_ids)
    }


def remember_views_in_database(post_id, views):
    """For a post no flush has touched since Redis started: what the database said (a flush's value wins)."""
    client().hsetnx(IN_DATABASE, str(post_id), views)


def unflushed_views(post_id):
    pipe = client().pipeline(transaction=False)
    pipe.hget(PENDING, str(post_id))
    pipe.hget(FLUSHING, str(post_id))
    return sum(int(value or 0) for value in pipe.execute())


def take_batch():
    """Return (batch_id, {(post_id, date): views}) for the batch to flush, or (None, {})."""
    batch_id = run_script(TAKE_BATCH, keys=[PENDING, FLUSHING], args=[BATCH_FIELD, uuid.uuid4().hex])
    if batch_id is None:
        return None, {}
    counts = defaultdict(int)
    for field, value in client().hgetall(FLUSHING).items():
        post_id, sep, day = field.decode().partition(":")
        if sep and post_id.isdigit():
            counts[(int(post_id), date.fromisoformat(day))] += int(value)
    return batch_id.decode(), dict(counts)


def drop_batch(batch_id, *, views_in_database):
    """Once the batch is in the database: drop it, and record {post_id: views} as the database now has them."""
    args = [BATCH_FIELD, batch_id]
    for post_id, views in views_in_database.items():
        args += [post_id, views]
    run_script(DROP_BATCH, keys=[FLUSHING, IN_DATABASE], args=args)
