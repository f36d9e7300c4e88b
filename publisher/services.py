"""Publishing use cases: authors, slugs, publishing, and counting views."""

import logging
from collections import defaultdict
from datetime import timedelta

import redis
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from slugify import slugify

from . import view_buffer
from .models import DailyPostViews, Post, ViewFlush
from .post_pages import forget_kept_pages

logger = logging.getLogger(__name__)

AUTHORS_GROUP = "Authors"
# First path segments that belong to the site, never to a post.
RESERVED_SLUGS = frozenset(
    {"admin", "signup", "verify", "login", "logout", "account", "password-reset", "feed", "sitemap-xml", "healthz",
     "inbox", "reports", "static", "media", "page", "api"}
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
        publishable.filter(published_at__isnull=True).update(published_at=now)
        transaction.on_commit(forget_kept_pages)  # update() sends no post_save
        published = publishable.update(status=Post.Status.PUBLISHED, updated_at=now)
        return published, drafts.filter(author__is_verified=False).count()


def unpublish_posts(*, posts):
    with transaction.atomic():
        transaction.on_commit(forget_kept_pages)  # update() sends no post_save
        return posts.filter(status=Post.Status.PUBLISHED).update(status=Post.Status.DRAFT, updated_at=timezone.now())


# --- Views -------------------------------------------------------------------------------------------


def record_view(post, *, try_redis=True):
    """Count one view of the post; return its total, including views not yet flushed to the database.

    try_redis=False when Redis already failed this request: a second timeout would double the wait, and the
    increment a timed-out call had sent may still be applied, so the view must not be sent again.
    """
    today = timezone.localdate()
    if try_redis:
        try:
            return post.view_count + view_buffer.add_view(post.pk, today)
        except redis.RedisError:
            pass
    logger.warning("Redis unavailable: counting a view of post %s in the database", post.pk)
    add_views_to_database({(post.pk, today): 1})
    return Post.objects.filter(pk=post.pk).values_list("view_count", flat=True).first() or 0


def current_view_count(post, *, try_redis=True):
    if try_redis:
        try:
            return post.view_count + view_buffer.unflushed_views(post.pk)
        except redis.RedisError:
            pass
    return post.view_count


def add_views_to_database(counts):
    """Add {(post_id, date): views} to the daily rows and the posts' totals, with increments, not overwrites."""
    totals = defaultdict(int)
    existing_posts = set(Post.objects.filter(pk__in={pk for pk, _ in counts}).values_list("pk", flat=True))
    for (post_id, day), views in counts.items():
        if post_id not in existing_posts:
            continue  # deleted since it was viewed
        totals[post_id] += views
        updated = DailyPostViews.objects.filter(post_id=post_id, date=day).update(views=F("views") + views)
        if not updated:
            try:
                with transaction.atomic():
                    DailyPostViews.objects.create(post_id=post_id, date=day, views=views)
            except IntegrityError:  # created concurrently by the database fallback
                DailyPostViews.objects.filter(post_id=post_id, date=day).update(views=F("views") + views)
    for post_id, views in totals.items():
        Post.objects.filter(pk=post_id).update(view_count=F("view_count") + views)
    return sum(totals.values())


def flush_view_counts():
    """Move buffered views from Redis into the database, exactly once per batch. Returns views moved."""
    batch_id, counts = view_buffer.take_batch()
    if batch_id is None:
        return 0
    try:
        with transaction.atomic():
            ViewFlush.objects.create(batch_id=batch_id, views=sum(counts.values()))
            moved = add_views_to_database(counts)
    except IntegrityError:
        if not batch_already_flushed(batch_id):
            # Something else failed the commit (PostgreSQL checks foreign keys then, so a post deleted
            # mid-flush does): nothing was applied, and the batch stays in Redis for the next flush.
            raise
        logger.info("View batch %s was already flushed; dropping it", batch_id)
        moved = 0
    view_buffer.drop_batch(batch_id)
    ViewFlush.objects.filter(flushed_at__lt=timezone.now() - VIEW_FLUSH_RECORDS_KEPT).delete()
    return moved


def batch_already_flushed(batch_id):
    return ViewFlush.objects.filter(batch_id=batch_id).exists()
