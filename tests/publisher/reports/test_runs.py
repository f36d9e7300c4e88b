"""Report runs in the admin: one row per tick that found authors due, its progress from the delivery records (a
JSON view polled by a static script), failed deliveries listed with their error and retried once."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from publisher.models import ReportDelivery, ReportRun
from publisher.reports import tasks
from publisher.reports.claims import Claim, mark_failed
from publisher.reports.periods import Period
from publisher.reports.preferences import turn_off_reports
from publisher.reports.sending import send_reports_to_authors
from publisher.reports.tick import take_due_reports
from tests.factories import AuthorFactory, PostFactory

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def due_authors(count):
    authors = []
    for _ in range(count):
        author = AuthorFactory(time_zone="UTC", reports__next_report_at=NOW - timedelta(minutes=5))
        PostFactory(author=author, published_at=NOW - timedelta(days=3))
        authors.append(author)
    return authors


def period_of(run):
    """The period of the run's deliveries."""
    delivery = run.deliveries.first()
    return Period.of(delivery.kind, delivery.period_start)


def tick_without_sending():
    """The tick records its run and deliveries; the sends are left to the test."""
    with time_machine.travel(NOW, tick=False):
        for _ in take_due_reports():
            pass
    return ReportRun.objects.get()


@pytest.mark.django_db
def test_the_run_json_follows_the_delivery_records_as_they_change(admin_client, mailoutbox):
    authors = due_authors(4)
    run = tick_without_sending()
    url = f"/admin/publisher/reportrun/{run.pk}/progress.json"

    def progress():
        response = admin_client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        return json.loads(response.content)

    started = progress()
    assert {
        k: started[k]
        for k in ("authors_due", "queued", "sent", "failed", "skipped", "in_progress", "total", "finished", "periods")
    } == {
        "authors_due": 4,
        "queued": 4,
        "sent": 0,
        "failed": 0,
        "skipped": 0,
        "in_progress": 4,
        "total": 4,
        "finished": False,
        "periods": ["daily 2026-11-29"],
    }
    period = period_of(run)
    send_reports_to_authors(author_ids=[a.pk for a in authors[:2]], period=period, task_id="t1")
    Claim(period, task_id="t2", token="c2").take([authors[2].pk])
    mark_failed(task_id="t2", error="SMTPDataError: 451 try later")
    turn_off_reports(user_id=authors[3].pk)
    send_reports_to_authors(author_ids=[authors[3].pk], period=period, task_id="t3")

    finished = progress()
    records = dict(run.deliveries.values_list("author_id", "status"))
    assert records == {authors[0].pk: "sent", authors[1].pk: "sent", authors[2].pk: "failed", authors[3].pk: "skipped"}
    assert (finished["sent"], finished["failed"], finished["skipped"], finished["in_progress"]) == (2, 1, 1, 0)
    assert finished["finished"] and finished["finished_at"] is not None

    # The run's page: the bar, the failed delivery with its error; the list: the same counts.
    page = admin_client.get(f"/admin/publisher/reportrun/{run.pk}/change/").content.decode()
    assert f'data-url="{url}"' in page and '<progress max="4" value="4">' in page
    assert "SMTPDataError: 451 try later" in page and authors[2].email in page
    assert '<script src="/static/publisher/report_run_progress.js"></script>' in page
    retry_list = admin_client.get(f"/admin/publisher/reportdelivery/?run__id__exact={run.pk}&status__exact=failed")
    assert retry_list.status_code == 200 and list(retry_list.context["cl"].result_list) == list(
        run.deliveries.filter(status="failed")
    )
    listing = admin_client.get("/admin/publisher/reportrun/").content.decode()
    assert '<td class="field-sent">2</td><td class="field-failed">1</td><td class="field-skipped">1</td>' in listing


@pytest.mark.django_db
def test_retrying_a_runs_failed_deliveries_sends_each_once(admin_client, mailoutbox, monkeypatch):
    monkeypatch.setattr(
        tasks.send_view_count_reports_to_authors,
        "delay",
        lambda *args, **kwargs: tasks.send_view_count_reports_to_authors.apply(args, kwargs, throw=True),
    )
    authors = due_authors(2)
    run = tick_without_sending()
    period = period_of(run)
    for author in authors:
        Claim(period, task_id=f"t{author.pk}", token=f"c{author.pk}").take([author.pk])
        mark_failed(task_id=f"t{author.pk}", error="SMTPServerDisconnected")

    for _ in range(2):  # a double click retries nothing more
        response = admin_client.post(
            "/admin/publisher/reportrun/",
            {"action": "retry_failed_deliveries", "_selected_action": [run.pk]},
            follow=True,
        )
        assert response.status_code == 200
    assert sorted(m.to[0] for m in mailoutbox) == sorted(a.email for a in authors)
    assert set(run.deliveries.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db
def test_report_runs_are_for_superusers_only(client):
    due_authors(1)
    run = tick_without_sending()
    author = AuthorFactory()  # staff, in the Authors group
    client.force_login(author)
    assert client.get("/admin/publisher/reportrun/").status_code == 403
    assert client.get(f"/admin/publisher/reportrun/{run.pk}/progress.json").status_code == 404
    assert "Report runs" not in client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_a_tick_that_finds_nobody_due_records_no_run():
    AuthorFactory(reports__next_report_at=NOW + timedelta(minutes=1))
    with time_machine.travel(NOW, tick=False):
        assert tasks.queue_reports_due()["run"] is None
    assert not ReportRun.objects.exists() and not ReportDelivery.objects.exists()


@pytest.mark.django_db
def test_a_delivery_whose_task_the_broker_lost_is_queued_again_by_a_later_tick_and_sent_once(
    mailoutbox, monkeypatch, settings
):
    [author] = due_authors(1)
    lost = []
    monkeypatch.setattr(tasks.send_view_count_reports_to_authors, "delay", lambda *a, **k: lost.append(a))
    with time_machine.travel(NOW, tick=False):
        assert tasks.queue_reports_due()["queued"] == 1
    assert len(lost) == 1 and mailoutbox == []

    monkeypatch.setattr(
        tasks.send_view_count_reports_to_authors,
        "delay",
        lambda *args, **kwargs: tasks.send_view_count_reports_to_authors.apply(args, kwargs, throw=True),
    )
    later = NOW + timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT + 60)
    for tick in (later, later + timedelta(minutes=15)):
        with time_machine.travel(tick, tick=False):
            tasks.queue_reports_due()
    assert [m.to for m in mailoutbox] == [[author.email]]
    assert ReportDelivery.objects.get().status == "sent"
