"""Publishing use cases: authors, slugs, publishing, and counting views."""

import functools
import logging
from collections import defaultdict
from datetime import timedelta

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from slugify import slugify

from quick_publisher import report_times

from . import view_buffer
from .models import DailyPostViews, FlushedPostViews, Post, ViewFlush
from .post_page_cache import invalidate_post_pages

logger = logging.getLogger(__name__)

AUTHORS_GROUP = "Authors"
# First path segments that belong to the site, never to a post.
RESERVED_SLUGS = frozenset(
    {
        "admin",
        "signup",
        "verify",
        "login",
        "logout",
        "account",
        "password-reset",
        "feed",
        "sitemap-xml",
        "healthz",
        "inbox",
        "reports",
        "static",
        "media",
        "page",
        "api",
    }
)
VIEW_FLUSH_RECORDS_KEPT = timedelta(days=30)


# --- Authors -----------------------------------------------------------------------------------------


def ensure_authors_group():
    """The Authors group: add, change, delete and view posts, nothing else."""
    group, _ = Group.objects.get_or_create(name=AUTHORS_GROUP)
    permissions = Permission.objects.filter(
        content_type__app_label="publisher",
        codename__in=["add_post", "change_post", "delete_post", "view_post"],
    )
    group.permissions.set(permissions)
    return group


def make_author(user):
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user.groups.add(ensure_authors_group())


# --- Posts -------------------------------------------------------------------------------------------


def unique_slug(text, *, exclude_pk=None):
    base = slugify(text, max_length=200, word_boundary=True) or "post"
    taken = Post.objects.exclude(pk=exclude_pk).filter(slug__startswith=base).values_list("slug", flat=True)
    taken = set(taken) | RESERVED_SLUGS
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def save_post(post):
    """Save a post, deriving a unique slug from its title when it has none (retrying on a concurrent twin)."""
    if post.is_published and post.published_at is None:
        post.published_at = timezone.now()
    derive_slug = not post.slug
    for _ in range(5):
        if derive_slug:
            post.slug = unique_slug(post.title, exclude_pk=post.pk)
        try:
            with transaction.atomic():
                post.save()
            return post
        except IntegrityError:
            if not derive_slug:
                raise
    raise IntegrityError(f"Could not find a free slug for {post.title!r}")


class NotAllowedToPublish(Exception):
    pass


def publish_posts(*, posts, user):
    """Publish the given drafts whose authors are verified, as the post form requires; published_at is set the
    first time only. Returns (published, left as drafts because their author is not verified)."""
    if not user.is_verified:
        raise NotAllowedToPublish("Verify your email address before publishing.")
    drafts = posts.filter(status=Post.Status.DRAFT)
    publishable = drafts.filter(author__is_verified=True)
    now = timezone.now()
    with transaction.atomic():
        picked = list(publishable.values_list("pk", "author_id", "slug"))
        picked_drafts = Post.objects.filter(pk__in=[pk for pk, _, _ in picked], status=Post.Status.DRAFT)
        picked_drafts.filter(published_at__isnull=True).update(published_at=now)
        published = picked_drafts.update(status=Post.Status.PUBLISHED, updated_at=now)
        follow_status_change(picked)
        return published, drafts.filter(author__is_verified=False).count()


def publish_due_posts(*, now=None):
    """Publish the scheduled posts whose time has come, each once (the status moves in the same UPDATE that picks
    it), their authors verified. Returns how many went live."""
    now = now or timezone.now()
    due = Post.objects.filter(status=Post.Status.SCHEDULED, publish_at__lte=now, author__is_verified=True)
    with transaction.atomic():
        # Locked and skipped when locked, so that two runs at once publish each post once; the status moves
        # in an UPDATE that checks it again.
        picked = list(due.select_for_update(skip_locked=True).values_list("pk", "author_id", "slug"))
        published = Post.objects.filter(pk__in=[pk for pk, _, _ in picked], status=Post.Status.SCHEDULED).update(
            status=Post.Status.PUBLISHED, published_at=Coalesce(F("published_at"), F("publish_at")), updated_at=now
        )
        if published:
            follow_status_change(picked, now=now)
    return published


def unschedule_posts(*, posts):
    """Scheduled posts back to drafts."""
    with transaction.atomic():
        return posts.filter(status=Post.Status.SCHEDULED).update(status=Post.Status.DRAFT, updated_at=timezone.now())


def unpublish_posts(*, posts):
    with transaction.atomic():
        published = list(posts.filter(status=Post.Status.PUBLISHED).values_list("pk", "author_id", "slug"))
        unpublished = Post.objects.filter(pk__in=[pk for pk, _, _ in published], status=Post.Status.PUBLISHED).update(
            status=Post.Status.DRAFT, updated_at=timezone.now()
        )
        follow_status_change(published)
        return unpublished


def delete_posts(*, posts):
    """Delete posts with their daily views. Locked first, in id order as the flush locks them, so that a flush
    adding daily rows to one of them finishes before the deletion looks for its rows to delete."""
    with transaction.atomic():
        author_ids = {
            author_id for _, author_id in posts.select_for_update().order_by("pk").values_list("pk", "author_id")
        }
        deleted = posts.delete()
        keep_report_schedules(author_ids)
        return deleted


def follow_status_change(posts, *, now=None):
    """After an update() moved these posts' status (pk, author_id, slug each), in its transaction: their authors'
    report schedules follow, and their pages are read again once committed (update() sends no post_save)."""
    keep_report_schedules({author_id for _, author_id, _ in posts}, now=now)
    invalidate_pages_on_commit([slug for _, _, slug in posts])


def report_receivers():
    """Users who receive reports when they have a published post: active, verified, reports not turned off."""
    User = get_user_model()
    return User.objects.filter(is_active=True, is_verified=True).exclude(report_frequency=report_times.OFF)


def invalidate_pages_on_commit(slugs, *, using=None):
    """Once the transaction commits, the pages at these slugs are read again (and only those)."""
    transaction.on_commit(functools.partial(invalidate_post_pages, slugs), using=using)


def keep_report_schedules(author_ids, *, now=None):
    """An author is due reports (their next_report_at is set) while they have a published post, so that the tick
    finds the due on the users' index without reading posts. Called in each transaction that publishes,
    unpublishes or deletes posts: the first published post schedules the next report, the last one gone clears
    it. The authors' rows are locked first; each statement after the lock sees what a transaction that held it
    committed, so two of these for one author (a post published while another is deleted) agree."""
    User = get_user_model()
    now = now or timezone.now()
    with transaction.atomic():
        locked = list(
            User.objects.select_for_update().filter(pk__in=author_ids).order_by("pk").values_list("pk", flat=True)
        )
        published = Exists(Post.objects.filter(author=OuterRef("pk"), status=Post.Status.PUBLISHED))
        User.objects.filter(pk__in=locked, next_report_at__isnull=False).exclude(published).update(next_report_at=None)
        starting = list(
            report_receivers()
            .filter(published, pk__in=locked, next_report_at__isnull=True)
            .only("report_time_zone", "report_hour", "report_frequency")
        )
        for author in starting:
            author.next_report_at = report_times.next_slot(
                after=now, time_zone=author.report_time_zone, hour=author.report_hour, frequency=author.report_frequency
            )
        User.objects.bulk_update(starting, ["next_report_at"])


# --- Views ---------------------------------------------------------------------------------------------


def authors_today(time_zone):
    """Today in the post author's zone: each view is counted on the author's day, so that their report's
    "yesterday" is theirs. An author who changes zone keeps the days already counted as they were."""
    return timezone.localdate(timezone=report_times.zone(time_zone))


def current_view_count(post):
    """The views the post's page shows, counting none."""
    try:
        post_views = view_buffer.count_view(post.pk, timezone.localdate(), counted=False)
    except redis.RedisError:
        return post.view_count
    return views_shown(post_views, post_id=post.pk, views_in_database=post.view_count)


def current_view_counts(views_in_database):
    """{post_id: the views its page shows} for many posts (a page of the admin's list, an author's report), given
    {post_id: views in the database}, in one Redis round trip; the database's counts alone while Redis is
    unavailable."""
    try:
        views = view_buffer.views_of_posts(list(views_in_database))
    except redis.RedisError:
        return dict(views_in_database)
    return {
        post_id: shown_views(views[post_id], views_in_database=in_database)
        for post_id, in_database in views_in_database.items()
    }


def shown_views(post_views, *, views_in_database):
    """In the database (as the last flush left them in Redis, else as read) plus not flushed yet."""
    in_database = views_in_database if post_views.in_database is None else post_views.in_database
    return in_database + post_views.unflushed


def count_view_in_database(post_id, day):
    """One view counted straight into the database, when Redis is unavailable. Returns the post's views.

    The post's row first, then its daily row: the order the flush locks them in.
    """
    logger.warning("Redis unavailable: counting a view of post %s in the database", post_id)
    with transaction.atomic():
        if not Post.objects.filter(pk=post_id).update(view_count=F("view_count") + 1):
            return 0  # deleted meanwhile
        if not DailyPostViews.objects.filter(post_id=post_id, date=day).update(views=F("views") + 1):
            try:
                with transaction.atomic():
                    DailyPostViews.objects.create(post_id=post_id, date=day, views=1)
            except IntegrityError:  # created concurrently by another view
                DailyPostViews.objects.filter(post_id=post_id, date=day).update(views=F("views") + 1)
        return Post.objects.filter(pk=post_id).values_list("view_count", flat=True).get()


def views_shown(post_views, *, post_id, views_in_database=None):
    """A post's views as its page shows them: in the database (as the last flush left them in Redis, else as the
    database says, read now unless given) plus those not flushed yet."""
    if post_views.in_database is None:
        if views_in_database is None:
            views_in_database = Post.objects.filter(pk=post_id).values_list("view_count", flat=True).first() or 0
        try:
            view_buffer.remember_views_in_database(post_id, views_in_database)
        except redis.RedisError:
            pass
    return shown_views(post_views, views_in_database=views_in_database)


def flush_view_counts():
    """Move buffered views from Redis into the database, exactly once per batch. Returns views moved.

    The batch is applied in chunks of VIEW_FLUSH_CHUNK_SIZE post-days, each in a short transaction recorded by
    its own ViewFlush row, so that a flush that dies half-way and runs again applies each chunk once.
    """
    batch_id, counts = view_buffer.take_batch()
    if batch_id is None:
        return 0
    moved, views_in_database = 0, {}
    post_days, size = sorted(counts.items()), settings.VIEW_FLUSH_CHUNK_SIZE
    for number, start in enumerate(range(0, len(post_days), size)):
        chunk = dict(post_days[start : start + size])
        readers = view_buffer.readers_on(list(chunk))
        chunk_moved, chunk_views = add_views_to_database(chunk, readers=readers, flush_id=f"{batch_id}:{number}")
        moved += chunk_moved
        views_in_database.update(chunk_views)
    view_buffer.drop_batch(batch_id, views_in_database=views_in_database)
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
