"""Page views buffered in Redis, moved into the database by a periodic flush.

One hash, ``views:pending``, holds for each post two fields incremented together: ``<post_id>`` (views not yet in
the database, for display) and ``<post_id>:<date>`` (the same views by day). A flush renames the hash to
``views:flushing`` in one atomic step, so a view that arrives during a flush lands in a fresh ``views:pending`` and
is neither lost nor counted twice.

``views:in-database`` holds, for each post a flush has touched, its views in the database as that flush left them.
The flush writes them in the same atomic step as it drops its batch, so that ``in-database + flushing + pending``
read in one call is always the post's total, without a database query. A post missing from it (never flushed
since Redis started) is read from the database and written with HSETNX, which never overwrites a flush's value.

``views:readers:<post_id>:<date>`` is a HyperLogLog of the post's readers that day: each counted view adds the SHA-1
of (the day's salt, the client's address, its user agent). The salt, ``views:readers-salt:<date>``, is random, kept
only in Redis and only for a few days; neither it nor any address or agent reaches the database, which keeps only
the estimate (a flush stores it with the day's views).

``post-pages:version`` is the version of the post page cache's keys (publisher.post_page_cache), renewed when
something every page may show changes (an author's name); ``post-pages:version:<slug>`` is one page's own, renewed
when its post changes, so that an edit makes only its own page be rendered again. A page's version is the two
together, ``<site>:<page>``; the call that counts a view checks it in the same step, so that a page cached under an
older version is never counted or shown.
"""

import functools
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

import redis
from django.conf import settings

PENDING = "views:pending"
FLUSHING = "views:flushing"
IN_DATABASE = "views:in-database"
BATCH_FIELD = "__batch__"
PAGES_VERSION = "post-pages:version"
READERS = "views:readers"
READERS_SALT = "views:readers-salt"
READERS_KEPT = 9 * 24 * 3600  # seconds: a week of days, for weekly readers, and the days a flush may be late
READERS_SALT_KEPT = 3 * 24 * 3600  # seconds: a day in every time zone, then gone for good

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

# The estimated readers of each HyperLogLog in KEYS, in order.
COUNT_READERS = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('PFCOUNT', key)
end
return counts
"""
READERS_PER_CALL = 5000

# Count one view of a post (unless ARGV[3], the day, is empty) and its reader (ARGV[4], unless empty; ARGV[5] is the
# day's salt should there be none yet) and read its views, in one step. ARGV[1] is the version the caller's page
# was cached under (the site's and KEYS[7]'s, its page's): if it is no longer the current one, nothing is counted.
# The site's version starts from the clock when Redis has none (as after a restart), so it never repeats an older
# one, nor does a page's version with it.
# Returns {1 if the version matched, unflushed views, views in the database or nil, the page's version}.
COUNT_VIEW = """
local version = redis.call('GET', KEYS[4])
if not version then
  local now = redis.call('TIME')
  version = now[1] .. string.format('%06d', now[2])
  redis.call('SET', KEYS[4], version)
end
local page_version = version .. ':' .. (redis.call('GET', KEYS[7]) or '0')
if ARGV[1] ~= '' and ARGV[1] ~= page_version then
  return {0, 0, false, page_version}
end
local pending
if ARGV[3] ~= '' then
  pending = redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[1], ARGV[2] .. ':' .. ARGV[3], 1)
  if ARGV[4] ~= '' then
    redis.call('SET', KEYS[6], ARGV[5], 'NX', 'EX', ARGV[7])
    redis.call('PFADD', KEYS[5], redis.sha1hex(redis.call('GET', KEYS[6]) .. '|' .. ARGV[4]))
    redis.call('EXPIRE', KEYS[5], ARGV[6])
  end
else
  pending = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
end
local unflushed = pending + tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
return {1, unflushed, redis.call('HGET', KEYS[3], ARGV[2]), page_version}
"""


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


@dataclass(frozen=True)
class PostViews:
    current: bool  # False: the page was cached under an older version, and nothing was counted
    unflushed: int = 0  # views not in the database yet
    in_database: int | None = None  # as the last flush left them; None if no flush has since Redis started
    page_version: str | None = None  # the page's current version ("<site>:<page>")


def page_version_key(slug):
    return f"{PAGES_VERSION}:{slug}"


def count_view(post_id, day, *, counted=True, reader=None, slug="", cached_under=None):
    """Count a view of the post on `day` (if `counted`), by `reader` (a string naming the client, if given), and
    read its views, in one round trip. With `cached_under`, the version a page at `slug` was cached under: only if
    that version is still the current one."""
    day_text = day.isoformat()
    current, unflushed, in_database, page_version = run_script(
        COUNT_VIEW,
        keys=[
            PENDING,
            FLUSHING,
            IN_DATABASE,
            PAGES_VERSION,
            f"{READERS}:{post_id}:{day_text}",
            f"{READERS_SALT}:{day_text}",
            page_version_key(slug),
        ],
        args=[
            "" if cached_under is None else cached_under,
            post_id,
            day_text if counted else "",
            reader or "",
            secrets.token_hex(32),
            READERS_KEPT,
            READERS_SALT_KEPT,
        ],
    )
    return PostViews(
        current=bool(current),
        unflushed=unflushed,
        in_database=None if in_database is None else int(in_database),
        page_version=page_version.decode(),
    )


def views_of_posts(post_ids):
    """{post_id: PostViews} for many posts in one round trip, counting none (no page version is read)."""
    fields = [str(post_id) for post_id in post_ids]
    if not fields:
        return {}
    pipe = client().pipeline(transaction=True)
    pipe.hmget(PENDING, fields)
    pipe.hmget(FLUSHING, fields)
    pipe.hmget(IN_DATABASE, fields)
    pending, flushing, in_database = pipe.execute()
    return {
        post_id: PostViews(
            current=True,
            unflushed=int(pending[n] or 0) + int(flushing[n] or 0),
            in_database=None if in_database[n] is None else int(in_database[n]),
        )
        for n, post_id in enumerate(post_ids)
    }


def readers_on(post_days):
    """{(post_id, date): estimated distinct readers that day} for the given post-days: counted in Redis by a script,
    a slice of days per call, so that a large flush neither pays a client round of work per day nor holds Redis
    for long in one call."""
    post_days = list(post_days)
    counts = []
    for start in range(0, len(post_days), READERS_PER_CALL):
        keys = [
            f"{READERS}:{post_id}:{day.isoformat()}" for post_id, day in post_days[start : start + READERS_PER_CALL]
        ]
        counts += run_script(COUNT_READERS, keys=keys, args=[])
    return dict(zip(post_days, counts, strict=True))


def remember_views_in_database(post_id, views):
    """For a post no flush has touched since Redis started: what the database said (a flush's value wins)."""
    client().hsetnx(IN_DATABASE, str(post_id), views)


def unflushed_views(post_id):
    pipe = client().pipeline(transaction=False)
    pipe.hget(PENDING, str(post_id))
    pipe.hget(FLUSHING, str(post_id))
    return sum(int(value or 0) for value in pipe.execute())


def page_version(slug):
    """The current version of the page at `slug`, the site's and its own, as COUNT_VIEW reads it (counting none)."""
    return count_view(0, date.min, counted=False, slug=slug).page_version


def renew_pages_version():
    client().incr(PAGES_VERSION)


def renew_page_versions(slugs, *, kept):
    """Renew the versions of the pages at these slugs. A page's version is kept `kept` seconds after its last
    renewal, longer than a page is cached: when it is gone, no page cached under an older one is left to match."""
    pipe = client().pipeline(transaction=False)
    for slug in slugs:
        pipe.incr(page_version_key(slug))
        pipe.expire(page_version_key(slug), kept)
    pipe.execute()


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
