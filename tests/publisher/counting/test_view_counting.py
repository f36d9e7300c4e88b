"""Counting views: atomic in Redis on the page, moved exactly once into the database, never lost."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from django.db import connection, connections, transaction
from django.db.models import Sum
from django.db.models.signals import post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publisher import counting
from publisher.counting import batch, buffer, readers
from publisher.counting import flush as counting_flush
from publisher.models import DailyPostViews, Post, ViewFlush
from publisher.page_cache import invalidation, store, versions
from publisher.posts import delete_posts, publish_due_posts, publish_posts, save_post, unpublish_posts
from publisher.tasks import flush_view_counts
from quick_publisher import redis_client
from quick_publisher.redis_server import free_port
from tests.factories import PostFactory, UserFactory
from tests.support.redis_state import record_view
from tests.support.waiting import request_wait_budget, timed, wait_until

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
# Far enough apart that "today" is never the same date in both.
EARLIEST_TIME_ZONE = ZoneInfo("Pacific/Kiritimati")  # UTC+14
LATEST_TIME_ZONE = ZoneInfo("Pacific/Pago_Pago")  # UTC-11


def view(client, post, method="get", user_agent=BROWSER):
    return getattr(client, method)(f"/{post.slug}/", HTTP_USER_AGENT=user_agent)


def database_views(post):
    post.refresh_from_db()
    daily = DailyPostViews.objects.filter(post=post).aggregate(total=Sum("views"))["total"] or 0
    return post.view_count, daily


@pytest.fixture
def redis_at_dead_port(settings):
    """The view buffer talks to a port where nothing listens, as when Redis is down."""
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_client.client.cache_clear()
    yield
    redis_client.client.cache_clear()


def run_in_thread(target):
    """Run target in a thread with its own database connection; return (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome["result"] = target()
        except Exception as exc:  # handed back to the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


# --- Each GET of a published post counts once ---------------------------------------------------------


@pytest.mark.django_db
def test_the_page_shows_the_database_count_plus_the_unflushed_views(client):
    post = PostFactory(view_count=40)
    record_view(post)
    record_view(post)
    assert "Viewed 43 times" in view(client, post).content.decode()
    assert "Viewed 43 times" in view(client, post, user_agent="Googlebot/2.1").content.decode()  # shown, not counted
    counting.flush_views()
    assert "Viewed 44 times" in view(client, post).content.decode()
    assert database_views(post)[0] == 43


@pytest.mark.django_db
@pytest.mark.parametrize(
    "user_agent",
    [
        "",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "curl/8.5.0",
        "facebookexternalhit/1.1",
        "python-requests/2.32.3",
        "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/120.0",
    ],
)
def test_bots_are_not_counted(client, user_agent):
    post = PostFactory()
    response = view(client, post, user_agent=user_agent)
    assert response.status_code == 200 and "Viewed 0 times" in response.content.decode()
    assert counting.shown_views_of_post(post) == 0
    counting.flush_views()
    assert database_views(post) == (0, 0)


@pytest.mark.django_db
def test_head_requests_are_not_counted_and_other_methods_are_refused(client):
    post = PostFactory()
    assert view(client, post, method="head").status_code == 200
    assert view(client, post, method="post").status_code == 405
    assert counting.shown_views_of_post(post) == 0
    assert view(client, post).status_code == 200
    assert counting.shown_views_of_post(post) == 1


@pytest.mark.django_db
def test_views_are_kept_per_day_of_the_author_as_well_as_in_total():
    post = PostFactory(view_count=5, author__time_zone=EARLIEST_TIME_ZONE.key)
    later_day = timezone.localdate(timezone=EARLIEST_TIME_ZONE)
    DailyPostViews.objects.create(post=post, date=later_day, views=5)  # flushed earlier that day
    for _ in range(3):
        record_view(post)
    post.author.time_zone = LATEST_TIME_ZONE.key  # the author moved: new views go on their new days
    earlier_day = timezone.localdate(timezone=LATEST_TIME_ZONE)
    assert record_view(post) == 5 + 4
    assert earlier_day < later_day

    assert counting.flush_views() == 4
    assert dict(DailyPostViews.objects.filter(post=post).values_list("date", "views")) == {later_day: 8, earlier_day: 1}
    assert database_views(post) == (9, 9)


# --- The post page cache: one Redis round trip, no database, never stale ---------------------------------------


@pytest.fixture
def days_salt_in_memory():
    """This process has counted a view today, so it holds the day's readers' salt: only its first counted view of
    a day reads it from the database."""
    readers.salt_of(timezone.now().date(), now=timezone.now())


@pytest.mark.django_db
def test_a_cached_page_is_served_without_the_database_and_is_the_rendered_page(
    client, django_assert_num_queries, days_salt_in_memory
):
    post = PostFactory(title="Cached <b>page</b>", content="Body with *emphasis*.")
    rendered = view(client, post, user_agent="Googlebot/2.1")  # rendered and cached, not counted
    with django_assert_num_queries(0):
        kept = view(client, post)
    assert kept.status_code == 200
    assert kept.content.decode() == rendered.content.decode().replace("Viewed 0 times", "Viewed 1 time")
    assert {k: v for k, v in kept.headers.items() if k != "Content-Length"} == {
        k: v for k, v in rendered.headers.items() if k != "Content-Length"
    }
    assert kept.headers["Vary"] == "Cookie"
    assert kept.headers["X-Frame-Options"] == "DENY" and "Content-Security-Policy" in kept.headers
    with django_assert_num_queries(0):
        assert "Viewed 2 times" in view(client, post).content.decode()
        assert view(client, post, method="head").status_code == 200
    assert counting.shown_views_of_post(post) == 2


@pytest.mark.django_db
def test_a_page_another_process_rendered_comes_from_the_shared_cache_without_the_database(
    client, django_assert_num_queries, days_salt_in_memory
):
    post = PostFactory(title="Rendered elsewhere")
    rendered = view(client, post, user_agent="Googlebot/2.1")  # rendered and cached in both tiers, not counted
    store.process_cache().clear()  # as in a process that has not served it
    with django_assert_num_queries(0):
        kept = view(client, post)
    assert kept.content.decode() == rendered.content.decode().replace("Viewed 0 times", "Viewed 1 time")
    with django_assert_num_queries(0):  # now in this process's cache too
        assert "Viewed 2 times" in view(client, post).content.decode()


@pytest.mark.django_db
def test_a_signed_in_readers_page_comes_from_the_cache_with_only_their_own_user_read(client, django_assert_num_queries):
    post = PostFactory(title="Cached for readers")
    reader = UserFactory(full_name="Signed-in reader")
    client.force_login(reader)
    view(client, post)  # rendered, and the post cached
    with django_assert_num_queries(1):  # the reader's user row; the session comes from the cache
        page = view(client, post).content.decode()
    assert "Cached for readers" in page and "Log out" in page and "Viewed 2 times" in page


@pytest.mark.django_db
@pytest.mark.parametrize("held_by", ["this process", "only the shared cache"])
def test_when_redis_refuses_a_cached_pages_view_the_request_tries_redis_once_and_counts_in_the_database(
    client, settings, monkeypatch, held_by
):
    post = PostFactory()
    view(client, post)
    view(client, post)  # cached in both tiers, and two views buffered
    counting.flush_views()
    if held_by == "only the shared cache":
        store.process_cache().clear()  # as in a process that has not served the page
    dead = f"redis://127.0.0.1:{free_port()}/0"  # Redis went away
    settings.REDIS_URL = dead
    settings.CACHES = {
        **settings.CACHES,
        "shared_post_pages": {**settings.CACHES["shared_post_pages"], "LOCATION": dead},
    }
    redis_client.client.cache_clear()
    connects = []
    connect = redis.connection.AbstractConnection.connect

    def connecting(self):
        connects.append(self.port)
        return connect(self)

    monkeypatch.setattr(redis.connection.AbstractConnection, "connect", connecting)
    try:
        response = view(client, post)
        # Known lately in this process: served and counted in memory, no round trip. Else one try at Redis.
        assert len(connects) == (0 if held_by == "this process" else 1)
        counting.send_pending_views()  # the batch, whose one try at Redis fails: into the database
    finally:
        redis_client.client.cache_clear()
    assert response.status_code == 200 and "Viewed 3 times" in response.content.decode()
    assert len(connects) <= 2
    assert database_views(post) == (3, 3)


@pytest.mark.django_db
def test_a_cached_page_still_counts_after_redis_lost_its_scripts(client):
    post = PostFactory()
    view(client, post)  # rendered, and cached
    redis_client.client().script_flush()  # as after a Redis restart or failover, with the data kept
    assert "Viewed 2 times" in view(client, post).content.decode()
    assert "Viewed 3 times" in view(client, post).content.decode()
    counting.send_pending_views()
    assert buffer.unflushed_views(post.pk) == 3


@pytest.mark.django_db
def test_a_signed_in_reader_never_gets_the_cached_anonymous_page(client):
    post = PostFactory()
    view(client, post)
    assert "Log in" in view(client, post).content.decode()  # cached by now
    client.force_login(UserFactory())
    page = view(client, post).content.decode()
    assert "Log out" in page and "Log in" not in page and "Viewed 3 times" in page
    client.logout()
    assert "Log in" in view(client, post).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_cached_pages_follow_every_change_to_what_they_show(client, django_capture_on_commit_callbacks, signed_in):
    post = PostFactory(title="First title", author__full_name="Ada Writer")
    if signed_in:
        client.force_login(UserFactory())
    view(client, post)

    def changed(change):
        with django_capture_on_commit_callbacks(execute=True):
            change()
        return view(client, post)

    post.title = "Second title"
    assert "Second title" in changed(lambda: save_post(post)).content.decode()
    post.author.full_name = "Ada Lovelace"
    assert "Ada Lovelace" in changed(post.author.save).content.decode()
    assert changed(lambda: unpublish_posts(posts=Post.objects.all())).status_code == 404
    assert changed(lambda: publish_posts(posts=Post.objects.all(), user=post.author)).status_code == 200
    assert changed(lambda: Post.objects.filter(pk=post.pk).delete()).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_only_changes_that_show_on_post_pages_invalidate_the_post_page_cache(client):
    """Sign-ups and logins save users too, and must not wait on Redis for pages they do not change."""
    post = PostFactory()
    version = versions.current_page_version(post.slug)
    reader = UserFactory()
    client.force_login(reader)  # saves last_login
    reader.full_name = "A reader with no posts"
    reader.save()
    assert versions.current_page_version(post.slug) == version
    post.author.full_name = "Renamed author"
    post.author.save()
    assert versions.current_page_version(post.slug) != version


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_change_to_one_post_leaves_the_other_pages_cached(
    client, django_capture_on_commit_callbacks, django_assert_num_queries, signed_in
):
    edited, other, drafted = PostFactory(), PostFactory(), PostFactory()
    PostFactory(status=Post.Status.SCHEDULED, publish_at=timezone.now() - timedelta(minutes=1))
    if signed_in:
        client.force_login(UserFactory())
    view(client, edited)
    view(client, other)
    with django_capture_on_commit_callbacks(execute=True):
        edited.title = "Edited"
        save_post(edited)
        unpublish_posts(posts=Post.objects.filter(pk=drafted.pk))
        publish_due_posts()
    with django_assert_num_queries(1 if signed_in else 0):  # a signed-in reader's own user, nothing for the page
        assert view(client, other).status_code == 200
    assert "Edited" in view(client, edited).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_a_cached_page_is_gone_from_the_address_its_post_moved_from(
    client, django_capture_on_commit_callbacks, signed_in
):
    post = PostFactory(slug="first-address")
    if signed_in:
        client.force_login(UserFactory())
    assert view(client, post).status_code == 200  # cached at /first-address/
    post.slug = "second-address"
    with django_capture_on_commit_callbacks(execute=True):
        save_post(post)
    assert client.get("/first-address/").status_code == 404
    assert view(client, post).status_code == 200


@pytest.mark.django_db
def test_a_page_version_outlives_every_page_cached_under_an_older_one():
    """A page's version expires when no page can still be cached under an older one, and not before."""
    post = PostFactory()
    invalidation.invalidate_pages([post.slug])
    ttl = redis_client.client().ttl(versions.page_version_key(post.slug))
    assert versions.cache_timeout() < ttl <= 2 * versions.cache_timeout()


@pytest.mark.django_db
def test_a_cached_page_shows_the_views_of_a_flush_in_progress_and_after_it(client, django_assert_num_queries):
    post = PostFactory(view_count=10)
    view(client, post)
    view(client, post)  # cached, with 10 views in the database and 2 buffered
    counting.send_pending_views()
    buffer.take_batch()  # a flush takes the 2...
    assert "Viewed 13 times" in view(client, post).content.decode()  # ...while this view arrives
    assert counting.flush_views() == 2  # the database now has 12, and Redis knows it
    with django_assert_num_queries(0):
        assert "Viewed 14 times" in view(client, post).content.decode()
    assert counting.flush_views() == 2
    assert database_views(post)[0] == 14


@pytest.mark.django_db
def test_a_cached_page_does_not_outlive_redis_losing_its_data(client):
    post = PostFactory()
    view(client, post)
    Post.objects.filter(pk=post.pk).update(title="Changed behind the site's back")
    assert "Changed behind" not in view(client, post).content.decode()  # cached
    counting.send_pending_views()
    redis_client.client().flushdb()  # as when Redis restarts empty: the version starts again from its clock
    time.sleep(batch.PAGE_VERSION_MAX_AGE)  # what this process knew of the page's version is stale by now
    page = view(client, post).content.decode()
    # The count is read again from the database (the two buffered views went with Redis's data), plus this view.
    assert "Changed behind" in page and "Viewed 1 time" in page


def test_the_post_page_cache_expires_its_pages():
    """So that a change both Redis and the database missed (page_cache.invalidation) keeps no page stale for more
    than an hour."""
    assert 0 < store.process_cache().timeout <= 3600
    assert 0 < store.shared_cache().default_timeout <= 3600


# --- Flushing: atomic take, exactly-once apply ----------------------------------------------------------


@pytest.mark.django_db
def test_a_connection_the_server_closed_is_replaced_and_the_view_still_counted_in_redis(client):
    post = PostFactory()
    view(client, post)
    view(client, post)  # served from the cached page
    redis_client.client().client_kill_filter(_type="normal", skipme=True)  # Redis restarted, or a proxy timed out
    assert "Viewed 3 times" in view(client, post).content.decode()
    counting.send_pending_views()
    assert buffer.unflushed_views(post.pk) == 3
    assert database_views(post) == (0, 0)


@pytest.mark.django_db
def test_a_view_that_arrives_during_a_flush_is_kept_and_counted_once():
    post = PostFactory()
    for _ in range(3):
        record_view(post)
    batch_id, counts = buffer.take_batch()  # a flush has taken the pending views...
    assert counts == {(post.pk, timezone.localdate()): 3}
    assert record_view(post) == 4  # ...when two more views arrive
    assert record_view(post) == 5
    assert counting.shown_views_of_post(post) == 5

    assert counting.flush_views() == 3  # the flush finishes: its batch only
    post.refresh_from_db()
    assert post.view_count == 3 and counting.shown_views_of_post(post) == 5
    assert counting.flush_views() == 2  # the views that arrived meanwhile, in the next batch
    assert counting.flush_views() == 0
    assert database_views(post) == (5, 5)
    assert ViewFlush.objects.filter(batch_id=f"{batch_id}:0", views=3).exists()  # its first and only chunk


@pytest.mark.django_db
def test_a_flush_that_dies_after_taking_its_batch_is_applied_once_by_the_next():
    post = PostFactory()
    for _ in range(4):
        record_view(post)
    first_batch, _ = buffer.take_batch()  # the worker dies here
    record_view(post)
    second_batch, counts = buffer.take_batch()  # the next flush resumes the unfinished batch
    assert second_batch == first_batch and sum(counts.values()) == 4
    assert counting.flush_views() == 4
    assert counting.flush_views() == 1
    assert database_views(post) == (5, 5)


@pytest.mark.django_db(transaction=True)
def test_a_flush_that_dies_after_its_commit_is_not_applied_again(private_redis):
    """Redis goes away between the database commit and dropping the batch: the replay must not count twice."""
    post = PostFactory()
    for _ in range(3):
        record_view(post)

    def stop_redis_after_commit(sender, instance, created, **kwargs):
        transaction.on_commit(private_redis.stop)

    post_save.connect(stop_redis_after_commit, sender=ViewFlush)
    try:
        with pytest.raises(redis.ConnectionError):
            counting.flush_views()
    finally:
        post_save.disconnect(stop_redis_after_commit, sender=ViewFlush)
    assert database_views(post) == (3, 3)

    private_redis.start()  # the batch was kept on disk and is still there
    assert buffer.take_batch()[1] == {(post.pk, timezone.localdate()): 3}
    assert counting.flush_views() == 0  # recognised as already applied and dropped
    assert buffer.take_batch() == (None, {})
    assert database_views(post) == (3, 3)


def buffer_views(posts, days):
    """One view of each post on each of the days, as readers would have left them in Redis."""
    for post in posts:
        for day in days:
            record_view(post, day=day)


@pytest.mark.django_db
def test_a_flush_takes_the_same_number_of_statements_whatever_the_number_of_posts():
    """Set-based: the daily rows and the totals are each one statement, not one per post-day."""
    today = timezone.localdate()
    days = [today - timezone.timedelta(days=n) for n in range(5)]

    def statements_to_flush(posts):
        DailyPostViews.objects.create(post=posts[0], date=today, views=1)  # an existing daily row, and new ones
        buffer_views(posts, days)
        with CaptureQueriesContext(connection) as queries:
            assert counting.flush_views() == len(posts) * len(days)
        return len([query for query in queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))])

    few, many = PostFactory.create_batch(2), PostFactory.create_batch(30)  # 10 and 150 post-days
    assert statements_to_flush(few) == statements_to_flush(many) <= 10
    for post in many:
        assert database_views(post) == (5, 5 + (post == many[0]))


@pytest.mark.django_db
def test_a_flush_that_dies_between_its_chunks_applies_each_chunk_once(settings, monkeypatch):
    settings.VIEW_FLUSH_CHUNK_SIZE = 2
    posts = PostFactory.create_batch(5)
    buffer_views(posts, [timezone.localdate()])
    add_views_to_database = counting_flush.add_views_to_database
    chunks_applied = []

    def dying_after_the_first_chunk(counts, *, flush_id, **kwargs):
        if chunks_applied:
            raise SystemExit("the worker dies")
        chunks_applied.append(flush_id)
        return add_views_to_database(counts, flush_id=flush_id, **kwargs)

    monkeypatch.setattr(counting_flush, "add_views_to_database", dying_after_the_first_chunk)
    with pytest.raises(SystemExit):
        counting.flush_views()
    assert sum(database_views(post)[0] for post in posts) == 2
    monkeypatch.setattr(counting_flush, "add_views_to_database", add_views_to_database)

    assert counting.flush_views() == 3  # the first chunk is recognised as applied, the others are applied
    assert [database_views(post) for post in posts] == [(1, 1)] * 5
    assert ViewFlush.objects.count() == 3
    assert [counting.shown_views_of_post(post) for post in posts] == [1] * 5


@pytest.mark.django_db
def test_views_of_a_deleted_post_are_dropped_and_the_rest_flushed():
    kept, deleted = PostFactory(), PostFactory()
    record_view(kept)
    record_view(deleted)
    deleted.delete()
    assert counting.flush_views() == 1
    assert database_views(kept) == (1, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_post_deleted_while_its_views_are_flushed_waits_and_loses_no_other_posts_views():
    """The flush locks the posts it adds to before anything else: a deletion waits for it, then removes the post
    with its views, and the other posts keep theirs."""
    kept, deleted = PostFactory(), PostFactory()
    DailyPostViews.objects.create(post=kept, date=timezone.localdate(), views=0)
    for _ in range(3):
        record_view(kept)
    record_view(deleted)

    locked, release = threading.Event(), threading.Event()

    def hold_kept_daily_row():
        with transaction.atomic():
            DailyPostViews.objects.select_for_update().get(post=kept)
            locked.set()
            release.wait(20)

    holder, _ = run_in_thread(hold_kept_daily_row)
    assert locked.wait(10)
    flusher, flushed = run_in_thread(counting.flush_views)
    wait_until(lambda: waiting_on_a_lock() >= 1)  # the flush, with both posts locked
    deleter, deletion = run_in_thread(lambda: delete_posts(posts=Post.objects.filter(pk=deleted.pk)))
    wait_until(lambda: waiting_on_a_lock() >= 2)  # the deletion waits for the flush
    release.set()
    for thread in (holder, flusher, deleter):
        thread.join(20)

    assert flushed == {"result": 4} and "error" not in deletion, deletion
    assert database_views(kept) == (3, 3)
    assert not Post.objects.filter(pk=deleted.pk).exists()
    assert buffer.take_batch() == (None, {})


def waiting_on_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_flush_view_counts_runs_in_the_worker_and_moves_the_counts(celery_worker, client):
    post = PostFactory()
    for _ in range(3):
        assert view(client, post).status_code == 200
    assert flush_view_counts.delay().get(timeout=20) == {"views_flushed": 3}
    assert database_views(post) == (3, 3)
    assert "Viewed 4 times" in view(client, post).content.decode()
    assert flush_view_counts.delay().get(timeout=20) == {"views_flushed": 1}
    assert database_views(post) == (4, 4)


# --- Redis down: the page answers, the view goes straight to the database ----------------------------


@pytest.mark.django_db
def test_with_redis_stopped_the_page_answers_quickly_and_the_view_is_counted_in_the_database(client, private_redis):
    post = PostFactory()
    view(client, post)
    view(client, post)  # two views buffered before the outage
    counting.send_pending_views()
    private_redis.stop()

    with timed() as timing:
        response = view(client, post)  # this process knows the page lately: served and counted in memory
        counting.send_pending_views()  # its batch goes to the database
    assert response.status_code == 200
    assert timing.waited < request_wait_budget(timeouts=1), f"a page with Redis stopped: {timing}"
    assert "Viewed 3 times" in response.content.decode()
    assert database_views(post) == (1, 1)
    time.sleep(batch.PAGE_VERSION_MAX_AGE)
    with timed() as timing:
        response = view(client, post)  # the page's version is no longer known: Redis is tried, once
    assert timing.waited < request_wait_budget(timeouts=1), f"a page with Redis stopped: {timing}"
    assert "Viewed 2 times" in response.content.decode()  # the database's count: the buffer is out of reach
    assert database_views(post) == (2, 2)

    private_redis.start()
    assert counting.flush_views() == 2  # the buffered views survived the restart
    assert database_views(post) == (4, 4)


@pytest.mark.django_db
def test_with_redis_at_a_dead_port_views_are_counted_in_the_database(client, redis_at_dead_port):
    post = PostFactory(view_count=7)
    for expected in (8, 9):
        with timed() as timing:
            response = view(client, post)
        assert response.status_code == 200
        assert timing.waited < request_wait_budget(timeouts=1), f"a page with Redis at a dead port: {timing}"
        assert f"Viewed {expected} times" in response.content.decode()
    assert view(client, post, method="head").status_code == 200
    assert database_views(post) == (9, 2)


# --- Concurrency on PostgreSQL -----------------------------------------------------------------------------


def hit_the_page(post, requests):
    client = Client()
    try:
        return sum(view(client, post).status_code == 200 for _ in range(requests))
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_views_while_flushing_give_an_exact_total(settings):
    settings.READER_VIEWS_PER_MINUTE = 1_000_000  # one reader sends them all: not what this test is about
    post = PostFactory()
    threads, requests_each = 8, 60
    done = threading.Event()

    def keep_flushing():
        moved = 0
        while not done.is_set():
            moved += counting.flush_views()
            time.sleep(0.005)
        return moved

    flusher, flushed = run_in_thread(keep_flushing)
    with ThreadPoolExecutor(threads) as pool:
        served = sum(pool.map(hit_the_page, [post] * threads, [requests_each] * threads))
    done.set()
    flusher.join(30)
    assert "error" not in flushed and flushed["result"] > 0  # the flushes really ran alongside the views
    counting.flush_views()

    assert served == threads * requests_each
    assert database_views(post) == (served, served)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_views_with_redis_down_give_an_exact_total(redis_at_dead_port):
    post = PostFactory()
    threads, requests_each = 8, 40
    with ThreadPoolExecutor(threads) as pool:
        served = sum(pool.map(hit_the_page, [post] * threads, [requests_each] * threads))
    assert served == threads * requests_each
    assert database_views(post) == (served, served)
    assert DailyPostViews.objects.filter(post=post).count() == 1


@pytest.mark.django_db
def test_an_author_reading_their_own_post_is_not_a_view_and_other_signed_in_readers_are(client):
    post = PostFactory()
    client.force_login(post.author)
    for _ in range(2):  # rendered, then from the post page cache
        page = view(client, post).content.decode()
        assert "Viewed 0 times" in page
    client.force_login(UserFactory())
    assert "Viewed 1 time" in view(client, post).content.decode()
    assert "Viewed 2 times" in view(client, post).content.decode()
    assert counting.shown_views_of_post(post) == 2


@pytest.mark.django_db
def test_an_authors_own_view_is_not_counted_in_the_database_either(client, redis_at_dead_port):
    post = PostFactory()
    client.force_login(post.author)
    assert "Viewed 0 times" in view(client, post).content.decode()
    client.force_login(UserFactory())
    assert "Viewed 1 time" in view(client, post).content.decode()
    assert database_views(post) == (1, 1)
