"""When cached post pages are read again: after a commit that changes their post, or what every page shows."""

import functools
import logging

import redis
from django.db import transaction

from ..models import Post
from . import versions
from .store import cache_timeout

logger = logging.getLogger(__name__)

AUTHOR_FIELDS_SHOWN = {"full_name", "slug", "time_zone"}  # the zone: what day a view is counted on


def invalidate_all_pages():
    """After a commit that changes what every post page may show: every process reads its pages again."""
    try:
        versions.renew_site_version()
    except redis.RedisError:
        logger.warning("Redis unavailable: cached post pages may be stale for up to %s seconds", cache_timeout())


def invalidate_pages(slugs):
    """After a commit that changes these posts (or a post that was at one of these slugs): their pages are read
    again, the others stay cached."""
    try:
        versions.renew_page_versions(slugs, kept=2 * cache_timeout())
    except redis.RedisError:
        logger.warning("Redis unavailable: post pages %s may be stale for up to %s seconds", slugs, cache_timeout())


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
