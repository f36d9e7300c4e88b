"""A change that Redis is unreachable for is recorded in the database, and every cached page read again once Redis
answers, by the stored periodic task: a cached page does not wait for its expiry to show the change."""

import pytest
import redis
from django_celery_beat.models import PeriodicTask

from publisher import periodic_tasks
from publisher.models import LostPageInvalidation
from publisher.page_cache import replay_lost_invalidations
from publisher.posts import save_post
from quick_publisher import redis_client
from quick_publisher.celery import app as celery_app
from quick_publisher.redis_server import free_port
from tests.factories import PostFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def view(client, post):
    return client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()


def edited_while_redis_is_unreachable(settings, post, title):
    """Save the post with this title while the site's Redis client cannot connect (its on-commit invalidation
    fails), then give the site its Redis back."""
    reachable = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.client.cache_clear()
    try:
        post.title = title
        save_post(post)  # autocommit: its on-commit invalidation runs now, and meets no Redis
    finally:
        settings.REDIS_URL = reachable
        redis_client.client.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_a_change_redis_missed_is_shown_once_the_stored_task_runs(client, settings, celery_worker):
    post = PostFactory(title="Before the outage")
    assert "Before the outage" in view(client, post)  # cached
    edited_while_redis_is_unreachable(settings, post, "Edited during the outage")
    assert LostPageInvalidation.objects.count() == 1
    assert "Before the outage" in view(client, post)  # the cached page's version never moved

    stored = PeriodicTask.objects.get(name=periodic_tasks.PAGE_INVALIDATIONS)
    assert stored.enabled and stored.interval.every == 60
    assert celery_app.send_task(stored.task).get(timeout=20) == {"lost_invalidations_replayed": 1}
    assert "Edited during the outage" in view(client, post)
    assert not LostPageInvalidation.objects.exists()
    assert celery_app.send_task(stored.task).get(timeout=20) == {"lost_invalidations_replayed": 0}


@pytest.mark.django_db(transaction=True)
def test_lost_changes_wait_while_redis_is_still_unreachable(client, settings):
    post = PostFactory()
    view(client, post)
    edited_while_redis_is_unreachable(settings, post, "Edited")
    reachable = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.client.cache_clear()
    try:
        with pytest.raises(redis.RedisError):
            replay_lost_invalidations()
    finally:
        settings.REDIS_URL = reachable
        redis_client.client.cache_clear()
    assert LostPageInvalidation.objects.count() == 1  # kept for the next run
