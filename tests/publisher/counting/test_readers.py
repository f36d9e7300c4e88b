"""Distinct readers beside views: estimated in Redis (HyperLogLog), stored as a number, never as who read."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.utils import timezone

from publisher import counting
from publisher.counting import readers
from publisher.counting.visit import visit_post_page
from publisher.models import DailyPostViews
from quick_publisher import redis_client
from tests.factories import PostFactory

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def read(post, *, address, agent=AGENT, times=1):
    client = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    for _ in range(times):
        assert client.get(f"/{post.slug}/").status_code == 200


@pytest.mark.django_db
def test_a_hundred_readers_reading_five_times_each_are_500_views_and_about_100_readers():
    post = PostFactory()
    for n in range(100):
        read(post, address=f"198.51.100.{n}", times=5)
    counting.flush_views()
    day = DailyPostViews.objects.get(post=post)
    assert day.views == 500
    assert 98 <= day.readers <= 102  # HyperLogLog's error is about 1%


@pytest.mark.django_db
def test_the_same_address_with_another_browser_is_another_reader_and_bots_are_no_readers():
    post = PostFactory()
    read(post, address="198.51.100.1", agent=AGENT)
    read(post, address="198.51.100.1", agent=AGENT.replace("Chrome/120.0", "Firefox/121.0"))
    read(post, address="198.51.100.2", agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
    counting.flush_views()
    assert DailyPostViews.objects.values_list("views", "readers").get(post=post) == (2, 2)


@pytest.mark.django_db
def test_a_later_flush_keeps_the_days_readers_growing_not_added_twice():
    post = PostFactory()
    read(post, address="198.51.100.1", times=2)
    counting.flush_views()
    read(post, address="198.51.100.1")  # the same reader again, after the flush
    read(post, address="198.51.100.2")
    counting.flush_views()
    assert DailyPostViews.objects.values_list("views", "readers").get(post=post) == (4, 2)


@pytest.mark.django_db
def test_each_day_has_its_own_salt_so_readers_cannot_be_followed_across_days():
    post = PostFactory()
    today = timezone.localdate()
    tomorrow = today + timedelta(days=1)
    for day in (today, tomorrow):
        visit_post_page(post.slug, post_id=post.pk, day=day, counted=True, reader="198.51.100.1\nagent")
    salts = [redis_client.client().get(f"{readers.READERS_SALT}:{day.isoformat()}") for day in (today, tomorrow)]
    assert None not in salts and salts[0] != salts[1]
    assert redis_client.client().ttl(f"{readers.READERS_SALT}:{today.isoformat()}") <= readers.READERS_SALT_KEPT
    assert readers.readers_on([(post.pk, today), (post.pk, tomorrow)]) == {
        (post.pk, today): 1,
        (post.pk, tomorrow): 1,
    }


@pytest.mark.django_db
def test_no_address_or_user_agent_reaches_the_database():
    post = PostFactory()
    address, agent = "203.0.113.77", "Mozilla/5.0 (Quick-Publisher-Probe-Agent) Gecko/20100101 Firefox/121.0"
    read(post, address=address, agent=agent, times=3)
    counting.flush_views()
    assert DailyPostViews.objects.get(post=post).readers == 1
    for model in apps.get_models():
        text_fields = [f.name for f in model._meta.get_fields() if isinstance(f, models.CharField | models.TextField)]
        for field in text_fields:
            for needle in (address, "Quick-Publisher-Probe-Agent"):
                found = model.objects.filter(**{f"{field}__contains": needle})
                assert not found.exists(), f"{model.__name__}.{field} holds {needle!r}"


@pytest.mark.django_db
def test_with_redis_unavailable_views_count_and_readers_stay_unknown(settings):
    post = PostFactory()
    read(post, address="198.51.100.1")
    counting.flush_views()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    redis_client.client.cache_clear()
    try:
        read(post, address="198.51.100.2")  # counted in the database; this reader is not known
    finally:
        redis_client.client.cache_clear()
    assert DailyPostViews.objects.values_list("views", "readers").get(post=post) == (2, 1)
