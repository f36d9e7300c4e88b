"""The post page cache: what a post page shows, cached in two tiers so that a page view costs one Redis round trip
and no database query: in each web process (the "post_pages" cache, Django's LocMemCache), and behind it in Redis,
shared by every process (the "shared_post_pages" cache), so that a page one process rendered is not rendered again
by the others: with readers spread over many posts, a process meets many pages it has not served yet.

- For a reader without a session or queued messages (nearly all readers): the whole page, split around its view
  count, so that serving it is a join of three strings.
- For a signed-in reader: the post and its author, so that only the layout around it is rendered.

Keys are versioned with the site's version (.versions); each entry holds the page version it was rendered under,
which the call that counts a view checks. The view count is never cached: it comes from Redis with the view.
Entries also expire (the cache's TIMEOUT), so that an invalidation lost to a Redis outage keeps no page stale long.
"""

import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from ..models import Post
from ..templatetags.view_counts import view_count_text
from . import versions

logger = logging.getLogger(__name__)

VIEW_COUNT_OPENING, VIEW_COUNT_CLOSING = b'<span class="views">', b"</span>"


def process_cache():
    return caches["post_pages"]


def shared_cache():
    return caches["shared_post_pages"]


def cache_timeout():
    return max(settings.CACHES[name].get("TIMEOUT", 300) for name in ("post_pages", "shared_post_pages"))


def is_anonymous_reader(request):
    """A reader without a session or queued messages gets the same page as everyone else."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and CookieStorage.cookie_name not in request.COOKIES


@dataclass(frozen=True)
class CachedPage:
    """The whole page an anonymous reader gets, split around its view count."""

    post_id: int
    before_count: bytes
    after_count: bytes
    author_time_zone: str  # views are counted on the author's day, with no query for the author
    version: str  # the page's, when it was rendered
    author_id = None  # an anonymous reader is never the post's author

    def response(self, views):
        response = HttpResponse(self.before_count + view_count_text(views).encode() + self.after_count)
        patch_vary_headers(response, ["Cookie"])  # as on the rendered page, which reads the session
        return response


@dataclass(frozen=True)
class CachedPost:
    """The post shown to signed-in readers, with its author."""

    post: Post
    version: str  # the page's, when it was read

    @property
    def post_id(self):
        return self.post.pk

    @property
    def author_id(self):
        return self.post.author_id

    @property
    def author_time_zone(self):
        return self.post.author.time_zone


def cached(key):
    """From this process's cache, else from the shared one (kept here from then on); None if neither has it, or
    before this process has seen a version. The shared cache raises redis.RedisError like the view's own Redis
    call, so a request still tries Redis once."""
    version = versions.known_site_version
    if version is None:
        return None
    value = process_cache().get(key, version=version)
    if value is None:
        value = shared_cache().get(key, version=version)
        if value is not None:
            process_cache().set(key, value, version=version)
    return value


def store(key, value, page_version):
    version = versions.site_version(page_version)
    process_cache().set(key, value, version=version)
    try:
        shared_cache().set(key, value, version=version)
    except redis.RedisError as exc:  # the view is counted and the page served: only the sharing is missed
        logger.warning("Redis unavailable (%s): post page %s cached in this process only", exc, key)


# The keys name what their entries hold; entries of an earlier form, which a deploy may find in the shared cache,
# were under other names.
def cached_page(request, slug):
    """What this reader's page at `slug` is cached as: a CachedPage for an anonymous reader, a CachedPost for a
    signed-in one; None if not cached."""
    if is_anonymous_reader(request):
        return cached(f"anonymous-page:{slug}")
    return cached(f"signed-in-post:{slug}")


def cache_rendered_page(request, slug, *, post, response, views, version):
    """Cache what was just rendered for this reader with `views`, under the page's version read before its post
    was: an anonymous reader's whole page split around its count, a signed-in reader's post."""
    if not is_anonymous_reader(request):
        store(f"signed-in-post:{slug}", CachedPost(post, version), version)
        return
    if response.status_code != 200 or response.streaming:
        return
    count = VIEW_COUNT_OPENING + view_count_text(views).encode() + VIEW_COUNT_CLOSING
    if response.content.count(count) != 1:  # nowhere to put the count: render this page every time
        logger.warning("Post page %s has no single view count to update: not caching it", slug)
        return
    before, after = response.content.split(count)
    page = CachedPage(post.pk, before + VIEW_COUNT_OPENING, VIEW_COUNT_CLOSING + after, post.author.time_zone, version)
    store(f"anonymous-page:{slug}", page, version)
