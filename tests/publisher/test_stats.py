"""The admin's Stats page and CSV: each author's own posts, the same numbers in the chart, the table and the CSV."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from publisher.models import DailyPostViews
from tests.factories import AuthorFactory, PostFactory

STATS, CSV = "/admin/publisher/post/stats/", "/admin/publisher/post/stats.csv"


def shows_bob(page):
    """Whether a page shows Bob's name or post (matched on words no random CSRF token spells)."""
    return "Ravensworth" in page or "secret post" in page


@pytest.fixture
def two_authors():
    today = timezone.localdate()
    ada, bob = AuthorFactory(full_name="Ada"), AuthorFactory(full_name="Bob Ravensworth")
    ada_post = PostFactory(author=ada, title="Ada's post")
    other_ada_post = PostFactory(author=ada, title='=HYPERLINK("http://evil.example")')
    bob_post = PostFactory(author=bob, title="Bob's secret post")
    for post, views, readers in ((ada_post, 7, 5), (other_ada_post, 2, 2), (bob_post, 40, 30)):
        DailyPostViews.objects.create(post=post, date=today, views=views, readers=readers)
        DailyPostViews.objects.create(post=post, date=today - timedelta(days=1), views=1, readers=1)
        DailyPostViews.objects.create(post=post, date=today - timedelta(days=40), views=100, readers=90)
    return ada, bob, ada_post, bob_post


@pytest.mark.django_db
def test_an_author_sees_the_stats_of_their_own_posts_only(client, two_authors):
    ada, bob, ada_post, bob_post = two_authors
    client.force_login(ada)
    page = client.get(STATS).content.decode()
    assert "Ada&#x27;s post" in page and not shows_bob(page)
    # The table: the last 30 days' views and readers, and the change against the 30 days before (100 views).
    assert "<td>8</td><td>6</td><td>-92</td>" in page
    # The chart's bar for today carries the day's numbers, all of Ada's posts together.
    assert f"{timezone.localdate():%a} {timezone.localdate().day} {timezone.localdate():%b}: 9 views, 7 readers" in page
    assert client.get(STATS, {"post": bob_post.pk}).status_code == 400  # not hers: a form error, nothing shown
    assert not shows_bob(client.get(STATS, {"post": bob_post.pk}).content.decode())
    assert client.get(CSV, {"post": bob_post.pk}).status_code == 400
    assert not shows_bob(client.get(STATS, {"author": bob.pk}).content.decode())  # only a superuser chooses authors


@pytest.mark.django_db
def test_ninety_days_and_one_post(client, two_authors):
    ada, _, ada_post, _ = two_authors
    client.force_login(ada)
    page = client.get(STATS, {"days": 90, "post": ada_post.pk}).content.decode()
    assert "<td>108</td><td>96</td><td>+108</td>" in page
    assert "HYPERLINK" not in page.split("<h2>Posts</h2>")[1]


@pytest.mark.django_db
def test_a_superuser_sees_everyones_or_one_authors(admin_client, two_authors):
    ada, bob, *_ = two_authors
    assert "Bob&#x27;s secret post" in admin_client.get(STATS).content.decode()
    page = admin_client.get(STATS, {"author": ada.pk}).content.decode()
    assert "Bob&#x27;s secret post" not in page.split("<h2>Posts</h2>")[1]


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"days": "7"}, {"days": "x"}, {"post": "nope"}, {"post": "999999"}])
def test_bad_choices_are_form_errors_not_500s(client, two_authors, query):
    client.force_login(two_authors[0])
    assert client.get(STATS, query).status_code == 400
    assert client.get(CSV, query).status_code == 400


@pytest.mark.django_db
def test_the_csv_streams_the_same_numbers_and_no_formula(client, two_authors):
    ada, *_ = two_authors
    client.force_login(ada)
    response = client.get(CSV, {"days": 30})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    today, yesterday = timezone.localdate(), timezone.localdate() - timedelta(days=1)
    assert rows == [
        ["date", "post", "views", "readers"],
        [str(yesterday), '\'=HYPERLINK("http://evil.example")', "1", "1"],
        [str(yesterday), "Ada's post", "1", "1"],
        [str(today), '\'=HYPERLINK("http://evil.example")', "2", "2"],
        [str(today), "Ada's post", "7", "5"],
    ]


@pytest.mark.django_db
def test_the_post_list_links_each_post_to_its_stats(client, two_authors):
    ada, _, ada_post, _ = two_authors
    client.force_login(ada)
    page = client.get("/admin/publisher/post/").content.decode()
    assert f'href="{STATS}?post={ada_post.pk}"' in page


@pytest.mark.django_db
def test_a_superuser_sees_the_today_of_an_author_whose_day_began_first(admin_client):
    import time_machine

    with time_machine.travel("2026-11-30 20:00:00+00:00", tick=False):  # 1 December already in Kiritimati (+14)
        author = AuthorFactory(time_zone="Pacific/Kiritimati")
        post = PostFactory(author=author, title="Written on the first")
        DailyPostViews.objects.create(post=post, date="2026-12-01", views=4, readers=3)
        page = admin_client.get(STATS).content.decode()
    assert "<td>4</td><td>3</td><td>+4</td>" in page


def csv_rows(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "zone, clock, their_today",
    [
        # 05:00 UTC on 1 December: still 30 November, 18:00, in Pago Pago (-11).
        ("Pacific/Pago_Pago", "2026-12-01 05:00:00+00:00", date(2026, 11, 30)),
        # 20:00 UTC on 30 November: already 1 December, 10:00, in Kiritimati (+14).
        ("Pacific/Kiritimati", "2026-11-30 20:00:00+00:00", date(2026, 12, 1)),
    ],
)
def test_an_author_far_from_utc_sees_their_own_days_on_the_page_and_in_the_csv(client, zone, clock, their_today):
    """The UTC day and the author's differ: the last day shown, the 30 days summed and the 30 before are theirs.
    Each row sits on a day that the same window cut at UTC midnights would count differently."""
    start = their_today - timedelta(days=29)
    with time_machine.travel(clock, tick=False):
        assert timezone.localdate() != their_today  # the server's day (TIME_ZONE, UTC) is not the author's
        author = AuthorFactory(time_zone=zone, full_name="Far away")
        post = PostFactory(author=author, title="Far post")
        for day, views, readers in ((their_today, 4, 3), (start, 10, 8), (start - timedelta(days=1), 100, 90)):
            DailyPostViews.objects.create(post=post, date=day, views=views, readers=readers)
        client.force_login(author)
        page = client.get(STATS).content.decode()
        response = client.get(CSV, {"days": 30})
        rows = csv_rows(response)

    assert f"Views and readers per day, {start:%-d %b %Y} to {their_today:%-d %b %Y}" in page
    bars = re.findall(r'class="views"><title>([^<]+)</title>', page)
    assert len(bars) == 30
    assert bars[-1] == f"{their_today:%a} {their_today.day} {their_today:%b}: 4 views, 3 readers"  # their today
    assert bars[0] == f"{start:%a} {start.day} {start:%b}: 10 views, 8 readers"
    # 4 + 10 views in their last 30 days, 100 in the 30 before.
    assert "<td>14</td><td>11</td><td>-86</td>" in page

    assert response["Content-Disposition"] == f'attachment; filename="post-stats-{start}-to-{their_today}.csv"'
    assert rows == [
        ["date", "post", "views", "readers"],
        [str(start), "Far post", "10", "8"],
        [str(their_today), "Far post", "4", "3"],
    ]
