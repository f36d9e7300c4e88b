"""Posts' use cases: slugs, saving, publishing (now or at a set time), unpublishing and deleting. Each status
change keeps its authors' report schedules in the same transaction and has its pages read again once committed."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from slugify import slugify

from . import page_cache, reports
from .models import Post

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
        "authors",
        "tags",
        "search",
    }
)


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
        # in an UPDATE that checks it again. Only the posts' rows: a locked author row would make the other run
        # skip every post of that author.
        picked = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", "author_id", "slug"))
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
        reports.keep_schedules(author_ids)
        return deleted


def follow_status_change(posts, *, now=None):
    """After an update() moved these posts' status (pk, author_id, slug each), in its transaction: their authors'
    report schedules follow, and their pages are read again once committed (update() sends no post_save)."""
    reports.keep_schedules({author_id for _, author_id, _ in posts}, now=now)
    page_cache.invalidate_pages_on_commit([slug for _, _, slug in posts])
