"""Redis stops, or hangs, and comes back (items 1 and 5).

These stop the session's private Redis for real (SHUTDOWN SAVE, as a service stop does; its append-only file is
kept) and start it again on the same port, or freeze it with SIGSTOP (connections stay open, nothing answers:
a stalled server, or a network partition), so they run only when REDIS_URL is unset.
"""

import signal
import time
from datetime import timedelta

import pytest
import redis
from django.db.models.signals import post_save
from django.test import Client
from django.utils import timezone

from main.models import User
from main.tasks import resend_missing_verifications
from publisher import counting
from publisher.counting import batch, buffer
from publisher.models import DailyPostViews, Post, ViewFlush
from publisher.tasks import flush_view_counts
from quick_publisher.cache import LEAVE_ALONE_AFTER_ERROR
from tests.factories import PASSWORD, PostFactory, UserFactory
from tests.support.brokers import broker_is_amqp
from tests.support.waiting import request_wait_budget, timed, wait_until

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def sign_up(n):
    data = {"email": f"reader{n}@example.com", "full_name": f"Reader {n}", "password1": PASSWORD, "password2": PASSWORD}
    with timed() as timing:
        response = Client().post("/signup/", data)
    return response, timing


# --- Item 1: sign-ups while Redis is down ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_during_sign_ups_each_is_saved_fast_and_mailed_once_when_it_is_back(
    private_redis, smtp, celery_worker
):
    # A sign-up just before Redis stops: its task is queued, and kept in Redis's append-only file.
    response, _ = sign_up(0)
    assert response.status_code == 302
    private_redis.stop()

    for n in range(1, 6):
        response, timing = sign_up(n)
        assert response.status_code == 302 and response.url == "/signup/done/"
        assert timing.waited < request_wait_budget(), f"sign-up {n} with Redis down: {timing}"
    users = User.objects.filter(email__startswith="reader")
    assert users.count() == 6
    if not broker_is_amqp():  # Redis was the broker too: those tasks could not be queued
        assert users.filter(verification_sent_at__isnull=True).count() >= 5

    private_redis.start()
    # A minute later beat runs the sweeper (here: the sign-ups are made older than the sweeper's minimum age).
    # It also picks up the first sign-up, whose own task may not have run yet: the row lock sends one email.
    users.update(date_joined=timezone.now() - timedelta(minutes=2))
    resend_missing_verifications.delay()
    resend_missing_verifications.delay()  # twice, as two beats would

    smtp.wait_for(6, timeout=30)
    assert smtp.settle() and smtp.count_by_recipient() == {user.email: 1 for user in users}
    wait_until(lambda: not users.filter(verification_sent_at__isnull=True).exists())


@pytest.mark.django_db(transaction=True)
def test_redis_hanging_during_sign_ups_each_waits_only_the_redis_timeouts_and_is_mailed_once(
    private_redis, smtp, request
):
    """Redis hangs instead of refusing (SIGSTOP: a stalled server, or a network partition): connections open,
    commands get no answer. The cache and the broker must give up within their short timeouts. (The worker
    starts afterwards: in this process, its threads would compete with the requests being timed.)"""
    response, _ = sign_up(0)  # the web process's connections to Redis are open when it hangs
    assert response.status_code == 302
    private_redis.process.send_signal(signal.SIGSTOP)
    try:
        for n in range(1, 4):
            response, timing = sign_up(n)
            assert response.status_code == 302
            assert timing.waited < request_wait_budget(), f"sign-up {n} with Redis hanging: {timing}"
    finally:
        private_redis.process.send_signal(signal.SIGCONT)

    users = User.objects.filter(email__startswith="reader")
    assert users.count() == 4
    users.update(date_joined=timezone.now() - timedelta(minutes=2))
    request.getfixturevalue("celery_worker")
    resend_missing_verifications.delay()  # and the first sign-up's own task, queued before Redis hung
    smtp.wait_for(4, timeout=30)
    assert smtp.settle() and smtp.count_by_recipient() == {user.email: 1 for user in users}


# --- Item 5: views while Redis is down ---------------------------------------------------------------


def read(post, times, *, client=None):
    client = client or Client()
    for _ in range(times):
        response = client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER)
        assert response.status_code == 200
    return response


def database_counts(post):
    today = timezone.localdate()
    daily = DailyPostViews.objects.filter(post=post, date=today).values_list("views", flat=True).first() or 0
    return Post.objects.get(pk=post.pk).view_count, daily


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_while_readers_open_posts_every_view_counted_exactly_once(private_redis, request):
    first, second = PostFactory(), PostFactory()
    read(first, 3)
    read(second, 2)
    counting.send_pending_views()  # buffered in Redis, not in the database yet
    assert database_counts(first) == database_counts(second) == (0, 0)

    private_redis.stop()
    time.sleep(batch.PAGE_VERSION_MAX_AGE)  # this process no longer trusts what it knew of the pages: it asks Redis
    for _ in range(4):
        with timed() as timing:
            response = read(first, 1)
        assert timing.waited < request_wait_budget(timeouts=1), f"a page with Redis stopped: {timing}"
    read(second, 5)
    assert "Viewed 4 times" in response.content.decode()  # the database's count: the buffer is unreachable
    assert database_counts(first) == (4, 4) and database_counts(second) == (5, 5)  # counted in the database

    private_redis.start()  # the buffered views come back from the append-only file
    read(first, 1)

    request.getfixturevalue("celery_worker")
    flush_view_counts.delay().get(timeout=20)
    flush_view_counts.delay().get(timeout=20)  # a second flush finds nothing left to add
    assert database_counts(first) == (3 + 4 + 1, 3 + 4 + 1)
    assert database_counts(second) == (2 + 5, 2 + 5)
    assert ViewFlush.objects.count() == 1
    # A process that reads the page now (one that read it before shows its last total from Redis, and its own views,
    # until it sends a view of the post again).
    batch.process_views.forget()
    page = Client().get(f"/{first.slug}/", HTTP_USER_AGENT="Googlebot/2.1")  # shown, not counted
    assert "Viewed 8 times" in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_redis_stopping_after_a_flush_committed_does_not_count_the_batch_twice(private_redis):
    post = PostFactory()
    read(post, 6)

    def stop_redis_as_the_batch_is_recorded(sender, instance, created, **kwargs):
        private_redis.stop()  # the flush's transaction goes on and commits; dropping the batch then fails

    post_save.connect(stop_redis_as_the_batch_is_recorded, sender=ViewFlush, weak=False)
    try:
        with pytest.raises(redis.ConnectionError):  # dropping the batch, after the commit
            counting.flush_views()
    finally:
        post_save.disconnect(stop_redis_as_the_batch_is_recorded, sender=ViewFlush)
    assert database_counts(post) == (6, 6)

    private_redis.start()  # the batch is still in Redis, as views:flushing
    assert buffer.unflushed_views(post.pk) == 6
    assert counting.flush_views() == 0  # recognised as already flushed, and dropped
    assert buffer.unflushed_views(post.pk) == 0
    assert database_counts(post) == (6, 6)


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_redis_reply_times_out_is_counted_at_least_once(private_redis):
    """The limit of the database fallback, pinned down: Redis hangs (a stalled server, a network partition)
    instead of refusing. The batch gives up on Redis after REDIS_SOCKET_TIMEOUT and is counted in the database;
    if its script had reached Redis, Redis applies it too when it wakes up. At least once, at most twice."""
    post = PostFactory()
    read(post, 1)
    counting.send_pending_views()  # the process's connection to Redis is open
    read(post, 2)  # two views in this process's batch
    private_redis.process.send_signal(signal.SIGSTOP)
    try:
        with timed() as timing:
            counting.send_pending_views()  # gives up after one REDIS_SOCKET_TIMEOUT
        assert timing.waited < request_wait_budget(timeouts=2), f"a batch with Redis hanging: {timing}"
        assert database_counts(post) == (2, 2)
    finally:
        private_redis.process.send_signal(signal.SIGCONT)
    time.sleep(1)  # whatever Redis still had to apply
    counting.flush_views()
    assert database_counts(post) in {(3, 3), (5, 5)}  # three views served: none lost, the batch at most twice


# --- Signed-in readers while Redis is down ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_deactivation_redis_missed_signs_the_reader_out_within_the_user_cache_timeout(private_redis, settings):
    settings.USER_CACHE_TIMEOUT = 5
    post = PostFactory()
    reader = UserFactory(is_verified=True)
    client = Client()
    assert client.login(email=reader.email, password=PASSWORD)
    assert "Log out" in read_as(client, post)  # the user is cached now

    private_redis.stop()
    assert "Log out" in read_as(client, post)  # the session and the user from the database
    reader.is_active = False
    reader.save()  # the cached user's deletion misses Redis
    assert "Log in" in read_as(client, post)

    private_redis.start()  # the entry comes back from the append-only file, with its expiry
    time.sleep(LEAVE_ALONE_AFTER_ERROR)  # until then the cache does not try Redis again
    wait_until(lambda: "Log in" in read_as(client, post), timeout=settings.USER_CACHE_TIMEOUT + 5, interval=0.5)


def read_as(client, post):
    return read(post, 1, client=client).content.decode()
