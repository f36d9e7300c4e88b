"""A post page's one Redis round trip: check that the page's version is still the one it was cached under, count
the view (and its reader) unless its reader has counted their views of this minute, and read the post's views, in
one script."""

from dataclasses import dataclass

from django.conf import settings

from quick_publisher.redis_client import run_script

from ..page_cache import versions
from .buffer import FLUSHING, IN_DATABASE, PENDING, BufferedViews
from .readers import READER_MINUTE_KEPT, READERS_KEPT, readers_key

# KEYS: 1 the site's version, 2 the page's version, 3 pending views, 4 views flushing, 5 views in the database,
#       6 the readers of the post that day, 7 the reader's views this minute (only with a reader).
# ARGV: 1 the version the page was cached under ('' if it was not), 2 the post id, 3 '1' to count the view,
#       4 the reader's hash ('' for none), 5 the readers' lifetime, 6 the day, 7 the views a reader may count a
#       minute, 8 the lifetime of a reader's minute.
# Returns {1 if the page is current, its current version, unflushed views, views in the database or nil}.
VISIT_POST_PAGE = (
    versions.CURRENT_PAGE_VERSION_LUA
    + """
local function within_readers_minute()
  if not KEYS[7] then
    return true
  end
  if tonumber(redis.call('GET', KEYS[7]) or '0') >= tonumber(ARGV[7]) then
    return false  -- served, not counted, and nothing written
  end
  if redis.call('INCR', KEYS[7]) == 1 then
    redis.call('EXPIRE', KEYS[7], ARGV[8])
  end
  return true
end

local function count_view(post_id, day_field)
  redis.call('HINCRBY', KEYS[3], post_id, 1)
  redis.call('HINCRBY', KEYS[3], day_field, 1)
end

local function count_reader(reader)
  redis.call('PFADD', KEYS[6], reader)
  redis.call('EXPIRE', KEYS[6], ARGV[5])
end

local function unflushed_views(post_id)
  return tonumber(redis.call('HGET', KEYS[3], post_id) or '0') + tonumber(redis.call('HGET', KEYS[4], post_id) or '0')
end

local version = current_page_version(KEYS[1], KEYS[2])
if ARGV[1] ~= '' and ARGV[1] ~= version then
  return {0, version, 0, false}
end
if ARGV[3] == '1' and within_readers_minute() then
  count_view(ARGV[2], ARGV[2] .. ':' .. ARGV[6])
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
    """One reader's visit to the page at `slug` of a post: its view counted on `day` (the author's) if `counted` and
    the reader (readers.Reader, if given) is within READER_VIEWS_PER_MINUTE, with its reader, and its views read;
    with `cached_under`, only if the page is still at that version."""
    keys = [*versions.version_keys(slug), PENDING, FLUSHING, IN_DATABASE, readers_key(post_id, day)]
    if reader is not None:
        keys.append(reader.minute_key)
    current, page_version, unflushed, in_database = run_script(
        VISIT_POST_PAGE,
        keys=keys,
        args=[
            cached_under or "",
            post_id,
            "1" if counted else "",
            "" if reader is None else reader.hash,
            READERS_KEPT,
            day.isoformat(),
            settings.READER_VIEWS_PER_MINUTE,
            READER_MINUTE_KEPT,
        ],
    )
    page_version = page_version.decode()
    versions.remember_site_version(page_version)
    return PageVisit(
        page_current=bool(current),
        page_version=page_version,
        views=BufferedViews(unflushed=unflushed, in_database=None if in_database is None else int(in_database)),
    )
