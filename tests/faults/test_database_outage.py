"""The database is unreachable for a moment while a report run is under way (item 6).

PostgreSQL only: the worker subprocess reaches the test database through a TCP proxy that the test cuts, which
closes the worker's connection under it and turns its next connection attempts away, as a failover or a network
blip does. SQLite is a file: it cannot be "unreachable"; another process's lock only makes a writer wait (up to
the 20 s busy timeout in settings), which no task sees as an error.

The cut lands at the worst moment, deterministically: right after the SMTP server accepted a report and before
the worker records it as sent.
"""

import pytest
from django.db import connection

from publisher.models import ReportDelivery
from publisher.tasks import send_view_count_report
from tests.conftest import wait_until
from tests.faults.conftest import TcpProxy, authors_with_posts, database_url

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
    worker = worker_processes("cut-off", pool=pool, REPORT_CHUNK_SIZE=CHUNK, DATABASE_URL=through_proxy)

    send_view_count_report.delay()
    accepted.wait_reached()
    database_proxy.cut(refuse=3)  # the worker's connection dies; its next three attempts are turned away
    accepted.open()  # the 250 goes out: the worker now tries to record the third report as sent

    wait_until(database_proxy.refusals_done, timeout=30)
    wait_until(
        lambda: ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).count() == AUTHORS, timeout=60
    )
    smtp.settle()
    assert smtp.count_by_recipient() == {author.email: 1 for author in authors}
    assert ReportDelivery.objects.count() == AUTHORS
    assert "Retry in" in worker.log()  # the affected task retried
