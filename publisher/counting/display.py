"""The views a page shows: those in the database (as the last flush left them in Redis, else as the database says)
plus those not flushed yet, this process's batch included. Read in Redis, with the database's counts alone while
Redis is unavailable."""

import redis

from ..models import Post
from . import buffer
from .batch import process_views


def total(views, *, views_in_database):
    in_database = views_in_database if views.in_database is None else views.in_database
    return in_database + views.unflushed


def shown_views(views, *, post_id, views_in_database=None):
    """A post's views (BufferedViews, as a visit read them) as its page shows them; the database is read if Redis
    has no flush's figure and none is given, and Redis keeps it from then on."""
    if views.in_database is None:
        if views_in_database is None:
            views_in_database = Post.objects.filter(pk=post_id).values_list("view_count", flat=True).first() or 0
        try:
            buffer.remember_views_in_database(post_id, views_in_database)
        except redis.RedisError:
            pass
    return total(views, views_in_database=views_in_database)


def shown_views_of_posts(views_in_database):
    """{post_id: the views its page shows} for many posts (a page of the admin's list, an author's report), given
    {post_id: views in the database}, in one Redis round trip."""
    try:
        views = buffer.views_of_posts(list(views_in_database))
    except redis.RedisError:
        return dict(views_in_database)
    return {
        post_id: total(views[post_id], views_in_database=in_database) + process_views.not_yet_in_redis(post_id)
        for post_id, in_database in views_in_database.items()
    }


def shown_views_of_post(post):
    """The views a post's page shows, counting none (the admin, a preview)."""
    return shown_views_of_posts({post.pk: post.view_count})[post.pk]


def with_shown_views(posts):
    """The posts of a list page (home, an author's, a tag's), each with `views_shown`, the views its own page
    shows, read for all of them in one Redis round trip."""
    posts = list(posts)
    views = shown_views_of_posts({post.pk: post.view_count for post in posts})
    for post in posts:
        post.views_shown = views[post.pk]
    return posts
