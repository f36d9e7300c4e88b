"""Post pages kept rendered in each web process, for the readers who send no cookies: nearly all of them.

A kept page is served by the KeptPostPages middleware, before the rest of the middleware, the URL resolver and the
view, for one Redis round trip (view_buffer.view_kept_page counts the view, reads the views not yet in the
database and checks that the page is current) and neither a database query nor a template. A page is
current while Redis's pages generation is the one it was rendered under; whatever changes what a page shows sets
a new generation once committed: a post saved or deleted, its author's name or address changed, posts published
or unpublished (signals and services call forget_kept_pages), views moved into the database (the flush, in the
step that drops its batch).
A kept page also expires after PAGE_MAX_AGE, so that nothing keeps a page stale for long: not an invalidation lost
to a Redis outage, not the views counted straight into the database meanwhile, not a deploy.
"""

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone

from . import view_buffer
from .bots import is_bot
from .models import Post
from .templatetags.view_counts import view_count_text

logger = logging.getLogger(__name__)

PAGE_MAX_AGE = 60  # seconds
PAGES_KEPT = 1000  # per process; the least recently read go first
AUTHOR_FIELDS_SHOWN = {"full_name", "email"}


def can_keep(request):
    """Only a reader without a session or queued messages is sure to get the same page as everyone else."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES and CookieStorage.cookie_name not in request.COOKIES


def counts_as_view(request):
    return request.method == "GET" and not is_bot(request.META.get("HTTP_USER_AGENT", ""))


@dataclass(frozen=True)
class KeptPage:
    post_id: int
    views_in_database: int
    generation: str
    before_count: bytes
    after_count: bytes
    expires_at: float

    def response(self, unflushed_views):
        count = view_count_text(self.views_in_database + unflushed_views).encode()
        response = HttpResponse(self.before_count + count + self.after_count)
        response.headers["Vary"] = "Cookie"  # as on the rendered page, which reads the session
        return response


class _KeptPages:
    def __init__(self, size):
        self.size = size
        self.pages = OrderedDict()
        self.lock = threading.Lock()  # gunicorn's gthread workers serve requests from several threads

    def get(self, slug):
        with self.lock:
            page = self.pages.get(slug)
            if page is not None:
                self.pages.move_to_end(slug)
            return page

    def put(self, slug, page):
        with self.lock:
            self.pages[slug] = page
            self.pages.move_to_end(slug)
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)


_kept = _KeptPages(PAGES_KEPT)


@dataclass(frozen=True)
class KeptPageMiss:
    """Left on the request by serve_kept_page when it had the post's page but could not serve it: what the view
    needs to render the page and keep it, without a second try at Redis."""

    generation: str = None  # the pages' current generation, read before the view reads the post
    redis_error: redis.RedisError = None  # Redis did not answer: the view counts without it


def serve_kept_page(request):
    """Called by KeptPostPages for every request: if the reader may have kept pages and the path's post page is kept
    here and current, that page with this view counted (one Redis call, no database query); else None, and the
    request goes on to the view."""
    path = request.path_info
    if request.method not in ("GET", "HEAD") or not path.endswith("/") or not can_keep(request):
        return None
    # Only post_detail keeps pages, under the slug of its URL: a path with a kept page is a post page's.
    page = _kept.get(path[1:-1])
    if page is None or page.expires_at < time.monotonic():
        return None
    try:
        generation, unflushed = view_buffer.view_kept_page(
            page.post_id, timezone.localdate(), generation=page.generation, counted=counts_as_view(request)
        )
    except redis.RedisError as error:
        request.kept_page_miss = KeptPageMiss(redis_error=error)
        return None
    if unflushed is None:
        request.kept_page_miss = KeptPageMiss(generation=generation)
        return None
    return page.response(unflushed)


def generation_to_keep_under(request):
    """The pages' generation to keep the page about to be rendered for this request under: the one serve_kept_page
    read, else the current one, read now, before the view reads the post. Raises redis.RedisError, Redis's
    refusal included when serve_kept_page met it, so that a request tries Redis once."""
    miss = getattr(request, "kept_page_miss", None)
    if miss is None:
        return view_buffer.pages_generation()
    if miss.redis_error is not None:
        raise miss.redis_error
    return miss.generation


def keep(slug, *, post, views, response, generation):
    """Keep a page just rendered for `post` with `views`, if generation was read before the post was."""
    if response.status_code != 200 or response.streaming:
        return
    opening, closing = b'<span class="views">', b"</span>"
    count = opening + view_count_text(views).encode() + closing
    if response.content.count(count) != 1:  # nowhere to put the count: render this page every time
        logger.warning("Post page %s has no single view count to update: not keeping it", slug)
        return
    before, after = response.content.split(count)
    _kept.put(slug, KeptPage(
        post_id=post.pk,
        views_in_database=post.view_count,
        generation=generation,
        before_count=before + opening,
        after_count=closing + after,
        expires_at=time.monotonic() + PAGE_MAX_AGE,
    ))


def forget_kept_pages_of_author(user, *, created, update_fields):
    """After a user is saved: pages show their author's name or address, not the rest (not a sign-up's user, who
    has no posts, nor a login's last_login), and a Redis call on those saves would slow them when Redis hangs."""
    if created or (update_fields is not None and not AUTHOR_FIELDS_SHOWN & set(update_fields)):
        return
    if user.posts.filter(status=Post.Status.PUBLISHED).exists():
        transaction.on_commit(forget_kept_pages)


def forget_kept_pages():
    """After a commit that changes what a post page shows: every process renders its pages again."""
    try:
        view_buffer.renew_pages_generation()
    except redis.RedisError:
        logger.warning("Redis unavailable: kept post pages may be stale for up to %s seconds", PAGE_MAX_AGE)
