"""The platform's state in Redis, as the tests reset and make it: clear_shared_state (rate-limit counters, buffered
views, shared cached pages) and record_view (a view counted as a post's page counts it).

The only support module that imports the apps (publisher's services and view buffer).
"""

import redis

from publisher import services, view_buffer


def clear_shared_state():
    """Delete the rate-limit counters, buffered views and shared cached pages (only those keys: flushing the database
    would also drop the broker's queue bindings)."""
    client = view_buffer.client()
    for pattern in ("*rl:*", "views:*", "post-pages:*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


def record_view(post, *, day=None):
    """Count one view of the post as its page does (in Redis; in the database when Redis is unavailable) on the
    author's day, or `day`, and return the views its page would show."""
    day = day or services.authors_today(post.author.report_time_zone)
    try:
        post_views = view_buffer.count_view(post.pk, day)
    except redis.RedisError:
        return services.count_view_in_database(post.pk, day)
    return services.views_shown(post_views, post_id=post.pk, views_in_database=post.view_count)
