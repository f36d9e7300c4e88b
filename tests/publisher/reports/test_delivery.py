"""View-count reports, end to end: beat's row (the 15-minute tick), the real worker, the real SMTP server, the stored
results. Authors here are in TIME_ZONE (UTC) and due now; tests/publisher/reports/test_schedule.py moves the clock."""

import asyncio
import email
import itertools
import json
import re
import threading
from datetime import timedelta
from email import policy
from io import StringIO

import pytest
import time_machine
from celery.contrib.testing.worker import start_worker
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q
from django.test.client import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from django_celery_results.models import TaskResult
from slugify import slugify

from main.models import User
from publisher.models import DailyPostViews, Post, ReportDelivery, ReportPreferences
from publisher.periodic_tasks import DUE_REPORTS, ensure_periodic_tasks
from publisher.reports import sending
from publisher.reports.claims import Claim, lease
from publisher.reports.content import build_reports
from publisher.reports.eligibility import eligible_author_id_chunks
from publisher.reports.emails import view_count_report_email
from publisher.reports.periods import DAILY, Period
from publisher.reports.sending import ClaimedByAnotherExecution, send_reports_to_authors
from publisher.reports.tasks import queue_latest_reports
from publisher.reports.tokens import make_unsubscribe_token, read_unsubscribe_token
from quick_publisher.celery import app as celery_app
from quick_publisher.redis_server import free_port
from tests.factories import AuthorFactory, DraftFactory, PostFactory, UserFactory
from tests.support.brokers import worker_running
from tests.support.queries import waiting_at_first_select_of
from tests.support.smtp import Gate, html_body, text_body
from tests.support.waiting import wait_until

PARENT_TASK = "publisher.reports.tasks.queue_due_reports"
CHUNK_TASK = "publisher.tasks.send_view_count_reports_to_authors"
SUBJECT_PREFIX = "Your posts "
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
UNSUBSCRIBE_LINK = re.compile(r"http://testserver(/reports/unsubscribe/[^/\s\"]+/)")


# --- Helpers -----------------------------------------------------------------------------------------


def report_date():
    return timezone.localdate() - timedelta(days=1)


def report_period():
    """The daily period the tick reports on: yesterday."""
    return Period(DAILY, report_date())


def published_a_month_ago():
    """Reports list the posts published by the end of their period."""
    return timezone.now() - timedelta(days=30)


def author_with_posts(*posts, **author_fields):
    """An eligible author and their published posts: (title, total views, {days ago: views}) each.

    Days ago are counted from the report date: 0 is the report date, 1 the day before.
    """
    author = AuthorFactory(**author_fields)
    for title, total, daily in posts:
        post = PostFactory(
            published_at=published_a_month_ago(), author=author, title=title, slug=slugify(title), view_count=total
        )
        for days_ago, views in daily.items():
            DailyPostViews.objects.create(post=post, date=report_date() - timedelta(days=days_ago), views=views)
    make_due(author)
    return author


def make_due(*authors):
    """Their hour came a minute ago: the next tick sends them yesterday's report. Never before the top of this hour:
    from a minute earlier, a run in the first minute of their hour (7:00) would find that slot due as well."""
    now = timezone.now()
    ReportPreferences.objects.filter(pk__in=[a.pk for a in authors]).update(
        next_report_at=max(now - timedelta(minutes=1), now.replace(minute=0, second=0, microsecond=0))
    )


def subject_of_day(day):
    return f"Your posts on {date_format(day, 'l, j F')}"


def run_as_beat(name=DUE_REPORTS):
    """Send the periodic task stored in the database exactly as beat does when it is due."""
    beat = DatabaseScheduler(app=celery_app, lazy=True)
    entry = beat.Entry(PeriodicTask.objects.get(name=name), app=celery_app)
    return beat.apply_async(entry, advance=False)


def finished_chunks():
    return TaskResult.objects.filter(task_name=CHUNK_TASK, status="SUCCESS").count()


def run_and_wait(chunks_before=0, **kwargs):
    """Run the tick as beat would; wait for it and all the chunk tasks it queued; return its summary."""
    summary = run_as_beat(**kwargs).get(timeout=30)
    wait_until(lambda: finished_chunks() >= chunks_before + summary["chunks"], timeout=30)
    return summary


def reports_among(messages):
    return [m for m in messages if m["Subject"].startswith(SUBJECT_PREFIX)]


def wait_for_reports(smtp_server, count, timeout=30):
    wait_until(lambda: len(reports_among(smtp_server.messages)) >= count, timeout=timeout)
    return reports_among(smtp_server.messages)


def plain(message):
    return text_body(message).replace("\r\n", "\n")


def report_to(smtp_server, author):
    [message] = [m for m in reports_among(smtp_server.messages) if m["To"] == author.email]
    return message


def chunk_results():
    return [json.loads(r.result) for r in TaskResult.objects.filter(task_name=CHUNK_TASK, status="SUCCESS")]


def slow_down_smtp(smtp_server, seconds):
    """Each DATA takes a while, so that chunk tasks running at the same time really overlap."""
    handler = smtp_server.handler
    original = handler.handle_DATA

    async def handle_DATA(server, session, envelope):
        await asyncio.sleep(seconds)
        return await original(server, session, envelope)

    handler.handle_DATA = handle_DATA


def refuse_data_commands(smtp_server, numbers):
    """Refuse the DATA commands with these ordinal numbers (1 = the first message sent), accept the others."""
    handler = smtp_server.handler
    original = handler.handle_DATA
    calls = itertools.count(1)

    async def handle_DATA(server, session, envelope):
        if next(calls) in numbers:
            return "451 4.3.0 Try again later"
        return await original(server, session, envelope)

    handler.handle_DATA = handle_DATA


# --- Who gets what -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_beat_row_mails_each_eligible_author_only_their_own_posts_with_numbers_and_links(celery_worker, smtp_server):
    alice = author_with_posts(
        ("Cats & dogs", 120, {0: 30, 1: 10, 2: 99, -1: 77}),  # views two days before and today do not count
        ("Quiet one", 7, {}),
        ("Second best", 50, {0: 5, 1: 9}),
        full_name="Alice Author",
    )
    DraftFactory(author=alice, title="Alice's draft")
    bob = author_with_posts(("Bob's only post", 3, {0: 1}), full_name="Bob Author")

    # Nobody else gets anything: unverified, inactive, opted out, only drafts, no posts at all.
    PostFactory(
        published_at=published_a_month_ago(),
        author=UserFactory(email="unverified@example.com"),
        title="Unverified's post",
    )
    author_with_posts(("Inactive's post", 5, {0: 5}), email="inactive@example.com", is_active=False)
    author_with_posts(("Opted out's post", 5, {0: 5}), email="optedout@example.com", reports__frequency="off")
    DraftFactory(author=AuthorFactory(email="drafts.only@example.com"), title="Only a draft")
    AuthorFactory(email="no.posts@example.com")

    summary = run_and_wait()

    day = report_date()
    assert {k: summary[k] for k in ("authors_due", "queued", "skipped", "chunks")} == {
        "authors_due": 2,
        "queued": 2,
        "skipped": 0,
        "chunks": 1,
    }
    messages = wait_for_reports(smtp_server, 2)
    assert sorted(m["To"] for m in reports_among(smtp_server.settle())) == sorted([alice.email, bob.email])

    message = report_to(smtp_server, alice)
    assert message["Subject"] == subject_of_day(day)
    assert message.is_multipart()
    text, html = plain(message), html_body(message)

    # Most viewed on the report date first; absolute links from SITE_URL; the change from the day before.
    assert [line for line in text.splitlines() if line.lstrip().startswith("http")] == [
        "  http://testserver/cats-dogs/",
        "  http://testserver/second-best/",
        "  http://testserver/quiet-one/",
    ]
    for title, slug, total, on_date, change in [
        ("Cats & dogs", "cats-dogs", 120, 30, "+20"),
        ("Second best", "second-best", 50, 5, "-4"),
        ("Quiet one", "quiet-one", 7, 0, "+0"),
    ]:
        url = f"http://testserver/{slug}/"
        counts = f"Views this day: {on_date} · Change from the day before: {change} · Total views: {total}"
        assert f"{title}\n  {url}\n  {counts}" in text
        cells = f"<td>{on_date}</td><td>{change}</td><td>{total}</td>"
        assert f'<tr><td><a href="{url}">{title.replace("&", "&amp;")}</a></td>{cells}<td>' in html
    assert "All posts: 35 views this day · change +16 · 177 views in total" in text
    assert "<td>All posts</td><td>35</td><td>+16</td><td>177</td>" in html
    assert html.index("Cats &amp; dogs") < html.index("Second best") < html.index("Quiet one")
    for someone_elses in ("Bob's only post", "Alice's draft", "Unverified's post", "Inactive's post", "Opted out"):
        assert someone_elses not in text and someone_elses.replace("'", "&#x27;") not in html

    bob_text = plain(report_to(smtp_server, bob))
    assert "Bob's only post" in bob_text and "Cats & dogs" not in bob_text
    assert "All posts: 1 views this day · change +1 · 3 views in total" in bob_text

    assert set(ReportDelivery.objects.values_list("author_id", "period_start", "status")) == {
        (alice.pk, day, "sent"),
        (bob.pk, day, "sent"),
    }
    assert len(messages) == 2


@pytest.mark.django_db(transaction=True)
def test_the_reports_total_is_the_number_the_post_page_shows_before_any_flush(celery_worker, smtp_server):
    author = author_with_posts(("Busy post", 40, {0: 6}))
    post = Post.objects.get(author=author)
    reader = Client()
    for _ in range(3):
        reader.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER)
    page = reader.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()
    assert "Viewed 44 times" in page  # 40 in the database, 4 not flushed yet
    assert Post.objects.get(pk=post.pk).view_count == 40

    run_and_wait()

    [message] = wait_for_reports(smtp_server, 1)
    assert "Views this day: 6 · Change from the day before: +6 · Total views: 44" in plain(message)


# --- Exactly once ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_running_twice_sends_no_second_report(celery_worker, smtp_server, settings):
    settings.REPORT_CHUNK_SIZE = 2
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(5)]

    first = run_and_wait()
    wait_for_reports(smtp_server, 5)
    assert run_and_wait(chunks_before=first["chunks"])["authors_due"] == 0  # the tick moved their next report on
    make_due(*authors)  # as if a second tick found them all the same
    second = run_and_wait(chunks_before=first["chunks"])

    assert first["queued"] == second["queued"] == 5
    assert sorted(m["To"] for m in reports_among(smtp_server.settle())) == sorted(a.email for a in authors)
    assert sum(r["sent"] for r in chunk_results()) == 5
    assert ReportDelivery.objects.filter(status="sent").count() == 5


@pytest.fixture
def eight_worker_threads(transactional_db):
    """A worker running eight tasks at a time, as several workers sharing a run would."""
    celery_app.control.purge()
    with start_worker(celery_app, pool="threads", concurrency=8, shutdown_timeout=30) as worker:
        with worker_running(worker.hostname):
            yield worker
    celery_app.control.purge()


@pytest.mark.django_db(transaction=True)
def test_ticks_at_once_and_during_the_sends_queue_each_report_once(eight_worker_threads, smtp_server, settings):
    """Two beats firing the same minute, and a third tick while the first reports are on their way: each due author
    is taken by one tick (the others find nobody due), so each report is queued and sent once. The claims do not
    compete here: test_executions_claiming_the_same_deliveries_at_once_send_each_report_once below makes them
    compete, and tests/faults/test_report_run_twice.py does with worker processes."""
    settings.REPORT_CHUNK_SIZE = 4
    slow_down_smtp(smtp_server, 0.2)
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(8)]

    runs = [run_as_beat(), run_as_beat()]
    wait_until(lambda: ReportDelivery.objects.filter(status="sending").exists())
    runs.append(run_as_beat())
    summaries = [run.get(timeout=30) for run in runs]
    assert sum(summary["authors_due"] for summary in summaries) == 8  # each author found by one tick
    chunks = sum(summary["chunks"] for summary in summaries)
    wait_until(lambda: finished_chunks() >= chunks, timeout=30)

    assert sorted(m["To"] for m in reports_among(smtp_server.settle())) == sorted(a.email for a in authors)
    results = chunk_results()
    assert sum(r["sent"] for r in results) == 8
    assert sorted(pk for r in results for pk in r["sent_to"]) == sorted(a.pk for a in authors)


def hold_the_message(smtp_server, number):
    """The SMTP server keeps the sender of the `number`-th message (from 1) waiting before accepting it."""
    gate, handler, calls = Gate(), smtp_server.handler, itertools.count(1)
    original = handler.handle_DATA

    async def handle_DATA(server, session, envelope):
        if next(calls) == number:
            await gate.hold()
        return await original(server, session, envelope)

    handler.handle_DATA = handle_DATA
    return gate


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_executions_claiming_the_same_deliveries_at_once_send_each_report_once(smtp_server, monkeypatch):
    """Three executions of a send for the same authors and period claim at the same moment, each on its own
    connection (as the tasks of two runs, or a redelivered task, on several workers); a fourth comes while the
    reports are on their way. The claims really compete: all three query the deliveries while the others'
    transactions are open, none waits for another's locks, and each report goes out once."""
    author_ids = authors_with_three_posts(8)
    emails = dict(User.objects.filter(pk__in=author_ids).values_list("pk", "email"))
    attempts, take = [], Claim.take

    def recorded_take(claim, ids):
        claimed = take(claim, ids)
        attempts.append((claim.task_id, sorted(ids), claimed))
        return claimed

    monkeypatch.setattr(Claim, "take", recorded_take)
    held = hold_the_message(smtp_server, 2)  # a report sent, the next ones claimed and not sent yet
    barrier, waited, results, errors = threading.Barrier(3, timeout=10), [], {}, []

    def execution(number):
        try:
            with connection.execute_wrapper(waiting_at_first_select_of("publisher_reportdelivery", barrier, waited)):
                results[number] = send_reports_to_authors(
                    author_ids=author_ids, period=report_period(), task_id=f"execution {number}"
                )
        except Exception as exc:  # reported below: a thread's exception would otherwise go unseen
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=execution, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    try:
        held.wait_reached(timeout=30)
        # Another execution while a holder is mid-send: every delivery is sent or held under a live claim.
        late = send_reports_to_authors(author_ids=author_ids, period=report_period(), task_id="a later execution")
        assert late.sent_to == []
    finally:
        held.open()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors

    assert not waited, "an execution waited for another's locks instead of skipping them"
    assert sorted(task_id for task_id, _, _ in attempts) == [
        "a later execution",
        "execution 0",
        "execution 1",
        "execution 2",
    ]  # four executions tried to claim the same eight deliveries
    assert all(ids == sorted(author_ids) for _, ids, _ in attempts)
    claimed = [pk for _, _, taken in attempts for pk in taken]
    assert sorted(claimed) == sorted(author_ids)  # each delivery claimed by one execution
    assert sorted(pk for result in results.values() for pk in result.sent_to) == sorted(author_ids)
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(emails.values())  # each report once
    assert ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).count() == 8


@pytest.mark.django_db(transaction=True)
def test_smtp_refusing_then_recovering_sends_each_report_once(celery_worker, smtp_server):
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(3)]
    smtp_server.refuse_next(2)

    run_and_wait()

    assert smtp_server.handler.refused == 2
    assert sorted(m["To"] for m in reports_among(smtp_server.settle())) == sorted(a.email for a in authors)
    assert ReportDelivery.objects.filter(status="sent").count() == 3


@pytest.mark.django_db(transaction=True)
def test_smtp_failing_mid_chunk_resends_only_what_was_not_sent(celery_worker, smtp_server):
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(3)]
    refuse_data_commands(smtp_server, {2, 3})  # the first report goes out, then the server struggles

    run_and_wait()

    received = reports_among(smtp_server.settle())
    assert sorted(m["To"] for m in received) == sorted(a.email for a in authors)
    # The first attempt sent the first report to arrive and recorded it; the retries sent only the other two.
    [result] = chunk_results()
    assert sorted(result["sent_to"]) == sorted(a.pk for a in authors if a.email != received[0]["To"])
    assert ReportDelivery.objects.filter(status="sent").count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_finally_fails_is_recorded_shown_in_the_admin_and_sent_by_the_admins_retry(
    celery_worker, smtp_server, monkeypatch, admin_client
):
    from publisher.reports.tasks import send_view_count_reports_to_authors

    monkeypatch.setattr(send_view_count_reports_to_authors, "max_retries", 1)
    author = author_with_posts(("Unlucky", 4, {0: 4}), email="unlucky@example.com")
    smtp_server.refuse_next(100)

    run_as_beat().get(timeout=30)
    delivery = wait_until(lambda: ReportDelivery.objects.filter(author=author, status="failed").first())
    assert "SMTPDataError" in delivery.error
    assert TaskResult.objects.get(task_name=CHUNK_TASK).status == "FAILURE"
    page = admin_client.get("/admin/publisher/reportdelivery/?status__exact=failed").content.decode()
    assert "unlucky@example.com" in page

    smtp_server.refuse_next(0)
    response = admin_client.post(
        "/admin/publisher/reportdelivery/",
        {"action": "retry_failed_deliveries", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "Queued 1 failed report(s) again." in response.content.decode()
    wait_until(lambda: ReportDelivery.objects.filter(author=author, status="sent").exists())
    # Retrying again (a double click) sends nothing more: the delivery is sent, not failed.
    admin_client.post(
        "/admin/publisher/reportdelivery/", {"action": "retry_failed_deliveries", "_selected_action": [delivery.pk]}
    )
    [message] = reports_among(smtp_server.settle())
    assert message["To"] == "unlucky@example.com"
    assert ReportDelivery.objects.get(author=author).status == "sent"


# --- Stored results ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_task_results_store_the_summary_and_what_each_chunk_sent(celery_worker, smtp_server, settings):
    settings.REPORT_CHUNK_SIZE = 2
    authors = [author_with_posts((f"Post {i}", i, {0: i})) for i in range(3)]

    run_and_wait()
    wait_for_reports(smtp_server, 3)

    parent = TaskResult.objects.get(task_name=PARENT_TASK)
    assert parent.status == "SUCCESS"
    assert parent.periodic_task_name == DUE_REPORTS
    summary = json.loads(parent.result)
    assert {k: summary[k] for k in ("authors_due", "queued", "skipped", "chunks")} == {
        "authors_due": 3,
        "queued": 3,
        "skipped": 0,
        "chunks": 2,
    }
    chunks = TaskResult.objects.filter(task_name=CHUNK_TASK).order_by("date_created")
    assert [c.status for c in chunks] == ["SUCCESS", "SUCCESS"]
    results = [json.loads(c.result) for c in chunks]
    assert sorted(r["sent"] for r in results) == [1, 2]
    assert sorted(pk for r in results for pk in r["sent_to"]) == sorted(a.pk for a in authors)
    assert all(r["date"] == report_date().isoformat() for r in results)
    assert all(json.loads(c.task_args) for c in chunks)  # extended results: the author ids each chunk had


# --- Unsubscribing -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_report_link_and_one_click_post_turn_reports_off(celery_worker, smtp_server):
    one_click = author_with_posts(("One-click post", 1, {0: 1}), email="oneclick@example.com")
    by_link = author_with_posts(("Link post", 1, {0: 1}), email="bylink@example.com")
    run_and_wait()
    wait_for_reports(smtp_server, 2)

    # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to the header's URL; no session, no CSRF token.
    message = report_to(smtp_server, one_click)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [header_url] = re.fullmatch(r"<(.+)>", message["List-Unsubscribe"].strip()).groups()
    assert UNSUBSCRIBE_LINK.fullmatch(header_url)
    assert header_url in text_body(message) and header_url in html_body(message)
    mail_client = Client(enforce_csrf_checks=True)
    path = UNSUBSCRIBE_LINK.fullmatch(header_url).group(1)
    response = mail_client.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert ReportPreferences.objects.get(pk=one_click.pk).frequency == "off"

    # The link in the body: opening it (or a scanner fetching it) changes nothing; confirming does.
    path = UNSUBSCRIBE_LINK.search(text_body(report_to(smtp_server, by_link))).group(1)
    browser = Client(enforce_csrf_checks=True)
    assert "Turn off view-count reports?" in browser.get(path).content.decode()
    assert ReportPreferences.objects.get(pk=by_link.pk).frequency == "daily"
    assert "View-count reports are turned off" in browser.post(path).content.decode()
    assert ReportPreferences.objects.get(pk=by_link.pk).frequency == "off"

    # The next day's run leaves them both out, found due or not.
    DailyPostViews.objects.update(date=timezone.localdate())
    make_due(one_click, by_link)
    assert queue_latest_reports(period_start=timezone.localdate())["authors"] == 0
    assert run_as_beat().get(timeout=30)["authors_due"] == 0


@pytest.mark.django_db
def test_signed_in_author_unsubscribing_lands_on_their_report_settings_page(client):
    author = AuthorFactory()
    client.force_login(author)
    response = client.post(f"/reports/unsubscribe/{make_unsubscribe_token(author)}/")
    assert response.status_code == 302 and response.url == reverse("report_settings") == "/reports/settings/"
    assert ReportPreferences.objects.get(pk=author.pk).frequency == "off"


@pytest.mark.django_db
def test_tampered_or_expired_unsubscribe_token_is_a_400_and_changes_nothing(client, settings):
    author, other = AuthorFactory(), AuthorFactory()
    token = make_unsubscribe_token(author)
    payload, timestamp, signature = token.split(":")
    forged_payload = make_unsubscribe_token(other).split(":")[0]
    tampered = [
        f"{payload}:{timestamp}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{forged_payload}:{timestamp}:{signature}",  # someone else's id under this signature
        "not-a-token",
    ]
    for bad in tampered:
        assert client.get(f"/reports/unsubscribe/{bad}/").status_code == 400
        assert (
            client.post(
                f"/reports/unsubscribe/{bad}/",
                "List-Unsubscribe=One-Click",
                content_type="application/x-www-form-urlencoded",
            ).status_code
            == 400
        )

    settings.UNSUBSCRIBE_LINK_MAX_AGE = timedelta(seconds=-1)
    assert client.post(f"/reports/unsubscribe/{token}/").status_code == 400
    assert ReportPreferences.objects.filter(frequency="daily").count() == 2


# --- Bounded queries ---------------------------------------------------------------------------------


def authors_with_three_posts(count):
    authors = AuthorFactory.create_batch(count, password=None)
    for author in authors:
        for n in range(3):
            post = PostFactory(published_at=published_a_month_ago(), author=author, view_count=10 + n)
            DailyPostViews.objects.create(post=post, date=report_date(), views=n)
            DailyPostViews.objects.create(post=post, date=report_date() - timedelta(days=1), views=1)
    return [a.pk for a in authors]


def queries_to_claim_and_build(author_ids, task_id):
    with CaptureQueriesContext(connection) as queries:
        claimed = Claim(report_period(), task_id=task_id, token=task_id).take(author_ids)
        built = build_reports(author_ids=claimed, period=report_period())
    assert len(built) == len(author_ids)
    assert all(len(report.rows) == 3 for report in built)
    return len(queries)


@pytest.mark.django_db
def test_claiming_and_building_a_chunk_takes_the_same_queries_for_5_and_50_authors():
    few, many = authors_with_three_posts(5), authors_with_three_posts(50)
    assert queries_to_claim_and_build(few, "task-few") == queries_to_claim_and_build(many, "task-many") <= 8


@pytest.mark.django_db
def test_sending_a_chunk_adds_only_the_per_email_delivery_mark_per_author(mailoutbox):
    few, many = authors_with_three_posts(5), authors_with_three_posts(50)

    def queries_to_send(author_ids, task_id):
        with CaptureQueriesContext(connection) as queries:
            send_reports_to_authors(author_ids=author_ids, period=report_period(), task_id=task_id)
        marks = [q for q in queries if q["sql"].startswith('UPDATE "publisher_reportdelivery"')]
        return len(queries) - len(marks)

    started = timezone.now()
    assert queries_to_send(few, "task-few") == queries_to_send(many, "task-many") <= 10
    assert len(mailoutbox) == 55
    sent = ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT, sent_at__range=(started, timezone.now()))
    assert sorted(sent.values_list("author_id", flat=True)) == sorted(few + many)


@pytest.mark.django_db
def test_an_author_who_unpublishes_after_the_claim_gets_nothing_and_no_claim_is_left_sending(mailoutbox, monkeypatch):
    leaving, staying = authors_with_three_posts(2)
    take = Claim.take

    def claim_then_unpublish(claim, author_ids):
        claimed = take(claim, author_ids)
        Post.objects.filter(author_id=leaving).update(status=Post.Status.DRAFT)
        return claimed

    monkeypatch.setattr(Claim, "take", claim_then_unpublish)
    result = send_reports_to_authors(author_ids=[leaving, staying], period=report_period(), task_id="t")

    assert result.sent_to == [staying] and [m.to for m in mailoutbox] == [[User.objects.get(pk=staying).email]]
    assert list(ReportDelivery.objects.values_list("author_id", "status")) == [(staying, ReportDelivery.Status.SENT)]


# --- Claims: one execution sends each report ---------------------------------------------------------------


def claim_for(author_ids, *, task_id, claim_token):
    return Claim(report_period(), task_id=task_id, token=claim_token).take(author_ids)


def holds(author_id, claim_token):
    held, _ = Claim(report_period(), task_id="t", token=claim_token).renew([author_id])
    return author_id in held


@pytest.mark.django_db
def test_a_redelivered_task_leaves_its_first_executions_live_claim_and_retries_once_it_lapses(mailoutbox):
    [author] = authors_with_three_posts(1)
    assert claim_for([author], task_id="t", claim_token="first") == [author]  # the worker then cut off

    with pytest.raises(ClaimedByAnotherExecution) as held:
        send_reports_to_authors(author_ids=[author], period=report_period(), task_id="t")
    assert mailoutbox == []
    claimed_at = ReportDelivery.objects.get().claimed_at
    assert held.value.lapses_at == claimed_at + lease()
    assert holds(author, "first")  # the first execution, back on the network in time, sends it


@pytest.mark.django_db
def test_an_execution_whose_lease_lapsed_finds_its_claim_taken_over_and_sends_nothing(mailoutbox):
    [author] = authors_with_three_posts(1)
    claim_for([author], task_id="t", claim_token="first")
    ReportDelivery.objects.update(claimed_at=timezone.now() - lease())  # it stayed away that long

    result = send_reports_to_authors(author_ids=[author], period=report_period(), task_id="t")
    assert result.sent_to == [author] and len(mailoutbox) == 1
    assert not holds(author, "first")  # back on the network: nothing left to send

    ReportDelivery.objects.update(status=ReportDelivery.Status.SENDING, claim_token="second")  # taken, not sent yet
    assert not holds(author, "first")


@pytest.mark.django_db
def test_an_execution_that_stalls_past_half_a_lease_renews_before_its_next_email_and_skips_what_was_taken(
    mailoutbox, monkeypatch
):
    first, second = authors_with_three_posts(2)
    build = sending.view_count_report_email
    stalled = []

    def stalling(report, **kwargs):
        if not stalled:  # the first send stalls for a whole lease; meanwhile a successor takes the second delivery
            stalled.append(time_machine.travel(timezone.now() + lease(), tick=True))
            stalled[0].start()
            ReportDelivery.objects.filter(author_id=second).update(claim_token="taker", task_id="another")
        return build(report, **kwargs)

    monkeypatch.setattr(sending, "view_count_report_email", stalling)
    try:
        result = send_reports_to_authors(author_ids=[first, second], period=report_period(), task_id="t")
    finally:
        stalled[0].stop()
    assert result.sent_to == [first] and [m.to for m in mailoutbox] == [[User.objects.get(pk=first).email]]
    assert ReportDelivery.objects.get(author_id=second).status == ReportDelivery.Status.SENDING  # the successor's


@pytest.mark.django_db
def test_a_live_claim_of_another_task_is_left_to_it_without_a_retry(mailoutbox):
    [author] = authors_with_three_posts(1)
    claim_for([author], task_id="the other run", claim_token="theirs")
    result = send_reports_to_authors(author_ids=[author], period=report_period(), task_id="t")
    assert result.as_result()["sent"] == 0 and mailoutbox == []


@pytest.mark.django_db
def test_an_execution_stopped_by_the_smtp_server_lets_its_claims_go_for_its_retry(mailoutbox, settings):
    [author] = authors_with_three_posts(1)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_PORT = free_port()  # nothing listens: refused
    with pytest.raises(ConnectionRefusedError):
        send_reports_to_authors(author_ids=[author], period=report_period(), task_id="t")
    delivery = ReportDelivery.objects.get()
    assert (delivery.status, delivery.claimed_at) == (ReportDelivery.Status.SENDING, None)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_reports_to_authors(author_ids=[author], period=report_period(), task_id="t")
    assert len(mailoutbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("site_url", ["https://blog.example", "https://post-slug.example/blog"])
def test_report_links_are_the_posts_absolute_urls(settings, site_url):
    settings.SITE_URL = site_url
    author = AuthorFactory()
    for slug in ["hello-world", "post_2", "post-slug"]:
        PostFactory(published_at=published_a_month_ago(), author=author, title=slug, slug=slug)
    [report] = build_reports(author_ids=[author.pk], period=report_period())
    assert sorted(row.url for row in report.rows) == sorted(
        site_url + post.get_absolute_url() for post in Post.objects.filter(author=author)
    )


@pytest.mark.django_db
def test_a_report_email_is_multipart_alternative_with_a_stable_message_id_and_one_click_unsubscribe():
    author = author_with_posts(("Cats & dogs", 12, {0: 3}), full_name="Alice Author")
    [report] = build_reports(author_ids=[author.pk], period=report_period())

    message = view_count_report_email(report).message()
    parsed = email.message_from_bytes(message.as_bytes(linesep="\r\n"), policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert "Cats & dogs" in text_body(parsed) and "Cats &amp; dogs" in html_body(parsed)
    assert parsed["To"] == author.email
    assert parsed["Subject"] == subject_of_day(report_date())
    # The same Message-ID each time this author's report for this period is built: receivers fold duplicates.
    message_id = f"<view-report-{author.pk}-daily-{report_date().isoformat()}@quick-publisher>"
    assert parsed["Message-ID"] == view_count_report_email(report).message()["Message-ID"] == message_id
    # The token is signed with the second it was made in: read back, not made again.
    unsubscribe = re.fullmatch(r"<http://testserver/reports/unsubscribe/([^/]+)/>", parsed["List-Unsubscribe"].strip())
    assert unsubscribe and read_unsubscribe_token(unsubscribe[1]) == author.pk
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.django_db
def test_eligible_authors_are_streamed_in_keyset_chunks():
    ids = authors_with_three_posts(7)
    chunks = list(eligible_author_id_chunks(size=3))
    assert chunks == [ids[0:3], ids[3:6], ids[6:7]]


# --- Command line and admin --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_management_command_queues_the_report_for_the_given_date(celery_worker, smtp_server):
    earlier = report_date() - timedelta(days=3)
    author = AuthorFactory()
    post = PostFactory(published_at=published_a_month_ago(), author=author, title="Old news", view_count=40)
    DailyPostViews.objects.create(post=post, date=earlier, views=12)
    DailyPostViews.objects.create(post=post, date=earlier - timedelta(days=1), views=2)

    out = StringIO()
    call_command("queue_view_count_reports", "--date", earlier.isoformat(), stdout=out)
    assert f"Queued the daily view-count report for {earlier.isoformat()} as task " in out.getvalue()

    [message] = wait_for_reports(smtp_server, 1)
    assert message["Subject"] == subject_of_day(earlier)
    assert "Views this day: 12 · Change from the day before: +10 · Total views: 40" in text_body(message)
    assert ReportDelivery.objects.get(author=author).period_start == earlier

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("queue_view_count_reports", "--date", "yesterday")


@pytest.mark.django_db(transaction=True)
def test_admin_action_sends_the_latest_report_now_and_the_daily_run_does_not_repeat_it(
    admin_client, celery_worker, smtp_server
):
    author = author_with_posts(("Fresh post", 9, {0: 6, 1: 2}), email="eager@example.com")
    not_eligible = AuthorFactory(email="idle@example.com")

    response = admin_client.post(
        reverse("admin:publisher_reportpreferences_changelist"),
        {"action": "send_latest_report_now", "_selected_action": [author.pk, not_eligible.pk]},  # pks: author ids
        follow=True,
    )
    assert "Queued the latest report of 1 eligible author(s)." in response.content.decode()
    [message] = wait_for_reports(smtp_server, 1)
    assert message["To"] == "eager@example.com"
    assert message["Subject"] == subject_of_day(report_date())
    assert "Views this day: 6 · Change from the day before: +4" in text_body(message)

    # At the author's hour the tick finds the same day's report due: it was sent already, so it is not sent again.
    wait_until(lambda: ReportDelivery.objects.filter(author=author, status="sent").exists())
    summary = run_and_wait(chunks_before=1)
    assert summary["queued"] == 1
    assert len(reports_among(smtp_server.settle())) == 1


# --- The schedule ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_running_beat_follows_the_admin_when_the_tick_is_disabled_and_a_deploy_keeps_that(admin_client):
    beat = DatabaseScheduler(app=celery_app)  # a running beat: it read the schedule once, at start
    entry = beat.schedule[DUE_REPORTS]
    assert entry.schedule.run_every == timedelta(minutes=15)

    row = PeriodicTask.objects.get(name=DUE_REPORTS)
    admin_client.post(
        "/admin/django_celery_beat/periodictask/", {"action": "disable_tasks", "_selected_action": [row.pk]}
    )
    assert DUE_REPORTS not in beat.schedule
    ensure_periodic_tasks()  # migrating again (a deploy) keeps the admin's choice
    assert not PeriodicTask.objects.get(name=DUE_REPORTS).enabled


@pytest.mark.django_db(transaction=True)
def test_run_once_from_the_periodic_task_admin_sends_the_reports(admin_client, celery_worker, smtp_server):
    author = author_with_posts(("Run now", 2, {0: 2}))
    row = PeriodicTask.objects.get(name=DUE_REPORTS)

    admin_client.post("/admin/django_celery_beat/periodictask/", {"action": "run_tasks", "_selected_action": [row.pk]})

    [message] = wait_for_reports(smtp_server, 1)
    assert message["To"] == author.email
    parent = wait_until(lambda: TaskResult.objects.filter(task_name=PARENT_TASK, status="SUCCESS").first())
    assert parent.periodic_task_name == DUE_REPORTS


@pytest.mark.django_db
def test_migrate_stores_the_tick_every_15_minutes_and_no_daily_row():
    row = PeriodicTask.objects.get(name=DUE_REPORTS)
    assert row.enabled and row.task == PARENT_TASK
    assert (row.args, row.kwargs) == ("[]", "{}")
    assert (row.interval.every, row.interval.period, row.crontab) == (900, "seconds", None)
    assert not PeriodicTask.objects.filter(task="publisher.tasks.send_view_count_report").exists()


@pytest.mark.django_db
def test_the_migration_turns_an_installed_daily_row_into_the_tick_keeping_its_switch():
    from importlib import import_module

    from django.apps import apps as installed_apps

    PeriodicTask.objects.filter(name=DUE_REPORTS).delete()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name="Daily view-count report", task="publisher.tasks.send_view_count_report", crontab=crontab, enabled=False
    )
    import_module("publisher.migrations.0005_report_tick_schedule").forwards(installed_apps, None)
    import_module("publisher.migrations.0013_queue_due_reports_task").forwards(installed_apps, None)  # its new name
    ensure_periodic_tasks()  # after migrate, as on a deploy

    [row] = PeriodicTask.objects.filter(Q(task__startswith="publisher.tasks.send_") | Q(task=PARENT_TASK))
    assert (row.name, row.task, row.interval.every, row.crontab, row.enabled) == (
        DUE_REPORTS,
        PARENT_TASK,
        900,
        None,
        False,
    )
