"""Versions of the post pages, in Redis: the site's, renewed when something every page may show changes (an
author's name), and each page's own, renewed when its post changes. A page's version is both, "<site>:<page>".

The site's version is also the version of the cache keys (the store's), so that renewing it drops every page at
once; the page's own lets an edit render only its page again. The call that counts a view reads the page's version
in the same step (CURRENT_PAGE_VERSION_LUA), so a page cached under an older version is never counted or shown.

Versions never go backwards, even when Redis loses their keys (a page's expires; under memory pressure Redis may
evict either): each is set from Redis's clock in microseconds, whether renewed or made again after its key was lost,
and a renewal within the same microsecond adds one. A counter would start again from 1 after a lost key, and a page
cached under an earlier 1 would match again. (Like any clock, Redis's must not be set back, say by a failover to a
server whose clock is behind.)
"""

from dataclasses import dataclass

from django.conf import settings

from quick_publisher.redis_client import client, registered_script, run_script

SITE_VERSION = "post-pages:version"


def cache_timeout():
    """How long a page stays cached: the longer of its two tiers' timeouts."""
    return max(settings.POST_PAGE_CACHE_TIMEOUT, settings.CACHES["shared_post_pages"].get("TIMEOUT", 300))


def page_version_kept():
    """How long a page's version is kept after it was made or renewed: twice as long as a page is cached. Any length
    is safe, as the next version is newer anyway. This one keeps keys only for the pages read or changed lately (no
    more keys than that, however many posts there are), at the cost of one more rendering of a page at most that
    often (its cached entry expires twice as often anyway)."""
    return 2 * cache_timeout()


CLOCK_VERSION_LUA = """
local function clock_version()
  local now = redis.call('TIME')
  return now[1] .. string.format('%06d', now[2])
end
"""

# A Lua function for the scripts that read a page's version. A version Redis has no key for (after a restart, an
# expiry or an eviction) is made from the clock: it never repeats an older one.
CURRENT_PAGE_VERSION_LUA = (
    CLOCK_VERSION_LUA
    + """
local function current_page_version(site_key, page_key)
  local version = redis.call('GET', site_key)
  if not version then
    version = clock_version()
    redis.call('SET', site_key, version)
  end
  local page = redis.call('GET', page_key)
  if not page then
    page = clock_version()
    redis.call('SET', page_key, page, 'EX', PAGE_VERSION_KEPT)
  end
  return version .. ':' .. page
end
""".replace("PAGE_VERSION_KEPT", str(page_version_kept()))  # the scripts are made once, with the settings
)
READ_PAGE_VERSION = CURRENT_PAGE_VERSION_LUA + "return current_page_version(KEYS[1], KEYS[2])"

RENEW_VERSION_LUA = """
local function renew_version(key, kept)
  local version = clock_version()
  local current = redis.call('GET', key)
  if current and tonumber(current) >= tonumber(version) then  -- renewed within this microsecond, or a clock went back
    redis.call('INCR', key)
  else
    redis.call('SET', key, version)
  end
  if kept ~= '' then
    redis.call('EXPIRE', key, kept)
  end
end
"""

# The log of renewed pages, read by the processes that keep pages in memory (publisher.counting's batch): each reads
# the pages renewed since its last read, not the version of every page it knows. A sorted set of the slugs, each
# scored by its latest renewal (Redis's clock in microseconds, each renewal later than the one before), and the
# member '' scored by the latest renewal the log no longer holds: trimmed to RENEWED_PAGES_KEPT slugs, or lost with
# its key, after which a reader reads every page it knows again.
RENEWED_PAGES = "post-pages:renewed"
RENEWED_PAGES_KEPT = 10_000

LOG_RENEWED_LUA = """
local function log_renewed(log_key, slugs, first)  -- the slugs from slugs[first] on
  local latest = redis.call('ZRANGE', log_key, -1, -1, 'WITHSCORES')
  local score = clock_version()
  if latest[2] == nil then  -- a new log: the renewals before it are unknown
    redis.call('ZADD', log_key, string.format('%.0f', tonumber(score) - 1), '')
  elseif tonumber(latest[2]) >= tonumber(score) then
    score = string.format('%.0f', tonumber(latest[2]) + 1)
  end
  for i = first, #slugs do
    redis.call('ZADD', log_key, score, slugs[i])
  end
  local trimmed = redis.call('ZCARD', log_key) - 1 - RENEWED_PAGES_KEPT
  if trimmed > 0 then  -- rank 0 is '', the oldest renewals follow
    local last_trimmed = redis.call('ZRANGE', log_key, trimmed, trimmed, 'WITHSCORES')
    redis.call('ZREMRANGEBYRANK', log_key, 1, trimmed)
    redis.call('ZADD', log_key, last_trimmed[2], '')
  end
end
""".replace("RENEWED_PAGES_KEPT", str(RENEWED_PAGES_KEPT))

RENEW_SITE_VERSION = CLOCK_VERSION_LUA + RENEW_VERSION_LUA + "renew_version(KEYS[1], '')"

# KEYS: 1 the log of renewed pages, then the pages' versions. ARGV: 1 how long each is kept, in seconds, then the
# pages' slugs.
RENEW_PAGE_VERSIONS = (
    CLOCK_VERSION_LUA
    + RENEW_VERSION_LUA
    + LOG_RENEWED_LUA
    + """
for i = 2, #KEYS do
  renew_version(KEYS[i], ARGV[1])
end
log_renewed(KEYS[1], ARGV, 2)
"""
)

# KEYS: 1 the log of renewed pages, 2 the site's version. ARGV: 1 the `read_to` of the reader's last read ('' for
# none), 2 the prefix of the pages' version keys.
# Returns the site's version (nil when lost), the next read's `read_to`, 1 if every page renewed since ARGV[1] is in
# the log (else 0, and no pages), then for each page renewed since: its slug and its version (nil when lost).
READ_RENEWED_PAGES = (
    CLOCK_VERSION_LUA
    + """
local latest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if latest[2] == nil then  -- no log (never made, or lost): the renewals until now are unknown
  latest = {'', clock_version()}
  redis.call('ZADD', KEYS[1], latest[2], '')
end
local reply = {redis.call('GET', KEYS[2]), latest[2], 0}
if ARGV[1] ~= '' then
  local renewed = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
  if renewed[1] ~= '' then  -- '' comes first: renewals since ARGV[1] that the log no longer holds
    reply[3] = 1
    for _, slug in ipairs(renewed) do
      reply[#reply + 1] = slug
      reply[#reply + 1] = redis.call('GET', ARGV[2] .. slug)
    end
  end
end
return reply
"""
)


@dataclass(frozen=True)
class RenewedPages:
    """What a read of the log of renewed pages found."""

    site_version: str | None  # None: Redis lost it (made again from its clock by the next read)
    read_to: str  # where the next read starts
    complete: bool  # every page renewed since the last read is in page_versions (False on a first read)
    page_versions: dict  # {slug: its page's part, or None when Redis lost it}


def read_renewed_pages(pipeline, *, since):
    """Queue on a redis-py pipeline the read of the pages renewed since `since` (a read's `read_to`, or None for a
    first read); renewed_pages() reads its reply."""
    registered_script(client(), READ_RENEWED_PAGES)(
        keys=[RENEWED_PAGES, SITE_VERSION], args=["" if since is None else since, page_version_key("")], client=pipeline
    )


def renewed_pages(reply):
    site, read_to, complete, *pairs = reply
    return RenewedPages(
        site_version=None if site is None else site.decode(),
        read_to=read_to.decode(),
        complete=bool(complete),
        page_versions={
            slug.decode(): None if version is None else version.decode()
            for slug, version in zip(pairs[::2], pairs[1::2], strict=True)
        },
    )


# This process's latest sight of the site's version, from the last call to Redis; any thread may update it.
known_site_version = None
# Versions this process has renewed: the page versions it knew before are read again, so that a change made in a
# process shows in its next page at once (counting's view batches keep the others within a second).
renewals_here = 0


def page_version_key(slug):
    return f"{SITE_VERSION}:{slug}"


def version_keys(slug):
    """The keys CURRENT_PAGE_VERSION_LUA reads for the page at `slug`: the site's, the page's."""
    return [SITE_VERSION, page_version_key(slug)]


def site_version(page_version):
    """The site's part of a page's version: the version of the cache keys."""
    return int(page_version.partition(":")[0])


def remember_site_version(page_version):
    """A page version a Redis call just read: from now on, this process looks its pages up under its site's part."""
    global known_site_version
    known_site_version = site_version(page_version)


def current_page_version(slug):
    """The current version of the page at `slug`."""
    page_version = run_script(READ_PAGE_VERSION, keys=version_keys(slug), args=[]).decode()
    remember_site_version(page_version)
    return page_version


def renew_site_version():
    global renewals_here
    run_script(RENEW_SITE_VERSION, keys=[SITE_VERSION], args=[])
    renewals_here += 1


def renew_page_versions(slugs, *, kept):
    """Renew the versions of the pages at these slugs, each kept `kept` seconds from now: no page cached under an
    earlier version matches again, even once this one is gone."""
    global renewals_here
    if slugs:
        run_script(
            RENEW_PAGE_VERSIONS,
            keys=[RENEWED_PAGES, *(page_version_key(slug) for slug in slugs)],
            args=[kept, *slugs],
        )
        renewals_here += 1
