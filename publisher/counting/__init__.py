"""Counting views: each person's GET of a post page is counted in its web process's batch (batch, process_views),
sent to Redis with its reader, up to READER_VIEWS_PER_MINUTE a reader (buffer, readers), moved into the database by
a periodic flush (flush), and shown as the database's count plus what is not flushed yet (display). A page the
process does not know yet reads its version and views in Redis first (visit). Without Redis, a view is counted in
the database (database)."""

import time
from dataclasses import dataclass

from quick_publisher.time_zones import today_in

from . import batch, flush
from .bots import is_bot
from .buffer import BufferedViews
from .database import count_view_in_database
from .display import shown_views, shown_views_of_post, shown_views_of_posts, with_shown_views
from .readers import reader_of
from .visit import visit_post_page

__all__ = [
    "ReaderVisit",
    "count_reader_visit",
    "count_view_in_database",
    "count_view_without_redis",
    "counts_as_view",
    "flush_views",
    "send_pending_views",
    "shown_views_of_post",
    "shown_views_of_posts",
    "with_shown_views",
]


def counts_as_view(request, *, author_id):
    """A GET from a person who is not the post's author (authors reading their own posts are not readers).
    author_id None: the reader is known to be anonymous, so not the author."""
    if request.method != "GET" or is_bot(request.META.get("HTTP_USER_AGENT", "")):
        return False
    return author_id is None or request.user.pk != author_id


@dataclass(frozen=True)
class ReaderVisit:
    page_current: bool  # False: the page was cached under an older version, and nothing was counted
    page_version: str
    views: int | None  # as the page shows them; None when the page is not current


def count_reader_visit(
    request, *, slug, post_id, author_id, author_time_zone, cached_under=None, views_in_database=None
):
    """Count this request's view of a post, on its author's day, if it counts as one and its reader has not counted
    READER_VIEWS_PER_MINUTE views this minute, and read the views its page shows. With `cached_under` (the page came
    from the page cache) and the page's version known to this process lately: no network round trip, and only if
    the page is still at that version; otherwise one Redis round trip reads its version and views first."""
    day = today_in(author_time_zone)
    known = batch.process_views.known_page_version(slug, max_age=batch.PAGE_VERSION_MAX_AGE) if cached_under else None
    if known is None:
        as_of = time.monotonic()
        visit = visit_post_page(slug, post_id=post_id, day=day, counted=False, cached_under=cached_under)
        if not visit.page_current:
            return ReaderVisit(False, visit.page_version, None)
        total = shown_views(visit.views, post_id=post_id, views_in_database=views_in_database)
        views = BufferedViews(unflushed=visit.views.unflushed, in_database=total - visit.views.unflushed)
        batch.process_views.remember_page(slug, post_id=post_id, version=visit.page_version, views=views, as_of=as_of)
        known = visit.page_version
    elif known != cached_under:
        return ReaderVisit(False, known, None)
    if counts_as_view(request, author_id=author_id):
        batch.count_view(post_id=post_id, day=day, reader=reader_of(request, day=day))
    shown = batch.process_views.shown(post_id)
    return ReaderVisit(True, known, (shown.in_database or 0) + shown.unflushed)


def flush_views():
    """This process's batch sent first (nothing counted here so far is left behind), then the flush."""
    send_pending_views()
    return flush.flush_views()


def send_pending_views():
    """Send this process's counted views to Redis now (a graceful exit, tests)."""
    batch.send_pending_views()


def count_view_without_redis(request, post):
    """Redis is unavailable: the view is counted in the database. Returns the views the page shows."""
    if counts_as_view(request, author_id=post.author_id):
        return count_view_in_database(post.pk, today_in(post.author.time_zone))
    return post.view_count
