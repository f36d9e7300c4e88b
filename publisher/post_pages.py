"""Post pages kept rendered in each web process, for the readers who send no cookies: nearly all of them.

Serving a kept page costs one Redis round trip (view_buffer.view_kept_page counts the view, reads the views not
yet in the database and checks that the page is current) and neither a database query nor a template. A page is
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


@dataclass
class SentView:
    """A kept page's view, sent to Redis as its request came in (send_view_early); the page reads the answer."""

    slug: str
    page: KeptPage = None
    call: view_buffer.KeptPageView = None
    error: redis.RedisError = None  # Redis did not take it: the page counts the view without Redis

    def answer(self):
        if self.error is not None:
            raise self.error
        return self.call.answer()

    def abandon(self):
        if self.call is not None:
            self.call.abandon()


def send_view_early(request):
    """The first half of serving a kept page, done by SendKeptPageViewsEarly as soon as the request has passed the
    middleware that may answer it instead (redirects, refused hosts): if the path is a post page kept here and the
    reader may have it, send the view to Redis now; kept_response reads the answer. Returns a SentView or None."""
    path = request.path_info
    if request.method not in ("GET", "HEAD") or not path.endswith("/") or not can_keep(request):
        return None
    # Only post_detail keeps pages, so a path with a kept page is a post page's.
    return _send_view(path[1:-1], counted=counts_as_view(request))


def kept_response(slug, *, counted, sent=None):
    """(response, generation): the kept page of slug with this view counted (when `counted`) if it is current;
    else (None, the current generation to render the page under). `sent`: the view, if send_view_early sent it.
    Raises redis.RedisError."""
    if sent is None or sent.slug != slug:
        sent = _send_view(slug, counted=counted)
        if sent is None:
            return None, view_buffer.pages_generation()
    generation, unflushed = sent.answer()
    if unflushed is None:
        return None, generation
    return sent.page.response(unflushed), generation


def _send_view(slug, *, counted):
    page = _kept.get(slug)
    if page is None or page.expires_at < time.monotonic():
        return None
    try:
        call = view_buffer.KeptPageView(
            page.post_id, timezone.localdate(), generation=page.generation, counted=counted
        )
    except redis.RedisError as error:
        return SentView(slug, error=error)
    return SentView(slug, page=page, call=call)


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
