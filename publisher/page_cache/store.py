"""The post page cache: what a post page shows, cached in two tiers so that a page view costs no database query:
in each web process (ProcessPageCache), and behind it in Redis, shared by every process (the "shared_post_pages"
cache), so that a page one process rendered is not rendered again by the others: with readers spread over many
posts, a process meets many pages it has not served yet.

Each entry is the whole page, split around the view count and the reader parts (the layout's account links,
verification banner and messages): a reader without a session or queued messages (nearly all readers) gets the
parts the page was cached with, so that serving it is a join of strings; a signed-in reader gets their own parts
rendered into it, which costs no query for the post.

Keys are versioned with the site's version (.versions); each entry holds the page version it was rendered under,
which the call that counts a view checks. The view count is never cached: it comes from Redis with the view.
A change Redis missed is replayed from the database (.invalidation); entries also expire (the cache's TIMEOUT), so
that a change both missed keeps no page stale for longer than that.
"""

import functools
import logging
import secrets
import threading
from dataclasses import dataclass

import cachetools
import redis
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from ..templatetags.view_counts import view_count_text
from . import versions

logger = logging.getLogger(__name__)

VIEW_COUNT_OPENING, VIEW_COUNT_CLOSING = b'<span class="views">', b"</span>"
# The parts of the layout that are each reader's own (base.html's blocks, and their templates), in page order: a
# page is cached with what an anonymous reader gets there, and any other reader's are rendered into it.
READER_PARTS = {
    "account_links": "_account_links.html",
    "verify_banner": "_verify_banner.html",
    "messages": "_messages.html",
}
# Where a rendered page holds each reader part until it is split: unguessable, so no post can contain one.
PLACEHOLDERS = {block: f"<!--reader-part:{block}:{secrets.token_hex(16)}-->" for block in READER_PARTS}


class ProcessPageCache:
    """A web process's own tier: the CachedPage objects themselves, the `entries` most recently used, each kept for
    `timeout` seconds; shared by the process's threads. Not Django's LocMemCache, which pickles a value on every set
    and unpickles it on every get (to guard values that may change) and checks every key's characters: a CachedPage
    never changes once made (frozen, its pieces bytes), and its keys are made here."""

    def __init__(self, *, entries, timeout):
        self.timeout = timeout
        self.pages = cachetools.TTLCache(maxsize=entries, ttl=timeout)
        self.lock = threading.Lock()  # a TTLCache is not thread-safe: even a get moves its entry to the front

    def get(self, key, *, version):
        with self.lock:
            return self.pages.get((version, key))

    def set(self, key, page, *, version):
        with self.lock:
            self.pages[version, key] = page

    def clear(self):
        with self.lock:
            self.pages.clear()


@functools.cache
def process_cache():
    return ProcessPageCache(entries=settings.POST_PAGE_CACHE_ENTRIES, timeout=settings.POST_PAGE_CACHE_TIMEOUT)


def shared_cache():
    return caches["shared_post_pages"]


def is_anonymous_reader(request):
    """A reader without a session or queued messages gets the reader parts as the page was cached with them."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and CookieStorage.cookie_name not in request.COOKIES


@dataclass(frozen=True)
class CachedPage:
    """A post's page as every reader gets it, split around the reader parts and the view count."""

    post_id: int
    author_id: int
    author_time_zone: str  # views are counted on the author's day, with no query for the author
    version: str  # the page's, when it was rendered
    pieces: tuple  # the page's bytes around the reader parts and the count: len(READER_PARTS) + 2 of them
    anonymous_parts: tuple  # the reader parts' bytes as an anonymous reader gets them

    def response(self, request, views):
        """The page for this reader, showing `views`."""
        parts = self.anonymous_parts if is_anonymous_reader(request) else reader_parts(request)
        *before_parts, before_count, after_count = self.pieces
        content = [piece for pair in zip(before_parts, parts, strict=True) for piece in pair]
        response = HttpResponse(b"".join([*content, before_count, count_html(views), after_count]))
        response.headers["Vary"] = "Cookie"  # the reader parts depend on the session (a new response: none to merge)
        return response


def count_html(views):
    return VIEW_COUNT_OPENING + view_count_text(views).encode() + VIEW_COUNT_CLOSING


def reader_parts(request, **context):
    """The reader parts, rendered for this request's reader (or with `context` in place of theirs)."""
    return tuple(render_to_string(name, context, request=request).encode() for name in READER_PARTS.values())


def page_with_placeholders(page, *, post, views, version, anonymous_parts):
    """The CachedPage of `page`, a post page rendered with PLACEHOLDERS for its reader parts and showing `views`;
    None if it cannot be split (a part or the count missing or repeated)."""
    pieces, rest = [], page
    for marker in [placeholder.encode() for placeholder in PLACEHOLDERS.values()] + [count_html(views)]:
        if rest.count(marker) != 1:
            return None
        before, rest = rest.split(marker)
        pieces.append(before)
    pieces.append(rest)
    return CachedPage(post.pk, post.author_id, post.author.time_zone, version, tuple(pieces), anonymous_parts)


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


# The key names what its entries hold: entries of an earlier form, which a deploy may find in the shared cache, were
# under other names.
def cached_page(slug):
    """The CachedPage of the page at `slug`; None if not cached."""
    return cached(f"post-page:{slug}")


def placeholders():
    """The reader parts of a page about to be rendered for caching, for post_detail.html's blocks."""
    return {block: mark_safe(placeholder) for block, placeholder in PLACEHOLDERS.items()}  # our own comments


def split_page(request, response, *, post, views, version):
    """The CachedPage of `response`, a post page rendered with placeholders() and showing `views`, its post read
    under the page's `version`; None if it cannot be split (not a whole page, or a place missing or repeated)."""
    if response.status_code != 200 or response.streaming:
        return None
    anonymous = reader_parts(request, user=AnonymousUser(), messages=())
    page = page_with_placeholders(response.content, post=post, views=views, version=version, anonymous_parts=anonymous)
    if page is None:
        logger.warning("Post page %s has no single place for each reader part and its count: not caching it", post.slug)
    return page


def cache_page(slug, page):
    store(f"post-page:{slug}", page, page.version)
