"""Counting views: each person's GET of a post page is counted in Redis with its reader, up to
READER_VIEWS_PER_MINUTE a reader (buffer, readers, visit), moved into the database by a periodic flush (flush), and
shown as the database's count plus what is not flushed yet (display). Without Redis, a view is counted in the
database (database)."""

from dataclasses import dataclass

from quick_publisher.time_zones import today_in

from .bots import is_bot
from .database import count_view_in_database
from .display import shown_views, shown_views_of_post, shown_views_of_posts, with_shown_views
from .flush import flush_views
from .readers import reader_of
from .visit import visit_post_page

__all__ = [
    "ReaderVisit",
    "count_reader_visit",
    "count_view_in_database",
    "count_view_without_redis",
    "counts_as_view",
    "flush_views",
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
    READER_VIEWS_PER_MINUTE views this minute, and read the views its page shows, in one Redis round trip; with
    `cached_under`, only if the page is still at that version."""
    day = today_in(author_time_zone)
    counted = counts_as_view(request, author_id=author_id)
    visit = visit_post_page(
        slug,
        post_id=post_id,
        day=day,
        counted=counted,
        reader=reader_of(request, day=day) if counted else None,
        cached_under=cached_under,
    )
    if not visit.page_current:
        return ReaderVisit(False, visit.page_version, None)
    views = shown_views(visit.views, post_id=post_id, views_in_database=views_in_database)
    return ReaderVisit(True, visit.page_version, views)


def count_view_without_redis(request, post):
    """Redis is unavailable: the view is counted in the database. Returns the views the page shows."""
    if counts_as_view(request, author_id=post.author_id):
        return count_view_in_database(post.pk, today_in(post.author.time_zone))
    return post.view_count
