"""Distinct readers of a post on a day, estimated in Redis.

``views:readers:<post_id>:<date>`` is a HyperLogLog of the post's readers that day: each counted view adds the
SHA-1 of (the day's salt, the client's address, its user agent). The salt, ``views:readers-salt:<date>``, is
random, kept only in Redis and only for a few days; neither it nor any address or agent reaches the database, which
keeps only the estimate (a flush stores it with the day's views).
"""

from django.conf import settings

from quick_publisher.redis_client import run_script

READERS = "views:readers"
READERS_SALT = "views:readers-salt"
READERS_KEPT = 9 * 24 * 3600  # seconds: a week of days, for weekly readers, and the days a flush may be late
READERS_SALT_KEPT = 3 * 24 * 3600  # seconds: a day in every time zone, then gone for good

# The estimated readers of each HyperLogLog in KEYS, in order.
COUNT_READERS = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('PFCOUNT', key)
end
return counts
"""
READERS_PER_CALL = 5000


def readers_key(post_id, day):
    return f"{READERS}:{post_id}:{day.isoformat()}"


def salt_key(day):
    return f"{READERS_SALT}:{day.isoformat()}"


def reader_of(request):
    """Who reads, for counting distinct readers: the client's address and user agent, hashed with a daily salt in
    Redis and never stored."""
    address = request.META.get(settings.RATELIMIT_IP_META_KEY, "") or request.META.get("REMOTE_ADDR", "")
    return f"{address}\n{request.META.get('HTTP_USER_AGENT', '')}"


def readers_on(post_days):
    """{(post_id, date): estimated distinct readers that day} for the given post-days: counted in Redis by a script,
    a slice of days per call, so that a large flush neither pays a client round of work per day nor holds Redis
    for long in one call."""
    post_days = list(post_days)
    counts = []
    for start in range(0, len(post_days), READERS_PER_CALL):
        keys = [readers_key(post_id, day) for post_id, day in post_days[start : start + READERS_PER_CALL]]
        counts += run_script(COUNT_READERS, keys=keys, args=[])
    return dict(zip(post_days, counts, strict=True))
