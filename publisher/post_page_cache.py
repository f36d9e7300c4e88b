"""The post page cache: what a post page shows, cached in two tiers so that a page view costs one Redis round trip
and no database query: in each web process (the "post_pages" cache, Django's LocMemCache), and behind it in Redis,
shared by every process (the "shared_post_pages" cache), so that a page one process rendered is not rendered again
by the others: with readers spread over many posts, a process meets many pages it has not served yet.

- For a reader without a session or queued messages (nearly all readers): the whole page, split around its view
  count, so that serving it is a join of three strings.
- For a signed-in reader: the post and its author, so that only the layout around it is rendered.

Each page has a version in Redis (publisher.view_buffer): the site's, renewed when an author's name or address
changes, and the page's own, renewed when its post is saved, deleted, published or unpublished, once committed.
Keys are versioned with the site's; each entry holds the page version it was rendered under, and the call that
counts a view checks it, so no process serves a page of an older version, and an edit makes only its own page be
rendered again. The view count is never cached: it comes from Redis with the view. Entries also expire (the cache's
TIMEOUT), so that an invalidation lost to a Redis outage keeps no page stale for long.
"""

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.db import transaction
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from . import view_buffer
from .models import Post
from .templatetags.view_counts import view_count_text

logger = logging.getLogger(__name__)

VIEW_COUNT_OPENING, VIEW_COUNT_CLOSING = b'<span class="views">', b"</span>"
AUTHOR_FIELDS_SHOWN = {"full_name", "email", "report_time_zone"}  # the zone: what day a view is counted on

# This process's latest sight of the cache version, from the last call to Redis; any thread may update it.
known_version = None


def post_page_cache():
    return caches["post_pages"]


def shared_post_page_cache():
    return caches["shared_post_pages"]


def cached(key, version):
    """From this process's cache, else from the shared one (kept here from then on); None if neither has it. The
    shared cache raises redis.RedisError like the view's own Redis call, so a request still tries Redis once."""
    value = post_page_cache().get(key, version=version)
    if value is None:
        value = shared_post_page_cache().get(key, version=version)
        if value is not None:
            post_page_cache().set(key, value, version=version)
    return value


def cache(key, value, version):
    post_page_cache().set(key, value, version=version)
    try:
        shared_post_page_cache().set(key, value, version=version)
    except redis.RedisError as exc:  # the view is counted and the page served: only the sharing is missed
        logger.warning("Redis unavailable (%s): post page %s cached in this process only", exc, key)


def is_anonymous_reader(request):
    """A reader without a session or queued messages gets the same page as everyone else."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and CookieStorage.cookie_name not in request.COOKIES


def site_version(page_version):
    """The site's part of a page's version ("<site>:<page>"): the version of the cache keys."""
    return int(page_version.partition(":")[0])


@dataclass(frozen=True)
class CachedPage:
    post_id: int
    before_count: bytes
    after_count: bytes
    author_time_zone: str  # views are counted on the author's day, with no query for the author
    version: str  # the page's, when it was rendered

    def response(self, views):
        response = HttpResponse(self.before_count + view_count_text(views).encode() + self.after_count)
        patch_vary_headers(response, ["Cookie"])  # as on the rendered page, which reads the session
        return response


def saw_version(page_version):
    """A page version the view's Redis call just read: its site's part is the version of the cache keys."""
    global known_version
    known_version = site_version(page_version)


@dataclass(frozen=True)
class CachedPost:
    post: Post  # with its author
    version: str  # the page's, when it was read


# The keys name what their entries hold; entries of an earlier form, which a deploy may find in the shared cache,
# were under other names.
def cached_page(slug):
    """The whole page for an anonymous reader (a CachedPage), or None if not cached."""
    return None if known_version is None else cached(f"anonymous-page:{slug}", known_version)


def cached_post(slug):
    """The post shown to signed-in readers (a CachedPost), or None if not cached."""
    return None if known_version is None else cached(f"signed-in-post:{slug}", known_version)


def cache_post(slug, post, *, version):
    cache(f"signed-in-post:{slug}", CachedPost(post, version), site_version(version))


def cache_page(slug, *, post_id, author_time_zone, response, views, version):
    """Cache a page just rendered for an anonymous reader with `views`, split around its count, under the page's
    version read before its post was."""
    if response.status_code != 200 or response.streaming:
        return
    count = VIEW_COUNT_OPENING + view_count_text(views).encode() + VIEW_COUNT_CLOSING
    if response.content.count(count) != 1:  # nowhere to put the count: render this page every time
        logger.warning("Post page %s has no single view count to update: not caching it", slug)
        return
    before, after = response.content.split(count)
    page = CachedPage(post_id, before + VIEW_COUNT_OPENING, VIEW_COUNT_CLOSING + after, author_time_zone, version)
    cache(f"anonymous-page:{slug}", page, site_version(version))


def invalidate_post_page_cache():
    """After a commit that changes what every post page may show: every process reads its pages again."""
    try:
        view_buffer.renew_pages_version()
    except redis.RedisError:
        logger.warning("Redis unavailable: cached post pages may be stale for up to %s seconds", cache_timeout())


def invalidate_post_pages(slugs):
    """After a commit that changes these posts (or a post that was at one of these slugs): their pages are read
    again, the others stay cached."""
    try:
        view_buffer.renew_page_versions(slugs, kept=2 * cache_timeout())
    except redis.RedisError:
        logger.warning("Redis unavailable: post pages %s may be stale for up to %s seconds", slugs, cache_timeout())


def cache_timeout():
    return max(settings.CACHES[name].get("TIMEOUT", 300) for name in ("post_pages", "shared_post_pages"))


def invalidate_post_page_cache_of_author(user, *, created, update_fields):
    """After a user is saved: pages show their author's name or address, not the rest (not a sign-up's user, who
    has no posts, nor a login's last_login), and a Redis call on those saves would slow them when Redis hangs."""
    if created or (update_fields is not None and not AUTHOR_FIELDS_SHOWN & set(update_fields)):
        return
    if user.posts.filter(status=Post.Status.PUBLISHED).exists():
        transaction.on_commit(invalidate_post_page_cache)
