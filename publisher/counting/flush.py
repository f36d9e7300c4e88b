"""The flush: buffered views moved from Redis into the database, exactly once per chunk, with each day's readers;
and the readers' salts of past days deleted."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from ..models import DailyPostViews, FlushedPostViews, Post, ViewFlush
from . import buffer
from .readers import delete_past_salts, readers_on

logger = logging.getLogger(__name__)

VIEW_FLUSH_RECORDS_KEPT = timedelta(days=30)


def flush_views():
    """Move buffered views from Redis into the database, exactly once per batch. Returns views moved.

    The batch is applied in chunks of VIEW_FLUSH_CHUNK_SIZE post-days, each in a short transaction recorded by
    its own ViewFlush row, so that a flush that dies half-way and runs again applies each chunk once.
    First, whatever Redis says, the readers' salts of the days over everywhere are deleted.
    """
    delete_past_salts()
    batch_id, counts = buffer.take_batch()
    if batch_id is None:
        return 0
    moved, views_in_database = 0, {}
    post_days, size = sorted(counts.items()), settings.VIEW_FLUSH_CHUNK_SIZE
    for number, start in enumerate(range(0, len(post_days), size)):
        chunk = dict(post_days[start : start + size])
        readers = readers_on(list(chunk))
        chunk_moved, chunk_views = add_views_to_database(chunk, readers=readers, flush_id=f"{batch_id}:{number}")
        moved += chunk_moved
        views_in_database.update(chunk_views)
    buffer.drop_batch(batch_id, views_in_database=views_in_database)
    ViewFlush.objects.filter(flushed_at__lt=timezone.now() - VIEW_FLUSH_RECORDS_KEPT).delete()
    return moved


def add_views_to_database(counts, *, flush_id, readers=None):
    """Add {(post_id, date): views} to the daily rows and the posts' totals, once per flush_id, in a number of
    statements that does not grow with the number of posts; record {(post_id, date): readers} estimates where given.
    Returns (views added, {post_id: views in the database}).
    """
    readers = readers or {}
    try:
        with transaction.atomic():
            flush = ViewFlush.objects.create(batch_id=flush_id, views=sum(counts.values()))
            # Locked first, in id order, as a view counted in the database and a deletion lock a post first: posts
            # deleted since their views were buffered are not among them, none can be deleted until this commits,
            # and no one else can change their daily rows meanwhile.
            views_before = dict(
                Post.objects.select_for_update()
                .filter(pk__in={post_id for post_id, _ in counts})
                .order_by("pk")
                .values_list("pk", "view_count")
            )
            counts = {post_day: views for post_day, views in counts.items() if post_day[0] in views_before}
            added = defaultdict(int)
            for (post_id, _), views in counts.items():
                added[post_id] += views
            DailyPostViews.objects.bulk_create(
                daily_rows_with_views_added(counts, readers=readers),
                update_conflicts=True,
                unique_fields=["post", "date"],
                update_fields=["views", "readers"],
            )
            FlushedPostViews.objects.bulk_create(
                FlushedPostViews(flush=flush, post_id=post_id, views=views) for post_id, views in added.items()
            )
            flushed = FlushedPostViews.objects.filter(flush=flush, post_id=OuterRef("pk"))
            Post.objects.filter(Exists(flushed)).update(view_count=F("view_count") + Subquery(flushed.values("views")))
            FlushedPostViews.objects.filter(flush=flush).delete()
    except IntegrityError:
        if not ViewFlush.objects.filter(batch_id=flush_id).exists():
            # Something else failed the commit (PostgreSQL checks foreign keys then, so a post deleted
            # mid-flush does): nothing was applied, and the batch stays in Redis for the next flush.
            raise
        logger.info("View flush %s was already applied; skipping it", flush_id)
        return 0, views_now({post_id for post_id, _ in counts})
    return sum(added.values()), {post_id: views_before[post_id] + views for post_id, views in added.items()}


def daily_rows_with_views_added(counts, *, readers):
    """The daily rows of {(post_id, date): views}, each with the views already stored added, and the larger of the
    stored readers estimate and the new one (each is an estimate of the whole day so far). Read under the posts'
    locks, which whatever writes daily rows takes first, so nothing changes them until they are written back."""
    if not counts:
        return []
    days = [day for _, day in counts]
    stored = {
        (post_id, day): (views, day_readers)
        for post_id, day, views, day_readers in DailyPostViews.objects.filter(
            post_id__in={post_id for post_id, _ in counts}, date__range=(min(days), max(days))
        ).values_list("post_id", "date", "views", "readers")
    }
    rows = []
    for (post_id, day), views in counts.items():
        views_stored, readers_stored = stored.get((post_id, day), (0, None))
        estimates = [n for n in (readers_stored, readers.get((post_id, day))) if n is not None]
        rows.append(
            DailyPostViews(
                post_id=post_id, date=day, views=views_stored + views, readers=max(estimates) if estimates else None
            )
        )
    return rows


def views_now(post_ids):
    post_ids = sorted(post_ids)
    views = {}
    for start in range(0, len(post_ids), 10_000):
        posts = Post.objects.filter(pk__in=post_ids[start : start + 10_000])
        views.update(posts.values_list("pk", "view_count"))
    return views
