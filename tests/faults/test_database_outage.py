"""The database is unreachable for a moment while a report run is under way (item 6).

PostgreSQL only: the worker subprocess reaches the test database through a TCP proxy that the test cuts, which
closes the worker's connection under it and turns its next connection attempts away, as a failover or a network
blip does. SQLite is a file: it cannot be "unreachable"; another process's lock only makes a writer wait (up to
the 20 s busy timeout in settings), which no task sees as an error.

The cut lands at the worst moment, deterministically: right after the SMTP server accepted a report and before
the worker records it as sent.
"""

import logging
import uuid

import pytest
from celery import states
from django.db import connection
from django_celery_results.models import TaskResult

from publisher.models import ReportDelivery
from publisher.reports.tasks import queue_view_count_reports
from quick_publisher.celery import app as celery_app
from tests.support.data import authors_with_posts
from tests.support.processes import database_url
from tests.support.proxy import TcpProxy
from tests.support.waiting import timed, wait_until

AUTHORS = 12
CHUNK = 6


@pytest.fixture
def database_proxy():
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    yield proxy
    proxy.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pool", ["prefork", "solo"])
def test_database_unreachable_mid_report_run_tasks_retry_and_each_author_gets_one_report(
    smtp, worker_processes, database_proxy, pool
):
    authors = authors_with_posts(AUTHORS)
    accepted = smtp.hold_after_accepting(3)
    through_proxy = database_url(host="127.0.0.1", port=database_proxy.port)
    # The task's retry leaves the claims it could not let go (the database away) until their lease lapses.
    worker = worker_processes(
        "cut-off", pool=pool, REPORT_CHUNK_SIZE=CHUNK, REPORT_CLAIM_LEASE=2, DATABASE_URL=through_proxy
    )

    queue_view_count_reports.delay()
    accepted.wait_reached()
    database_proxy.cut(refuse=3)  # the worker's connection dies; its next three attempts are turned away
    accepted.open()  # the 250 goes out: the worker now tries to record the third report as sent

    wait_until(database_proxy.refusals_done, timeout=30)
    wait_until(lambda: ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).count() == AUTHORS, timeout=60)
    smtp.settle()
    assert smtp.count_by_recipient() == {author.email: 1 for author in authors}
    assert ReportDelivery.objects.count() == AUTHORS
    assert "Retry in" in worker.log()  # the affected task retried


# --- The task-result store (quick_publisher/task_results.py) -----------------------------------------


@pytest.fixture
def db_through_proxy(database_proxy, transactional_db):
    """This process's own database connection goes through the proxy, as a worker's would."""
    db = connection.settings_dict
    direct = db["HOST"], db["PORT"]
    connection.close()
    db["HOST"], db["PORT"] = "127.0.0.1", str(database_proxy.port)
    TaskResult.objects.exists()  # a connection is open through the proxy when it is cut
    yield database_proxy
    database_proxy.cut(refuse=0)
    connection.close()
    db["HOST"], db["PORT"] = direct


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_state_written_while_the_database_is_away_for_a_moment_is_stored_on_a_new_connection(
    db_through_proxy,
):
    task_id = str(uuid.uuid4())
    db_through_proxy.cut(refuse=3)  # the open connection dies; the next three attempts are turned away
    celery_app.backend.store_result(task_id, {"sent": 1}, states.SUCCESS)
    assert db_through_proxy.refused == 3
    assert TaskResult.objects.get(task_id=task_id).status == states.SUCCESS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_state_written_while_the_database_stays_away_is_skipped_with_a_warning(db_through_proxy, caplog):
    task_id = str(uuid.uuid4())
    db_through_proxy.cut(refuse=10_000)
    with caplog.at_level(logging.WARNING, logger="quick_publisher.task_results"), timed() as timing:
        celery_app.backend.store_result(task_id, {"sent": 1}, states.SUCCESS)  # returns: the worker goes on
    assert db_through_proxy.refused >= 1 + celery_app.conf.result_backend_max_retries - 1
    assert timing.wall < 15, f"the retries took {timing}"  # a few seconds of backoff, then it gives up
    assert f"Task {task_id}: state SUCCESS not stored" in caplog.text

    db_through_proxy.cut(refuse=0)
    assert not TaskResult.objects.filter(task_id=task_id).exists()  # a stale state, as the README says
