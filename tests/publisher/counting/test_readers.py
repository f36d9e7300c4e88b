"""Distinct readers beside views: estimated in Redis (HyperLogLog) from salted hashes made by the application, stored
as a number, never as who read; and each reader's views limited to READER_VIEWS_PER_MINUTE across the site."""

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.apps import apps
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publisher import counting
from publisher.counting import readers
from publisher.models import DailyPostViews, ReaderSalt
from quick_publisher import redis_client
from tests.factories import PostFactory

AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.fixture(autouse=True)
def new_process_memory(monkeypatch):
    """Each test starts as a process that holds no salt yet (another test's may have been rolled back)."""
    monkeypatch.setattr(readers, "salts_in_memory", readers.SaltsInMemory())


def read(post, *, address, agent=AGENT, times=1, **meta):
    client = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent, **meta)
    for _ in range(times):
        response = client.get(f"/{post.slug}/")
        assert response.status_code == 200
    return response.content.decode()


def views_and_readers(post):
    counting.flush_views()
    return DailyPostViews.objects.values_list("views", "readers").get(post=post)


def noon_utc(day):
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)


def within_one_minute(second=5):
    """The clock stands still a few seconds into the current minute: every request of the test falls in it."""
    return time_machine.travel(datetime.fromtimestamp(time.time() // 60 * 60 + second, UTC), tick=False)


@pytest.mark.django_db
def test_a_hundred_readers_reading_five_times_each_are_500_views_and_about_100_readers():
    post = PostFactory()
    for n in range(100):
        read(post, address=f"198.51.100.{n}", times=5)
    views, day_readers = views_and_readers(post)
    assert views == 500
    assert 98 <= day_readers <= 102  # HyperLogLog's error is about 1%


@pytest.mark.django_db
def test_the_same_address_with_another_browser_is_another_reader_and_bots_are_no_readers():
    post = PostFactory()
    read(post, address="198.51.100.1", agent=AGENT)
    read(post, address="198.51.100.1", agent=AGENT.replace("Chrome/120.0", "Firefox/121.0"))
    read(post, address="198.51.100.2", agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
    assert views_and_readers(post) == (2, 2)


@pytest.mark.django_db
def test_a_later_flush_keeps_the_days_readers_growing_not_added_twice():
    post = PostFactory()
    read(post, address="198.51.100.1", times=2)
    counting.flush_views()
    read(post, address="198.51.100.1")  # the same reader again, after the flush
    read(post, address="198.51.100.2")
    assert views_and_readers(post) == (4, 2)


# --- The salt: in the database, one a day, made once, never in Redis, deleted after its day ------------------


@pytest.mark.django_db
def test_each_day_has_its_own_salt_in_the_database_and_redis_gets_only_hashes():
    post = PostFactory()
    today = timezone.now()
    days = [today.date(), (today + timedelta(days=1)).date()]
    for day in days:
        with time_machine.travel(noon_utc(day), tick=False):
            read(post, address="198.51.100.1", times=2)
            counting.send_pending_views()
    salts = dict(ReaderSalt.objects.values_list("day", "salt"))
    assert sorted(salts) == days and len(set(salts.values())) == 2
    assert all(re.fullmatch(r"[0-9a-f]{64}", salt) for salt in salts.values())  # 32 random bytes
    assert readers.readers_on([(post.pk, day) for day in days]) == {(post.pk, day): 1 for day in days}
    keys = {key.decode() for key in redis_client.client().scan_iter(match="views:*")}
    assert not any("salt" in key for key in keys)
    minutes = [key for key in keys if key.startswith(f"{readers.READER_MINUTE}:")]
    assert len(minutes) == 2 and all(re.fullmatch(r"views:reader-minute:[0-9a-f]{64}:\d+", key) for key in minutes)
    assert {redis_client.client().get(key) for key in minutes} == {b"2"}


@pytest.mark.django_db
def test_the_days_salt_costs_a_process_one_query_a_day_and_a_cached_page_none_after_it(django_assert_num_queries):
    post = PostFactory()
    read(post, address="198.51.100.1", agent="Googlebot/2.1")  # rendered and cached, not counted: no salt needed
    with CaptureQueriesContext(connection) as first:
        read(post, address="198.51.100.2")
    assert [query["sql"] for query in first if "readersalt" in query["sql"].lower()]
    with django_assert_num_queries(0):
        read(post, address="198.51.100.3")
    assert views_and_readers(post) == (2, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_processes_that_need_a_new_days_salt_at_once_all_get_the_same_one():
    day = timezone.localdate() + timedelta(days=1)
    start, salts = threading.Barrier(6), []

    def a_process():
        try:
            start.wait(10)
            salts.append(readers.SaltsInMemory().salt(day, now=timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=a_process) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(salts) == 6 and len(set(salts)) == 1
    assert ReaderSalt.objects.filter(day=day).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "now, kept",
    [
        # 11:59 UTC on 3 December is 23:59 on 2 December at UTC-12: the 2nd is still today there.
        (datetime(2026, 12, 3, 11, 59, 59, tzinfo=UTC), [date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4)]),
        # At 12:00 UTC the 2nd is over everywhere; the 4th has been today at UTC+14 since 10:00 UTC.
        (datetime(2026, 12, 3, 12, 0, tzinfo=UTC), [date(2026, 12, 3), date(2026, 12, 4)]),
    ],
)
def test_a_salt_is_deleted_by_the_flush_once_its_day_is_over_in_every_zone(now, kept):
    days = [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4)]
    with time_machine.travel(now - timedelta(hours=1), tick=False):
        for day in days:
            readers.salt_of(day, now=timezone.now())
    with time_machine.travel(now, tick=False):
        counting.flush_views()
    assert sorted(ReaderSalt.objects.values_list("day", flat=True)) == kept
    assert sorted(readers.salts_in_memory.salts) == kept  # this process forgot them too


@pytest.mark.django_db
def test_a_web_process_forgets_a_salt_once_its_day_is_over_without_waiting_for_a_flush():
    post = PostFactory()
    noon = noon_utc(timezone.now().date())
    with time_machine.travel(noon, tick=False):
        read(post, address="198.51.100.1")
    yesterday_salt = readers.salts_in_memory.salts[noon.date()]
    with time_machine.travel(noon + timedelta(days=1), tick=False):  # the day is over at UTC-12 too
        read(post, address="198.51.100.1")
    assert yesterday_salt not in readers.salts_in_memory.salts.values()


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
        counting.send_pending_views()  # served from this process's cache: its batch goes to the database
    finally:
        redis_client.client.cache_clear()
    assert DailyPostViews.objects.values_list("views", "readers").get(post=post) == (2, 1)


# --- The address: the rate limits' ------------------------------------------------------------------------


def address_from_x_real_ip(request):
    """A RATELIMIT_IP_META_KEY function: the address the proxy put in X-Real-IP."""
    return request.META["HTTP_X_REAL_IP"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "where",
    [
        "HTTP_X_REAL_IP",
        address_from_x_real_ip,
        "tests.publisher.counting.test_readers.address_from_x_real_ip",
    ],
    ids=["META key", "callable", "dotted path"],
)
def test_readers_are_told_apart_by_the_address_the_rate_limits_use(settings, where):
    """Every request comes from the proxy (one REMOTE_ADDR); X-Real-IP has the client's, an IPv6 client is its /64."""
    settings.RATELIMIT_IP_META_KEY = where
    post = PostFactory()
    for client_address in ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:3::1", "192.0.2.7"):
        read(post, address="10.0.0.2", HTTP_X_REAL_IP=client_address)
    assert views_and_readers(post) == (4, 3)


@pytest.mark.django_db
def test_a_view_whose_address_cannot_be_found_counts_with_no_reader(settings, caplog):
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    post = PostFactory()
    read(post, address="10.0.0.2")  # no X-Real-IP: the proxy was bypassed, or is misconfigured
    assert views_and_readers(post) == (1, 0)
    assert "counted with no reader" in caplog.text


# --- Inflation: READER_VIEWS_PER_MINUTE views a reader, across the site ---------------------------------------


@pytest.mark.django_db
def test_a_hundred_views_in_a_minute_from_one_reader_count_twenty(settings):
    assert settings.READER_VIEWS_PER_MINUTE == 20
    post = PostFactory()
    with within_one_minute():
        page = read(post, address="198.51.100.1", times=100)  # each page served
    assert "Viewed 20 times" in page
    assert views_and_readers(post) == (20, 1)
    [minute_key] = redis_client.client().scan_iter(match=f"{readers.READER_MINUTE}:*")
    assert redis_client.client().get(minute_key) == b"20"  # the views beyond it wrote nothing
    assert 0 < redis_client.client().ttl(minute_key) <= readers.READER_MINUTE_KEPT


@pytest.mark.django_db
def test_two_hundred_readers_viewing_once_each_count_two_hundred():
    post = PostFactory()
    with within_one_minute():
        for n in range(200):
            read(post, address=f"198.51.{n // 100}.{n % 100}")
    views, day_readers = views_and_readers(post)
    assert views == 200
    assert 196 <= day_readers <= 204  # HyperLogLog's error is about 1%


@pytest.mark.django_db
def test_a_readers_limit_is_per_minute_and_follows_the_setting(settings):
    settings.READER_VIEWS_PER_MINUTE = 3
    post = PostFactory()
    with within_one_minute(second=58):
        read(post, address="198.51.100.1", times=5)
    with within_one_minute(second=58 + 5):  # the next minute
        read(post, address="198.51.100.1", times=5)
    assert views_and_readers(post) == (6, 1)


@pytest.mark.django_db
def test_a_readers_limit_is_across_the_site_even_across_authors_days():
    """Two posts whose authors are on different days (12:00 UTC is already tomorrow at UTC+14)."""
    here, ahead = PostFactory(author__time_zone="UTC"), PostFactory(author__time_zone="Pacific/Kiritimati")
    with time_machine.travel(noon_utc(timezone.now().date()) + timedelta(seconds=5), tick=False):
        read(here, address="198.51.100.1", times=15)
        read(ahead, address="198.51.100.1", times=15)
    assert views_and_readers(here) == (15, 1)
    assert views_and_readers(ahead) == (5, 1)


@pytest.mark.django_db
def test_other_readers_are_counted_while_one_is_over_its_limit():
    post = PostFactory()
    with within_one_minute():
        read(post, address="198.51.100.1", times=30)
        read(post, address="198.51.100.2", times=2)
        read(post, address="198.51.100.1", agent=AGENT.replace("Chrome/120.0", "Firefox/121.0"), times=2)
    assert views_and_readers(post) == (24, 3)
