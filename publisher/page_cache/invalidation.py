"""When cached post pages are read again: after a commit that changes their post, or what every page shows. A
change that Redis is unreachable for is recorded in the database, and every page read again once Redis answers
(replay_lost_invalidations, a periodic task): a cached page never outlives a change for longer than that."""

import functools
import logging

import redis
from django.db import DatabaseError, transaction

from ..models import LostPageInvalidation, Post
from . import versions

logger = logging.getLogger(__name__)

AUTHOR_FIELDS_SHOWN = {"full_name", "slug", "time_zone"}  # the zone: what day a view is counted on


def invalidate_all_pages():
    """After a commit that changes what every post page may show: every process reads its pages again."""
    try:
        versions.renew_site_version()
    except redis.RedisError as error:
        remember_lost_invalidation(error, "every post page")


def invalidate_pages(slugs):
    """After a commit that changes these posts (or a post that was at one of these slugs): their pages are read
    again, the others stay cached."""
    try:
        versions.renew_page_versions(slugs, kept=versions.page_version_kept())
    except redis.RedisError as error:
        remember_lost_invalidation(error, f"post pages {slugs}")


def invalidate_pages_on_commit(slugs, *, using=None):
    """Once the transaction commits, the pages at these slugs are read again (and only those)."""
    transaction.on_commit(functools.partial(invalidate_pages, slugs), using=using)


def invalidate_pages_of_author(user, *, created, update_fields):
    """After a user is saved: pages show their author's name and link (its slug), not the rest (not a sign-up's
    user, who has no posts, nor a login's last_login), and a Redis call on those saves would slow them when Redis
    hangs."""
    if created or (update_fields is not None and not AUTHOR_FIELDS_SHOWN & set(update_fields)):
        return
    if user.posts.filter(status=Post.Status.PUBLISHED).exists():
        transaction.on_commit(invalidate_all_pages)


def remember_lost_invalidation(error, pages):
    """Redis missed a change to these pages: record it, so that every page is read again once Redis answers."""
    logger.warning("Redis unavailable (%s): %s will be read again once it answers", error, pages)
    try:
        LostPageInvalidation.objects.create()
    except DatabaseError:
        logger.exception(
            "Could not record a lost invalidation: %s may be stale for up to %s seconds",
            pages,
            versions.cache_timeout(),
        )


def replay_lost_invalidations():
    """Every page read again if a change was lost to Redis since the last replay; the changes recorded until then
    are deleted once Redis has taken it (a Redis still unreachable raises, and they wait). Returns how many."""
    latest = LostPageInvalidation.objects.order_by("-pk").values_list("pk", flat=True).first()
    if latest is None:
        return 0
    versions.renew_site_version()
    deleted, _ = LostPageInvalidation.objects.filter(pk__lte=latest).delete()
    return deleted
