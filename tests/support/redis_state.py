"""The platform's state in Redis, as the tests reset and make it: clear_shared_state (rate-limit counters, buffered
views, shared cached pages) and record_view (a view counted as a post's page counts it).

The only support module that imports publisher (its counting package).
"""

import redis

from publisher.counting import count_view_in_database, shown_views_of_post
from publisher.counting.batch import process_views, sender
from publisher.counting.visit import visit_post_page
from quick_publisher.redis_client import client as redis_client
from quick_publisher.time_zones import today_in


def clear_shared_state():
    """Delete the rate-limit counters, buffered views, shared cached pages and cached users (only those keys: flushing
    the database would also drop the broker's queue bindings), and what this process's view batches hold and know."""
    forget_process_views()
    client = redis_client()
    for pattern in ("*rl:*", "views:*", "post-pages:*", "*:user:*"):
        for key in client.scan_iter(match=pattern, count=1000):
            client.delete(key)


def record_view(post, *, day=None):
    """Count one view of the post as its page does (in Redis; in the database when Redis is unavailable) on the
    author's day, or `day`, and return the views its page would show."""
    day = day or today_in(post.author.time_zone)
    try:
        visit_post_page(post.slug, post_id=post.pk, day=day, counted=True)
    except redis.RedisError:
        return count_view_in_database(post.pk, day)
    return shown_views_of_post(post)


def forget_process_views():
    """What this process's view batches hold and know of a test's views goes with the test (nothing is left for the
    exit hook to send to a Redis and a database that are gone by then)."""
    with sender.send_lock:
        process_views.forget()
        redis_client.cache_clear()  # the sender may have made one while a test pointed REDIS_URL elsewhere
