"""Versions of the post pages, in Redis: the site's, renewed when something every page may show changes (an
author's name), and each page's own, renewed when its post changes. A page's version is both, "<site>:<page>".

The site's version is also the version of the cache keys (the store's), so that renewing it drops every page at
once; the page's own lets an edit render only its page again. The call that counts a view reads the page's version
in the same step (CURRENT_PAGE_VERSION_LUA), so a page cached under an older version is never counted or shown.
"""

from quick_publisher.redis_client import client, run_script

SITE_VERSION = "post-pages:version"

# A Lua function for the scripts that read a page's version. The site's starts from the clock when Redis has none
# (as after a restart), so it never repeats an older one, nor does a page's version with it.
CURRENT_PAGE_VERSION_LUA = """
local function current_page_version(site_key, page_key)
  local version = redis.call('GET', site_key)
  if not version then
    local now = redis.call('TIME')
    version = now[1] .. string.format('%06d', now[2])
    redis.call('SET', site_key, version)
  end
  return version .. ':' .. (redis.call('GET', page_key) or '0')
end
"""
READ_PAGE_VERSION = CURRENT_PAGE_VERSION_LUA + "return current_page_version(KEYS[1], KEYS[2])"

# This process's latest sight of the site's version, from the last call to Redis; any thread may update it.
known_site_version = None


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
    client().incr(SITE_VERSION)


def renew_page_versions(slugs, *, kept):
    """Renew the versions of the pages at these slugs. A page's version is kept `kept` seconds after its last
    renewal, longer than a page is cached: when it is gone, no page cached under an older one is left to match."""
    pipe = client().pipeline(transaction=False)
    for slug in slugs:
        pipe.incr(page_version_key(slug))
        pipe.expire(page_version_key(slug), kept)
    pipe.execute()
