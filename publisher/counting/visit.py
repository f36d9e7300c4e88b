"""A post page's one Redis round trip: check that the page's version is still the one it was cached under, count
the view (and its reader), and read the post's views, in one script."""

import secrets
from dataclasses import dataclass

from quick_publisher.redis_client import run_script

from ..page_cache import versions
from .buffer import FLUSHING, IN_DATABASE, PENDING, BufferedViews
from .readers import READERS_KEPT, READERS_SALT_KEPT, readers_key, salt_key

# KEYS: 1 the site's version, 2 the page's version, 3 pending views, 4 views flushing, 5 views in the database,
#       6 the readers of the post that day, 7 that day's salt.
# ARGV: 1 the version the page was cached under ('' if it was not), 2 the post id, 3 '1' to count the view,
#       4 the reader ('' for none), 5 a salt for the day should it have none yet, 6 and 7 the readers' and the salt's
#       lifetimes.
# Returns {1 if the page is current, its current version, unflushed views, views in the database or nil}.
VISIT_POST_PAGE = (
    versions.CURRENT_PAGE_VERSION_LUA
    + """
local function count_view(post_id, day_field)
  redis.call('HINCRBY', KEYS[3], post_id, 1)
  redis.call('HINCRBY', KEYS[3], day_field, 1)
end

local function count_reader(reader)
  redis.call('SET', KEYS[7], ARGV[5], 'NX', 'EX', ARGV[7])
  redis.call('PFADD', KEYS[6], redis.sha1hex(redis.call('GET', KEYS[7]) .. '|' .. reader))
  redis.call('EXPIRE', KEYS[6], ARGV[6])
end

local function unflushed_views(post_id)
  return tonumber(redis.call('HGET', KEYS[3], post_id) or '0') + tonumber(redis.call('HGET', KEYS[4], post_id) or '0')
end

local version = current_page_version(KEYS[1], KEYS[2])
if ARGV[1] ~= '' and ARGV[1] ~= version then
  return {0, version, 0, false}
end
if ARGV[3] == '1' then
  count_view(ARGV[2], ARGV[2] .. ':' .. ARGV[8])
  if ARGV[4] ~= '' then
    count_reader(ARGV[4])
  end
end
return {1, version, unflushed_views(ARGV[2]), redis.call('HGET', KEYS[5], ARGV[2])}
"""
)


@dataclass(frozen=True)
class PageVisit:
    page_current: bool  # False: the page was cached under an older version, and nothing was counted
    page_version: str  # the page's current version ("<site>:<page>")
    views: BufferedViews


def visit_post_page(slug, *, post_id, day, counted, reader=None, cached_under=None):
    """One reader's visit to the page at `slug` of a post: its view counted on `day` (the author's) if `counted`,
    with its reader if given, and its views read; with `cached_under`, only if the page is still at that version."""
    current, page_version, unflushed, in_database = run_script(
        VISIT_POST_PAGE,
        keys=[
            *versions.version_keys(slug),
            PENDING,
            FLUSHING,
            IN_DATABASE,
            readers_key(post_id, day),
            salt_key(day),
        ],
        args=[
            cached_under or "",
            post_id,
            "1" if counted else "",
            reader or "",
            secrets.token_hex(32),
            READERS_KEPT,
            READERS_SALT_KEPT,
            day.isoformat(),
        ],
    )
    page_version = page_version.decode()
    versions.remember_site_version(page_version)
    return PageVisit(
        page_current=bool(current),
        page_version=page_version,
        views=BufferedViews(unflushed=unflushed, in_database=None if in_database is None else int(in_database)),
    )
