"""Each view is counted on the day it happened in its post author's time zone, on every path of the post page."""

from datetime import UTC, date, datetime, timedelta

import pytest
import redis
import time_machine
from django.test import Client

from publisher import counting
from publisher.counting import visit
from publisher.models import DailyPostViews
from publisher.page_cache import versions
from tests.factories import AuthorFactory, PostFactory
from tests.support.redis_state import record_view

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

# (zone, the UTC instant of local midnight between 30 November and 1 December 2026)
MIDNIGHTS = [
    ("Asia/Kathmandu", datetime(2026, 11, 30, 18, 15, tzinfo=UTC)),  # +05:45
    ("Asia/Kolkata", datetime(2026, 11, 30, 18, 30, tzinfo=UTC)),  # +05:30
    ("Pacific/Kiritimati", datetime(2026, 11, 30, 10, 0, tzinfo=UTC)),  # +14
    ("Pacific/Pago_Pago", datetime(2026, 12, 1, 11, 0, tzinfo=UTC)),  # -11
    ("America/New_York", datetime(2026, 12, 1, 5, 0, tzinfo=UTC)),  # -05 in winter
]


def daily_rows(post):
    return dict(DailyPostViews.objects.filter(post=post).values_list("date", "views"))


def read_as(client, post):
    assert client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("zone, midnight", MIDNIGHTS)
def test_views_either_side_of_the_authors_midnight_land_on_their_two_days(zone, midnight, settings):
    settings.TIME_ZONE = "UTC"
    post = PostFactory(author=AuthorFactory(time_zone=zone))
    anonymous, signed_in = Client(), Client()
    signed_in.force_login(AuthorFactory())
    # Rendered, then from the post page cache, for an anonymous and a signed-in reader: 3 + 3 each side.
    with time_machine.travel(midnight - timedelta(minutes=1), tick=False):
        for _ in range(3):
            read_as(anonymous, post)
            read_as(signed_in, post)
    with time_machine.travel(midnight + timedelta(minutes=1), tick=False):
        for _ in range(3):
            read_as(anonymous, post)
            read_as(signed_in, post)
    counting.flush_views()
    assert daily_rows(post) == {date(2026, 11, 30): 6, date(2026, 12, 1): 6}


@pytest.mark.django_db
def test_with_redis_down_the_view_is_counted_in_the_database_on_the_authors_day(monkeypatch):
    post = PostFactory(author=AuthorFactory(time_zone="Pacific/Kiritimati"))

    def redis_down(*args, **kwargs):
        raise redis.ConnectionError("down")

    monkeypatch.setattr(visit, "run_script", redis_down)  # the visit's one round trip: count and read
    monkeypatch.setattr(versions, "run_script", redis_down)  # a page's version, read before rendering it
    with time_machine.travel(datetime(2026, 11, 30, 10, 30, tzinfo=UTC), tick=False):  # 00:30 on 1 Dec there
        read_as(Client(), post)
        record_view(post)
    assert daily_rows(post) == {date(2026, 12, 1): 2}


@pytest.mark.django_db
def test_a_zone_change_counts_new_views_on_the_new_days_and_keeps_the_old_ones(
    client, django_capture_on_commit_callbacks
):
    author = AuthorFactory(time_zone="Pacific/Kiritimati")
    post = PostFactory(author=author)
    instant = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 1 Dec 02:00 in Kiritimati, 30 Nov 01:00 in Pago Pago
    with time_machine.travel(instant, tick=False):
        read_as(client, post)  # cached now, with the author's zone
        client.force_login(author)
        account = {"full_name": author.full_name, "time_zone": "Pacific/Pago_Pago"}
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post("/account/", account).status_code == 302
        client.logout()
        read_as(client, post)  # the cached page carried the old zone: the change renewed it
    counting.flush_views()
    assert daily_rows(post) == {date(2026, 12, 1): 1, date(2026, 11, 30): 1}
