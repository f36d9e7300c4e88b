"""Page views buffered in Redis, moved into the database by a periodic flush.

One hash, ``views:pending``, holds for each post two fields incremented together in one MULTI:
``<post_id>`` (views not yet in the database, for display) and ``<post_id>:<date>`` (the same views by day).
A flush renames the hash to ``views:flushing`` in one atomic step, so a view that arrives during a flush lands
in a fresh ``views:pending`` and is neither lost nor counted twice.

``views:pages:generation`` is a token, never used twice, that changes whenever what a post page shows changes
(see publisher.post_pages); a flush changes it in the same step as it drops the batch it moved into the database.
"""

import functools
import os
import threading
import uuid
from collections import defaultdict
from datetime import date

import redis
from django.conf import settings

PENDING = "views:pending"
FLUSHING = "views:flushing"
BATCH_FIELD = "__batch__"
PAGES_GENERATION = "views:pages:generation"

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
# The database's counts include it now, so pages kept with the old counts are out of date from this moment on.
_DROP_BATCH = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('SET', KEYS[2], ARGV[3])
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# The whole hot path of a kept page in one round trip. If the pages' generation is still ARGV[1]: count the view
# (unless ARGV[3], the day, is empty) and return the views not yet in the database, an integer; else count
# nothing and return the current generation, a string, starting one if there is none (as after Redis lost its data).
_VIEW_KEPT_PAGE = """
local generation = redis.call('GET', KEYS[3])
if not generation then
  local now = redis.call('TIME')
  generation = now[1] .. '.' .. now[2]
  redis.call('SET', KEYS[3], generation)
end
if generation ~= ARGV[1] then
  return generation
end
local pending
if ARGV[3] ~= '' then
  pending = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[1], ARGV[2] .. ':' .. ARGV[3], 1)
else
  pending = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
end
return pending + tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
"""
_VIEW_KEPT_PAGE_KEYS = [PENDING, FLUSHING, PAGES_GENERATION]


@functools.cache
def client():
    return redis.Redis.from_url(settings.REDIS_URL, **settings.REDIS_CLIENT_OPTIONS)


_page_view_connections = threading.local()


def page_view_client():
    """The post page's own connection, one per thread of each process, kept open: a page view then pays for
    neither a trip through the connection pool nor a lock shared with other threads."""
    key = (os.getpid(), settings.REDIS_URL)
    kept = getattr(_page_view_connections, "kept", None)
    if kept is None or kept[0] != key:
        client = redis.Redis.from_url(
            settings.REDIS_URL, single_connection_client=True, **settings.REDIS_CLIENT_OPTIONS
        )
        kept = _page_view_connections.kept = (key, client)
    client = kept[1]
    # As the pool does for a connection it hands out: one the server closed, or with a reply no one read, is
    # replaced, not used (a poll, no round trip).
    connection = client.connection
    if connection.is_connected:
        try:
            stale = connection.can_read()
        except redis.ConnectionError:
            stale = True
        if stale:
            connection.disconnect()
    return client


@functools.cache
def _script(source):
    """Sent once, then called by its SHA on whichever client is given."""
    return client().register_script(source)


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
    client().eval(_DROP_BATCH, 2, FLUSHING, PAGES_GENERATION, BATCH_FIELD, batch_id, _new_generation())


def view_kept_page(post_id, day, *, generation, counted):
    """For a page kept under `generation`: if that is still the current one, count the view (when `counted`) and
    return (generation, this post's views not in the database yet); else count nothing, return (current, None)."""
    args = [generation, post_id, day.isoformat() if counted else ""]
    page_client = page_view_client()
    script = _script(_VIEW_KEPT_PAGE)
    # Straight over the connection: the client's command machinery costs as much CPU again as the call itself.
    # The connection disconnects itself on any socket error or timeout, as the client would.
    connection = page_client.connection
    try:
        connection.send_command("EVALSHA", script.sha, len(_VIEW_KEPT_PAGE_KEYS), *_VIEW_KEPT_PAGE_KEYS, *args)
        reply = connection.read_response()
    except redis.exceptions.NoScriptError:  # a Redis restarted since: nothing ran; the script loads it again
        reply = script(keys=_VIEW_KEPT_PAGE_KEYS, args=args, client=page_client)
    if isinstance(reply, int):
        return generation, reply
    return reply.decode(), None


def pages_generation():
    return view_kept_page(0, date.min, generation="", counted=False)[0]


def renew_pages_generation():
    client().set(PAGES_GENERATION, _new_generation())


def _new_generation():
    return uuid.uuid4().hex
