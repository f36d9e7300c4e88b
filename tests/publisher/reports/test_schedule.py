"""Reports at each author's hour, in their days: a simulated window of 8 days driven tick by tick (every 15 minutes,
the clock moved with time-machine), for authors in zones with 30- and 45-minute offsets, +14 and -11, across the
daylight-saving changes of America/New_York; then outages, two ticks at once, the real worker, and the picture."""

import re
import sqlite3
import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from main.models import User
from publisher import counting, posts
from publisher.models import DailyPostViews, Post, ReportDelivery, ReportPreferences, ReportRun
from publisher.reports import schedule
from publisher.reports import tasks as report_tasks
from publisher.reports.content import build_reports
from publisher.reports.emails import view_count_report_email
from publisher.reports.periods import DAILY, WEEKLY, Period
from publisher.reports.progress import run_progress
from publisher.reports.tick import due_authors, take_due_reports
from publisher.reports.tokens import make_unsubscribe_token
from tests.factories import AuthorFactory, PostFactory
from tests.support.admin_forms import admin_form_data
from tests.support.redis_state import record_view
from tests.support.smtp import text_body
from tests.support.waiting import wait_until

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]
TICK = timedelta(minutes=15)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def views_on(day):
    """A different number of views each day, so that a day cut at the wrong midnight shows."""
    return day.toordinal() % 17 + 3


def place_views_around_local_midnights(post, zone, first_day, last_day):
    """For each of the author's days: one view a minute after their midnight, the rest a minute before the next,
    counted through the real path (the buffer in Redis, then the flush)."""
    tz = ZoneInfo(zone)
    day = first_day
    while day <= last_day:
        early = datetime.combine(day, time(0, 1), tzinfo=tz)
        late = datetime.combine(day, time(23, 59), tzinfo=tz)
        with time_machine.travel(early, tick=False):
            record_view(post)
        with time_machine.travel(late, tick=False):
            for _ in range(views_on(day) - 1):
                record_view(post)
        day += timedelta(days=1)


def preferences(author):
    """The author's report preferences as stored now."""
    return ReportPreferences.objects.get(pk=author.pk)


def an_author(zone, frequency, *, hour=7, start, views_from, views_to, **fields):
    """An author with a post and its views, due their first report at their first slot after `start`. Their choice
    as made then stays on author.chosen (an author who unsubscribes later is expected their reports until then)."""
    author = AuthorFactory(time_zone=zone, reports__frequency=frequency, reports__hour=hour, **fields)
    post = PostFactory(author=author, title=f"{zone} {frequency} {hour}", published_at=start - timedelta(days=90))
    place_views_around_local_midnights(post, zone, views_from, views_to)
    counting.flush_views()
    next_report_at = schedule.next_slot(after=start, time_zone=zone, hour=hour, frequency=frequency)
    ReportPreferences.objects.filter(pk=author.pk).update(next_report_at=next_report_at)
    author.chosen = preferences(author)
    return author


@pytest.fixture
def tasks_run_in_process(monkeypatch):
    """The tick's .delay() runs the chunk task at once, in this process (the real worker is tested below)."""

    def run_now(*args, **kwargs):
        return report_tasks.send_view_count_reports_to_authors.apply(args, kwargs, throw=True)

    monkeypatch.setattr(report_tasks.send_view_count_reports_to_authors, "delay", run_now)


class Simulation:
    """Ticks every 15 minutes from `start` to `end`, except during outages; records when each email left."""

    def __init__(self):
        self.sent = []  # (tick, message)

    def tick(self, now):
        before = len(mail.outbox)
        with time_machine.travel(now, tick=False):
            summary = report_tasks.queue_reports_due()
        self.sent += [(now, message) for message in mail.outbox[before:]]
        return summary

    def run(self, start, end, *, down=()):
        now = start
        while now <= end:
            if not any(first <= now < last for first, last in down):
                self.tick(now)
            now += TICK

    def to(self, author):
        return [(tick, message) for tick, message in self.sent if message.to == [author.email]]


def slot_of(day, hour, zone):
    """The author's hour on their day, in UTC (on days without a clock change)."""
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def expected_reports(author, start, end):
    """[(the instant the report is due, the first day of its period)] in (start, end]."""
    zone, hour, frequency = author.time_zone, author.chosen.hour, author.chosen.frequency
    expected = []
    day = start.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)
    while slot_of(day, hour, zone) <= end:
        due = slot_of(day, hour, zone)
        if due > start and (frequency == "daily" or day.weekday() == 0):
            expected.append((due, day - timedelta(days=1 if frequency == "daily" else 7)))
        day += timedelta(days=1)
    return expected


def views_in(kind, first_day):
    days = 7 if kind == "weekly" else 1
    return sum(views_on(first_day + timedelta(days=n)) for n in range(days))


def assert_reports_as_expected(simulation, author, expected):
    received = simulation.to(author)
    assert len(received) == len(expected), (author.time_zone, author.chosen.frequency, received)
    kind = author.chosen.frequency
    for (tick, message), (due, period_start) in zip(received, expected, strict=False):
        assert due <= tick < due + TICK, (author.time_zone, due, tick)  # at or after the hour, in its tick
        if kind == "daily":
            assert message.subject == f"Your posts on {period_start:%A, %-d %B}"
        else:
            assert message.subject == f"Your posts in the week of {period_start:%-d %B}"
        period = "week" if kind == "weekly" else "day"
        views = views_in(kind, period_start)
        change = views - views_in(kind, period_start - timedelta(days=7 if kind == "weekly" else 1))
        assert f"Views this {period}: {views} · Change from the {period} before: {change:+d}" in message.body
        assert f"Days are yours, in {author.time_zone}." in message.body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, clock_change",
    [
        (datetime(2026, 3, 4, 0, 0, tzinfo=UTC), "spring forward: 8 March 2026 in New York"),
        (datetime(2026, 10, 28, 0, 0, tzinfo=UTC), "fall back: 1 November 2026 in New York"),
    ],
)
def test_eight_days_tick_by_tick_each_author_gets_each_report_due_once_at_their_hour_with_their_days(
    start, clock_change, mailoutbox, tasks_run_in_process
):
    end = start + timedelta(days=8)
    views = {
        "start": start,
        "views_from": start.date() - timedelta(days=60),
        "views_to": end.date() + timedelta(days=1),
    }
    authors = [an_author(zone, frequency, **views) for zone in ZONES for frequency in ("daily", "weekly")]
    # 02:00 is skipped on the spring day (sent at 03:00 EDT, 07:00 UTC); 01:00 happens twice on the fall day.
    skipped_hour = an_author("America/New_York", "daily", hour=2, **views)
    repeated_hour = an_author("America/New_York", "daily", hour=1, **views)
    off = an_author("UTC", "off", **views)
    unsubscribing = an_author("Asia/Kolkata", "daily", **views)

    simulation = Simulation()
    unsubscribed_at = start + timedelta(days=3, hours=12)
    simulation.run(start, unsubscribed_at - TICK)
    response = Client().post(f"/reports/unsubscribe/{make_unsubscribe_token(unsubscribing)}/")
    assert response.status_code == 200
    simulation.run(unsubscribed_at, end)

    for author in authors:
        assert_reports_as_expected(simulation, author, expected_reports(author, start, end))
    assert simulation.to(off) == []
    assert_reports_as_expected(simulation, unsubscribing, expected_reports(unsubscribing, start, unsubscribed_at))

    if start.month == 3:
        spring = [(datetime(2026, 3, 8, 7, 0, tzinfo=UTC), date(2026, 3, 7))]  # 02:00 EST never came: 03:00 EDT
        expected = [e for e in expected_reports(skipped_hour, start, end) if e[1] != date(2026, 3, 7)]
        assert_reports_as_expected(simulation, skipped_hour, sorted(expected + spring))
        assert_reports_as_expected(simulation, repeated_hour, expected_reports(repeated_hour, start, end))
    else:
        assert_reports_as_expected(simulation, skipped_hour, expected_reports(skipped_hour, start, end))
        # 01:00 EDT (05:00 UTC) and 01:00 EST (06:00 UTC): one report, at the first.
        expected = expected_reports(repeated_hour, start, end)
        assert (datetime(2026, 11, 1, 5, 0, tzinfo=UTC), date(2026, 10, 31)) in expected
        assert_reports_as_expected(simulation, repeated_hour, expected)

    messages = [(m.to[0], m.subject) for _, m in simulation.sent]
    assert max(Counter(messages).values()) == 1  # never one twice
    assert ReportDelivery.objects.exclude(status="sent").count() == 0
    assert ReportDelivery.objects.count() == len(messages)


@pytest.mark.django_db
def test_an_outage_across_an_authors_hour_sends_it_late_once_and_one_over_24_hours_late_is_skipped(
    mailoutbox, tasks_run_in_process
):
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # a Monday
    views = {"start": start, "views_from": date(2026, 11, 1), "views_to": date(2026, 11, 30)}
    kathmandu = an_author("Asia/Kathmandu", "daily", **views)  # 07:00 there is 01:15 UTC
    new_york = an_author("America/New_York", "daily", **views)  # 07:00 EST is 12:00 UTC
    simulation = Simulation()

    # Down from 00:50 to 03:20 UTC on the 24th: Kathmandu's hour passed meanwhile; New York's did not.
    simulation.run(
        start,
        start + timedelta(days=2),
        down=[(datetime(2026, 11, 24, 0, 50, tzinfo=UTC), datetime(2026, 11, 24, 3, 20, tzinfo=UTC))],
    )
    late = [(tick, m.subject) for tick, m in simulation.to(kathmandu)]
    assert late == [
        (datetime(2026, 11, 23, 1, 15, tzinfo=UTC), "Your posts on Sunday, 22 November"),
        (datetime(2026, 11, 24, 3, 30, tzinfo=UTC), "Your posts on Monday, 23 November"),  # late, once
    ]
    assert len(simulation.to(new_york)) == 2

    # Down for 30 hours across New York's hour on the 25th and 26th: the first is over 24 hours late by then.
    simulation.run(
        start + timedelta(days=2, minutes=15),
        start + timedelta(days=4, hours=12),
        down=[(datetime(2026, 11, 25, 11, 0, tzinfo=UTC), datetime(2026, 11, 26, 17, 0, tzinfo=UTC))],
    )
    assert [(tick, m.subject) for tick, m in simulation.to(new_york)][2:] == [
        (datetime(2026, 11, 26, 17, 0, tzinfo=UTC), "Your posts on Wednesday, 25 November"),
        (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "Your posts on Thursday, 26 November"),
    ]
    skipped = ReportDelivery.objects.get(author=new_york, status="skipped")
    assert skipped.period_start == date(2026, 11, 24) and "more than 24 hours" in skipped.error
    assert max(Counter((m.to[0], m.subject) for _, m in simulation.sent).values()) == 1


@pytest.mark.django_db
def test_finding_the_due_authors_is_one_indexed_query_whatever_their_number():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    for n in range(30):
        author = AuthorFactory(reports__next_report_at=now + timedelta(hours=1 if n % 3 else -1))
        PostFactory(author=author)
    with CaptureQueriesContext(connection) as queries:
        found = list(due_authors(now).values_list("pk", flat=True))
    assert len(found) == 10 and len(queries) == 1
    assert "next_report_at" in queries[0]["sql"]
    indexes = ReportPreferences._meta.indexes
    assert (
        any(index.fields == ["next_report_at"] or "next_report_at" in str(index) for index in indexes)
        or ReportPreferences._meta.get_field("next_report_at").db_index
    )


@pytest.mark.django_db
def test_the_tick_finds_the_due_without_reading_posts():
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    author = AuthorFactory(reports__next_report_at=now - TICK)
    PostFactory(author=author)
    with CaptureQueriesContext(connection) as queries:
        list(take_due_reports(now=now))
    finding = [q["sql"] for q in queries if '"next_report_at" <=' in q["sql"]]
    assert finding and all("publisher_post" not in sql for sql in finding)


@pytest.mark.django_db
def test_the_first_published_post_schedules_the_next_report_and_the_last_one_gone_clears_it(admin_client):
    author = AuthorFactory(time_zone="Asia/Kolkata", reports__hour=7)
    draft = PostFactory(author=author, status="draft", published_at=None)
    assert preferences(author).next_report_at is None
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):  # 17:30 in Kolkata
        posts.publish_posts(posts=type(draft).objects.filter(pk=draft.pk), user=author)
    # 07:00 tomorrow there, not at once.
    assert preferences(author).next_report_at == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)

    second = PostFactory(author=author)
    posts.unpublish_posts(posts=type(draft).objects.filter(pk=draft.pk))
    # Another post is still published.
    assert preferences(author).next_report_at == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
    posts.delete_posts(posts=type(draft).objects.filter(pk=second.pk))
    assert preferences(author).next_report_at is None

    # Saved through the admin's form, and published on schedule: the same.
    url = f"/admin/publisher/post/{draft.pk}/change/"
    data = admin_form_data(admin_client.get(url))
    data["status"] = "published"
    assert admin_client.post(url, data).status_code == 302
    assert preferences(author).next_report_at is not None
    posts.unpublish_posts(posts=type(draft).objects.filter(pk=draft.pk))
    type(draft).objects.filter(pk=draft.pk).update(status="scheduled", publish_at=datetime(2026, 12, 1, tzinfo=UTC))
    assert preferences(author).next_report_at is None
    with time_machine.travel(datetime(2026, 12, 1, 0, 1, tzinfo=UTC), tick=False):
        assert posts.publish_due_posts() == 1
    assert preferences(author).next_report_at == datetime(2026, 12, 1, 1, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_an_author_verified_after_a_post_was_published_for_them_is_due_reports():
    from main.services import mark_verified
    from tests.factories import UserFactory

    user = UserFactory(time_zone="UTC")
    PostFactory(author=user)  # published by a superuser before the address was verified
    assert preferences(user).next_report_at is None
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        mark_verified(users=User.objects.filter(pk=user.pk))
    assert preferences(user).next_report_at == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_an_author_due_with_nothing_published_has_the_report_skipped_and_is_due_no_more(tasks_run_in_process):
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # Turned reports on, never published.
    author = AuthorFactory(time_zone="UTC", reports__next_report_at=now - TICK)
    with time_machine.travel(now, tick=False):
        report_tasks.queue_reports_due()
    delivery = ReportDelivery.objects.get(author=author)
    assert delivery.status == "skipped" and len(mail.outbox) == 0
    assert preferences(author).next_report_at is None


@pytest.mark.django_db(transaction=True)
def test_the_tick_through_the_real_worker_sends_a_kathmandu_authors_report_at_0115_utc(celery_worker, smtp_server):
    start = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    author = an_author(
        "Asia/Kathmandu", "daily", start=start, views_from=date(2026, 11, 1), views_to=date(2026, 11, 30)
    )
    for tick in (
        datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 1, 15, tzinfo=UTC),
        datetime(2026, 11, 30, 1, 30, tzinfo=UTC),
    ):
        with time_machine.travel(tick, tick=False):
            summary = report_tasks.queue_reports_due()
        assert summary["queued"] == (1 if tick.minute == 15 else 0)
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Your posts on Sunday, 29 November"
    assert f"Views this day: {views_on(date(2026, 11, 29))} ·" in text_body(message)
    wait_until(lambda: ReportDelivery.objects.filter(author=author, status="sent").exists())
    assert smtp_server.settle() == [message]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_two_ticks_at_once_record_and_send_each_report_once(mailoutbox, tasks_run_in_process, settings):
    settings.REPORT_CHUNK_SIZE = 5
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    authors = []
    for _ in range(40):
        author = AuthorFactory(reports__next_report_at=now - timedelta(minutes=5))
        PostFactory(author=author, published_at=now - timedelta(days=3))
        authors.append(author)
    barrier, outcomes = threading.Barrier(2), []

    def tick():
        try:
            barrier.wait()
            with time_machine.travel(now, tick=False):
                outcomes.append(report_tasks.queue_reports_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Each author found by one tick (a blocking FOR UPDATE would do as much: the next test is SKIP LOCKED's).
    assert sum(o["authors_due"] for o in outcomes) == 40
    assert sorted(m.to[0] for m in mail.outbox) == sorted(a.email for a in authors)
    assert ReportDelivery.objects.filter(status="sent").count() == 40


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_tick_takes_the_authors_nobody_holds_at_once_and_leaves_the_locked_ones_to_the_next():
    """SKIP LOCKED: while another transaction (a tick still working on its chunk) holds some authors' preferences,
    a tick neither waits for them nor takes them; it returns at once with the others."""
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    authors = []
    for _ in range(12):
        author = AuthorFactory(password=None, reports__next_report_at=now - timedelta(minutes=5))
        PostFactory(author=author, published_at=now - timedelta(days=3))
        authors.append(author)
    locked = {author.pk for author in authors[::3]}
    held, release, errors = threading.Event(), threading.Event(), []

    def hold_locks():
        try:
            with transaction.atomic():
                assert len(ReportPreferences.objects.select_for_update().filter(pk__in=locked)) == len(locked)
                held.set()
                release.wait(timeout=60)
        except Exception as exc:  # reported below: a thread's exception would otherwise go unseen
            errors.append(exc)
        finally:
            connection.close()

    def tick(into):
        try:
            into.extend(chunk for _, chunk in take_due_reports(now=now))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    def taken_by(chunks):
        return {pk for chunk in chunks for _, author_ids in chunk.groups.items() for pk in author_ids}

    holder = threading.Thread(target=hold_locks)
    holder.start()
    try:
        assert held.wait(timeout=20), errors
        chunks = []
        ticker = threading.Thread(target=tick, args=(chunks,))
        ticker.start()
        ticker.join(timeout=5)  # a tick of 8 authors takes a fraction of that; a blocked one would wait for `release`
        returned_while_locked = not ticker.is_alive()
    finally:
        release.set()
        holder.join(timeout=60)
    ticker.join(timeout=60)
    assert not errors, errors
    assert returned_while_locked, "the tick waited for the rows another transaction holds"
    assert taken_by(chunks) == {author.pk for author in authors} - locked
    assert set(ReportDelivery.objects.values_list("author_id", flat=True)) == taken_by(chunks)
    assert set(due_authors(now).values_list("pk", flat=True)) == locked  # still due: the next tick's

    assert taken_by(chunk for _, chunk in take_due_reports(now=now)) == locked


@pytest.mark.django_db
def test_the_picture_bars_and_sparkline_match_the_numbers():
    author = AuthorFactory(time_zone="Asia/Kolkata")
    period = date(2026, 11, 29)
    posts = [PostFactory(author=author, title=t, published_at=datetime(2026, 9, 1, tzinfo=UTC)) for t in "AB"]
    for n in range(20):
        day = period - timedelta(days=n)
        DailyPostViews.objects.create(post=posts[0], date=day, views=n)
        DailyPostViews.objects.create(post=posts[1], date=day, views=2 * (n % 3))
    [report] = build_reports(author_ids=[author.pk], period=Period(DAILY, period))
    message = view_count_report_email(report)
    [(html, _)] = message.alternatives
    # Every line fits RFC 5322's limit, so Django sends the parts 8bit rather than quoted-printable.
    assert max(len(line.encode()) for line in html.splitlines()) <= 998
    assert "quoted-printable" not in message.message().as_string()

    bars = re.findall(
        r'<td width="8" title="([^"]+?: (\d+) views?)"><div style="height:(\d+)px',
        html,
    )
    assert len(bars) == 3 * 14  # two posts and all posts together, 14 days each
    first_days = [period - timedelta(days=13 - i) for i in range(14)]
    expected_a = [13 - i for i in range(14)]
    expected_b = [2 * ((13 - i) % 3) for i in range(14)]
    rows = sorted(report.rows, key=lambda r: r.title)
    assert [v for _, v in rows[0].series] == expected_a and [v for _, v in rows[1].series] == expected_b
    assert [row.title for row in report.rows] == ["A", "B"]  # a tie on the day: by title; totals last
    for offset, expected in [
        (0, expected_a),
        (14, expected_b),
        (28, [a + b for a, b in zip(expected_a, expected_b, strict=False)]),
    ]:
        chunk = bars[offset : offset + 14]
        highest = max(expected)
        for (title, views, height), day, value in zip(chunk, first_days, expected, strict=False):
            assert title == f"{day:%a %-d %b}: {value} view{'' if value == 1 else 's'}"
            assert int(views) == value and int(height) == max(round(value / highest * 48), 1)
    sparkline = "".join("▁▂▃▄▅▆▇█"[round(v / 13 * 7)] for v in expected_a)
    assert f"Last 14 days: {sparkline} {' '.join(map(str, expected_a))}" in message.body
    assert sparkline[0] == "█" and sparkline[-1] == "▁"
    pictures = re.findall(r'<table class="bars".*?</table>', html, re.DOTALL)
    assert len(pictures) == 3 and not any("http" in p or "<img" in p or "<script" in p for p in pictures)


@pytest.mark.django_db
def test_a_weekly_report_covers_monday_to_sunday_and_shows_8_weeks():
    author = AuthorFactory(time_zone="Pacific/Pago_Pago", reports__frequency="weekly")
    post = PostFactory(author=author, published_at=datetime(2026, 6, 1, tzinfo=UTC))
    monday = date(2026, 11, 23)
    for n in range(70):
        DailyPostViews.objects.create(post=post, date=monday + timedelta(days=6) - timedelta(days=n), views=1)
    DailyPostViews.objects.create(post=post, date=monday + timedelta(days=7), views=100)  # the next week: not in it
    [report] = build_reports(author_ids=[author.pk], period=Period(WEEKLY, monday))
    [row] = report.rows
    assert row.views_in_period == 7 and row.change == 0
    assert row.series == [(monday - timedelta(weeks=7 - i), 7) for i in range(8)]
    message = view_count_report_email(report).message()
    assert message["Subject"] == "Your posts in the week of 23 November"


@pytest.mark.django_db
def test_posts_published_after_the_period_are_not_in_its_report():
    author = AuthorFactory(time_zone="Pacific/Kiritimati")
    # 29 Nov 23:30 in Kiritimati is 09:30 UTC on the 29th; 30 Nov 00:30 there is 10:30 UTC.
    PostFactory(author=author, title="In time", published_at=datetime(2026, 11, 29, 9, 30, tzinfo=UTC))
    PostFactory(author=author, title="Too late", published_at=datetime(2026, 11, 29, 10, 30, tzinfo=UTC))
    [report] = build_reports(author_ids=[author.pk], period=Period(DAILY, date(2026, 11, 29)))
    assert [row.title for row in report.rows] == ["In time"]


@pytest.fixture
def parameters_held_to_djangos_limit(db):
    """SQLite's limit on a statement's parameters (32,766 in its default build, more in some) held to the 999 that
    Django declares for it, for this test's statements only."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    limit = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER
    before = connection.connection.setlimit(limit, connection.features.max_query_params)
    yield
    connection.connection.setlimit(limit, before)


def test_a_report_of_more_posts_than_a_statement_may_hold_parameters_counts_each_posts_views(
    parameters_held_to_djangos_limit,
):
    """A chunk's daily views are looked up by its posts' ids: where the database limits a statement's parameters
    (SQLite), in batches, and every post's views are in its row."""
    author, day = AuthorFactory(), date(2026, 11, 29)
    published = datetime(2026, 9, 1, tzinfo=UTC)
    many = Post.objects.bulk_create(
        Post(
            author=author,
            title=f"Post {n}",
            slug=f"post-{n}",
            content="-",
            status=Post.Status.PUBLISHED,
            published_at=published,
        )
        for n in range(1500)
    )
    DailyPostViews.objects.bulk_create(
        [DailyPostViews(post=many[0], date=day, views=3), DailyPostViews(post=many[-1], date=day, views=5)]
    )
    [report] = build_reports(author_ids=[author.pk], period=Period(DAILY, day))
    assert len(report.rows) == 1500
    assert [(row.title, row.views_in_period) for row in report.rows[:2]] == [("Post 1499", 5), ("Post 0", 3)]
    assert report.totals.views_in_period == 8


@pytest.mark.django_db
def test_a_run_records_what_it_found_and_its_deliveries(mailoutbox, tasks_run_in_process):
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # Hour 7 in UTC: one due today at 07:00; one due since yesterday 07:00 (skipped), and today's (sent).
    for due in (datetime(2026, 11, 30, 7, 0, tzinfo=UTC), datetime(2026, 11, 29, 7, 0, tzinfo=UTC)):
        author = AuthorFactory(time_zone="UTC", reports__next_report_at=due)
        PostFactory(author=author, published_at=now - timedelta(days=3))
    AuthorFactory(reports__next_report_at=now + timedelta(minutes=5))
    with time_machine.travel(now, tick=False):
        summary = report_tasks.queue_reports_due()
        assert report_tasks.queue_reports_due()["run"] is None  # a tick that finds nobody records no run
    run = ReportRun.objects.get()
    assert summary["run"] == run.pk and (run.authors_due, run.queued) == (2, 2)
    assert run.periods == ["daily 2026-11-29"]
    progress = run_progress(run)
    assert {k: progress[k] for k in ("sent", "failed", "skipped", "in_progress", "finished")} == {
        "sent": 2,
        "failed": 0,
        "skipped": 1,
        "in_progress": 0,
        "finished": True,
    }


@pytest.mark.django_db
def test_the_admins_send_now_takes_the_authors_latest_period_never_a_later_one(
    admin_client, mailoutbox, tasks_run_in_process
):
    # 30 Nov 12:00 UTC is already 1 December 02:00 in Kiritimati: their yesterday is 30 November.
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    author = an_author(
        "Pacific/Kiritimati", "daily", start=now, views_from=date(2026, 11, 1), views_to=date(2026, 12, 2)
    )
    assert preferences(author).next_report_at == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 07:00 on 1 December
    with time_machine.travel(now, tick=False):
        admin_client.post(
            reverse("admin:publisher_reportpreferences_changelist"),
            {"action": "send_latest_report_now", "_selected_action": [author.pk]},  # pks: author ids
        )
    assert [m.subject for m in mailoutbox] == ["Your posts on Monday, 30 November"]

    simulation = Simulation()
    simulation.run(now, now + timedelta(days=1, hours=6))  # their hour on 1 and 2 December
    assert [m.subject for _, m in simulation.to(author)] == ["Your posts on Tuesday, 1 December"]
    assert list(ReportDelivery.objects.order_by("period_start").values_list("period_start", "status")) == [
        (date(2026, 11, 30), "sent"),
        (date(2026, 12, 1), "sent"),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_command_sends_weekly_reports_or_one_authors(celery_worker, smtp_server):
    from io import StringIO

    from django.core.management import call_command

    start = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    weekly = an_author(
        "Europe/London", "weekly", start=start, views_from=date(2026, 10, 1), views_to=date(2026, 11, 30)
    )
    daily = an_author("Asia/Kolkata", "daily", start=start, views_from=date(2026, 10, 1), views_to=date(2026, 11, 30))
    call_command("queue_view_count_reports", "--weekly", "--date", "2026-11-25", stdout=StringIO())
    [message] = smtp_server.wait_for(1)
    assert (message["To"], message["Subject"]) == (weekly.email, "Your posts in the week of 23 November")
    assert f"Views this week: {views_in('weekly', date(2026, 11, 23))} ·" in text_body(message)

    out = StringIO()
    call_command("queue_view_count_reports", "--date", "2026-11-20", "--author", daily.email.upper(), stdout=out)
    assert "Queued the daily view-count report for 2026-11-20 as task" in out.getvalue()
    messages = smtp_server.wait_for(2)
    assert (messages[1]["To"], messages[1]["Subject"]) == (daily.email, "Your posts on Friday, 20 November")
    assert smtp_server.settle() == messages


@pytest.mark.django_db
def test_a_tick_takes_the_same_statements_per_chunk_for_5_and_50_due_authors(settings):
    settings.REPORT_CHUNK_SIZE = 1000
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def statements_for(count, zone):
        for _ in range(count):
            author = AuthorFactory(time_zone=zone, reports__next_report_at=now - timedelta(minutes=5))
            PostFactory(author=author, published_at=now - timedelta(days=3))
        with time_machine.travel(now, tick=False), CaptureQueriesContext(connection) as queries:
            [(run, chunk)] = list(take_due_reports())
        assert chunk.authors == count
        return len(queries)

    assert statements_for(5, "Asia/Kolkata") == statements_for(50, "Pacific/Pago_Pago")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, expected_ticks",
    [
        # 29 March 2026: 01:00 GMT jumps to 02:00 BST, so 01:00 never comes: sent at the jump, 01:00 UTC.
        (
            datetime(2026, 3, 27, 12, 0, tzinfo=UTC),
            [
                datetime(2026, 3, 28, 1, 0, tzinfo=UTC),
                datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
                datetime(2026, 3, 30, 0, 0, tzinfo=UTC),
            ],
        ),
        # 25 October 2026: 01:00 comes twice (00:00 and 01:00 UTC): sent once, at the first.
        (
            datetime(2026, 10, 23, 12, 0, tzinfo=UTC),
            [
                datetime(2026, 10, 24, 0, 0, tzinfo=UTC),
                datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
                datetime(2026, 10, 26, 1, 0, tzinfo=UTC),
            ],
        ),
    ],
)
def test_london_at_one_in_the_morning_across_its_clock_changes(start, expected_ticks, mailoutbox, tasks_run_in_process):
    author = an_author(
        "Europe/London",
        "daily",
        hour=1,
        start=start,
        views_from=start.date() - timedelta(days=20),
        views_to=start.date() + timedelta(days=5),
    )
    simulation = Simulation()
    simulation.run(start, start + timedelta(days=3))
    received = simulation.to(author)
    assert [tick for tick, _ in received] == expected_ticks
    assert [m.subject for _, m in received] == [
        f"Your posts on {(tick - timedelta(days=1)):%A, %-d %B}" for tick in expected_ticks
    ]


def test_the_bars_escape_their_labels():
    from publisher.reports.emails import picture
    from publisher.templatetags.report_pictures import bars

    days = [date(2026, 11, 29), date(2026, 11, 30)]
    drawn = picture([(days[0], 3), (days[1], 0)], day_names={day: f"{day:%a %-d %b}" for day in days})
    drawn["label"] = '<b onload="x">&'
    drawn["bars"][0] = ('<b onload="x">&', *drawn["bars"][0][1:])
    html = bars(drawn)
    assert "<b " not in html and html.count("&lt;b onload=&quot;x&quot;&gt;&amp;") == 2  # aria-label, title
    assert html.count('<td width="8"') == 2 and "#d1d9e0" in html  # a day without views is grey
