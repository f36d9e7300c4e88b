"""Views batched in each web process (publisher/counting/batch.py): a graceful exit sends the batch, a change is
seen by every process within a second, a batch meets Redis down by going to the database, and readers, bots, the
author's own views and the per-reader limit behave on the batched path as they did view by view."""

import signal
import threading
import time

import pytest

from publisher import counting
from publisher.counting import batch, buffer, readers
from publisher.counting.buffer import BufferedViews
from publisher.models import DailyPostViews, Post
from publisher.page_cache import invalidation, versions
from publisher.posts import unpublish_posts
from quick_publisher import redis_client
from quick_publisher.redis_server import free_port
from tests.factories import PostFactory, UserFactory
from tests.support.waiting import wait_until
from tests.support.web import BROWSER, GunicornProcess


def view(client, post, *, address="198.51.100.1", user_agent=BROWSER):
    response = client.get(f"/{post.slug}/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=address)
    assert response.status_code == 200
    return response.content.decode()


def known_in_this_process(client, post):
    """The page is rendered and cached, and its version and views known here: the next views cost no round trip."""
    view(client, post, user_agent="Googlebot/2.1")  # rendered, not counted
    view(client, post, user_agent="Googlebot/2.1")  # from the cache: its version read, and known from now on
    assert batch.process_views.known_page_version(post.slug, max_age=batch.PAGE_VERSION_MAX_AGE)


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    started = []

    def start(**environment):
        server = GunicornProcess(tmp_path / f"gunicorn-{len(started)}.log", **environment)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


# --- Graceful exits and other processes ------------------------------------------------------------------------


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "HUP reload"])
def test_a_graceful_exit_sends_the_batch_first(gunicorn, stop):
    post = PostFactory()
    server = gunicorn(VIEW_BATCH_INTERVAL=3600)  # the worker's clock never sends: only its exit can
    for n in range(1, 8):
        assert f"Viewed {n} time" in server.get(f"/{post.slug}/")[1]
    time.sleep(0.5)
    assert buffer.unflushed_views(post.pk) == 0  # all held by the worker, in memory
    server.signal(stop)
    wait_until(lambda: buffer.unflushed_views(post.pk) == 7, timeout=30)
    counting.flush_views()
    post.refresh_from_db()
    assert post.view_count == 7


def test_an_unpublish_is_honoured_by_another_process_within_a_second(gunicorn, django_capture_on_commit_callbacks):
    post = PostFactory()
    server = gunicorn()
    statuses, done = [], threading.Event()

    def keep_reading():  # the page stays hot in the worker's cache, served with no round trip
        while not done.is_set():
            statuses.append((time.monotonic(), server.get(f"/{post.slug}/")[0]))

    reader = threading.Thread(target=keep_reading)
    reader.start()
    try:
        wait_until(lambda: len(statuses) > 50)
        with django_capture_on_commit_callbacks(execute=True):
            unpublish_posts(posts=Post.objects.filter(pk=post.pk))
        unpublished_at = time.monotonic()
        time.sleep(1.5)
    finally:
        done.set()
        reader.join()
    # A request that began after the unpublish plus the time one request takes is answered 404, from one second on.
    late = [status for started, status in statuses if started > unpublished_at + 1.0]
    assert late and set(late) == {404}, statuses[-20:]
    assert {status for started, status in statuses if started < unpublished_at} == {200}


# --- The log of renewed pages: what a send reads of the pages a process knows ------------------------------------


def known_here(slug, post_id):
    """As a request thread remembers a page it read from Redis (visit_post_page)."""
    as_of = time.monotonic()
    version = versions.current_page_version(slug)
    batch.process_views.remember_page(slug, post_id=post_id, version=version, views=BufferedViews(), as_of=as_of)


def known_version(slug):
    return batch.process_views.known_page_version(slug, max_age=batch.PAGE_VERSION_MAX_AGE)


def renewed_in_another_process(change):
    """A renewal made by another process (this one forgets nothing it knows: its sends must learn of it)."""
    renewals = versions.renewals_here
    change()
    versions.renewals_here = renewals


def keys_read():
    stats = redis_client.client().info("stats")
    return stats["keyspace_hits"] + stats["keyspace_misses"]


def test_a_send_reads_the_pages_renewed_since_the_last_one_not_every_page_known():
    slugs = [f"page-{n}" for n in range(2_000)]
    for post_id, slug in enumerate(slugs, 1):
        known_here(slug, post_id)
    counting.send_pending_views()  # read once more, as every page a request thread read is
    read_before = keys_read()
    for _ in range(5):
        counting.send_pending_views()
    renewed_in_another_process(lambda: invalidation.invalidate_pages([slugs[7]]))
    counting.send_pending_views()
    assert keys_read() - read_before < 100  # a handful per send, however many pages the process knows
    assert known_version(slugs[7]) == versions.current_page_version(slugs[7])
    assert known_version(slugs[8]) == versions.current_page_version(slugs[8])


def test_renewals_the_log_no_longer_holds_make_a_send_read_every_page_known():
    known_here("a-page", 1)
    counting.send_pending_views()
    renewed_in_another_process(lambda: invalidation.invalidate_pages(["a-page"]))
    others = [f"other-{n}" for n in range(versions.RENEWED_PAGES_KEPT)]
    renewed_in_another_process(lambda: invalidation.invalidate_pages(others))
    assert redis_client.client().zscore(versions.RENEWED_PAGES, "a-page") is None  # trimmed from the log
    counting.send_pending_views()
    assert known_version("a-page") == versions.current_page_version("a-page")


def test_a_lost_log_makes_a_send_read_every_page_known():
    known_here("a-page", 1)
    counting.send_pending_views()
    renewed_in_another_process(lambda: invalidation.invalidate_pages(["a-page"]))
    redis_client.client().delete(versions.RENEWED_PAGES)  # evicted, or Redis restarted without it
    counting.send_pending_views()
    assert known_version("a-page") == versions.current_page_version("a-page")


def test_a_renewal_of_the_sites_version_makes_a_send_read_every_page_known():
    known_here("a-page", 1)
    counting.send_pending_views()
    renewed_in_another_process(invalidation.invalidate_all_pages)
    counting.send_pending_views()
    assert known_version("a-page") == versions.current_page_version("a-page")


def test_a_page_a_request_read_before_a_renewal_the_log_showed_is_read_again_by_the_next_send():
    known_here("another-page", 2)
    counting.send_pending_views()
    as_of, stale = time.monotonic(), versions.current_page_version("a-page")  # a request thread reads the page...
    renewed_in_another_process(lambda: invalidation.invalidate_pages(["a-page"]))
    counting.send_pending_views()  # ...the log shows the renewal before the page is known here...
    batch.process_views.remember_page("a-page", post_id=1, version=stale, views=BufferedViews(), as_of=as_of)
    assert known_version("a-page") == stale  # ...then the request remembers what it read
    counting.send_pending_views()
    assert known_version("a-page") == versions.current_page_version("a-page") != stale


# --- Redis down ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_batches_sent_while_redis_is_down_are_counted_in_the_database(client, settings):
    post = PostFactory()
    known_in_this_process(client, post)
    view(client, post)
    counting.send_pending_views()  # one view in Redis
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # Redis goes away
    redis_client.client.cache_clear()
    try:
        for n in (2, 3, 4):
            assert f"Viewed {n} times" in view(client, post)  # from this process's memory
        counting.send_pending_views()
    finally:
        redis_client.client.cache_clear()
    post.refresh_from_db()
    assert post.view_count == 3 and DailyPostViews.objects.get(post=post).views == 3
    assert batch.process_views.not_yet_in_redis(post.pk) == 0  # nothing kept, nothing to send twice
    settings.REDIS_URL = settings.CACHES["default"]["LOCATION"]
    counting.flush_views()
    post.refresh_from_db()
    assert post.view_count == 4


# --- Readers, bots, authors and the limit on the batched path --------------------------------------------------


@pytest.mark.django_db
def test_readers_are_counted_by_the_batch_in_the_days_hyperloglog(client):
    post = PostFactory()
    known_in_this_process(client, post)
    for address in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        view(client, post, address=address)
        view(client, post, address=address)
    assert batch.process_views.not_yet_in_redis(post.pk) == 6  # counted in memory, not sent yet
    counting.send_pending_views()
    day = post.published_at.date()
    assert readers.readers_on([(post.pk, day)]) == {(post.pk, day): 3}
    assert counting.flush_views() == 6
    assert DailyPostViews.objects.values_list("views", "readers").get(post=post) == (6, 3)


@pytest.mark.django_db
def test_bots_and_an_authors_own_views_are_not_put_in_the_batch(client):
    post = PostFactory()
    known_in_this_process(client, post)
    for agent in ("Googlebot/2.1", "curl/8.5.0", ""):
        assert "Viewed 0 times" in view(client, post, user_agent=agent)
    client.force_login(post.author)
    view(client, post)  # rendered for a signed-in reader, and cached
    assert "Viewed 0 times" in view(client, post)  # from the cache: the author's own view
    assert batch.process_views.not_yet_in_redis(post.pk) == 0
    client.force_login(UserFactory())
    assert "Viewed 1 time" in view(client, post)
    counting.send_pending_views()
    assert buffer.unflushed_views(post.pk) == 1


@pytest.mark.django_db
def test_the_per_reader_limit_holds_in_one_process_and_across_processes(client, settings):
    settings.READER_VIEWS_PER_MINUTE = 3
    first, second = PostFactory(), PostFactory()
    known_in_this_process(client, first)
    known_in_this_process(client, second)
    shown = [view(client, first) for _ in range(3)] + [view(client, second) for _ in range(2)]
    assert "Viewed 3 times" in shown[2] and "Viewed 0 times" in shown[-1]  # this process checks before Redis does
    assert batch.process_views.not_yet_in_redis(first.pk) == 3
    assert batch.process_views.not_yet_in_redis(second.pk) == 0
    counting.send_pending_views()

    batch.process_views.forget()  # as another process, which knows nothing of this reader yet
    known_in_this_process(client, second)
    view(client, second)
    view(client, second, address="198.51.100.9")  # another reader
    assert batch.process_views.not_yet_in_redis(second.pk) == 2  # this process let them through...
    counting.send_pending_views()
    assert buffer.unflushed_views(first.pk) == 3
    assert buffer.unflushed_views(second.pk) == 1  # ...and Redis counted only the other reader's
