"""Counting a view straight into the database, while Redis is unavailable."""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F

from ..models import DailyPostViews, Post

logger = logging.getLogger(__name__)


def count_view_in_database(post_id, day):
    """One view counted into the post's total and its day. Returns the post's views.

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
