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

from django.conf import settings

from quick_publisher.redis_client import run_script

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

# KEYS: the versions to renew. ARGV: 1 how long each is kept, in seconds ('' for ever).
RENEW_VERSIONS = (
    CLOCK_VERSION_LUA
    + """
for _, key in ipairs(KEYS) do
  local version = clock_version()
  local current = redis.call('GET', key)
  if current and tonumber(current) >= tonumber(version) then  -- renewed within this microsecond, or a clock went back
    redis.call('INCR', key)
  else
    redis.call('SET', key, version)
  end
  if ARGV[1] ~= '' then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
"""
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
    run_script(RENEW_VERSIONS, keys=[SITE_VERSION], args=[""])
    renewals_here += 1


def renew_page_versions(slugs, *, kept):
    """Renew the versions of the pages at these slugs, each kept `kept` seconds from now: no page cached under an
    earlier version matches again, even once this one is gone."""
    global renewals_here
    if slugs:
        run_script(RENEW_VERSIONS, keys=[page_version_key(slug) for slug in slugs], args=[kept])
        renewals_here += 1
