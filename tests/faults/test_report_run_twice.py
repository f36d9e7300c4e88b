"""The daily report task delivered twice at once (beat fired twice, or two beats), to two workers (item 4; issue 16,
proof 3).

Two worker subprocesses with two pool processes each share both runs. Each run queues two report tasks (one per
chunk of authors), so the four tasks start together and each chunk is claimed by one task of each run.

That the runs really overlap is shown, not hoped for: the SMTP server holds the first report task to send at its
first recipient, mid-run, its claims taken. While it is held, the other run's task for the same authors starts,
makes its claim and finishes without mailing any author the held task claimed; only then does the gate open.
"""

import ast
import json

import pytest
from django_celery_results.models import TaskResult

from main.models import User
from publisher.models import ReportDelivery
from publisher.reports.tasks import queue_view_count_reports
from tests.support.data import authors_with_posts
from tests.support.waiting import wait_until

AUTHORS = 24
CHUNK = 12
REPORT_TASK = "publisher.tasks.send_view_count_reports_to_authors"
RUN_TASK = "publisher.reports.tasks.queue_view_count_reports"
# The held sender waits at the SMTP server while the other tasks run: on a loaded machine that may take longer than
# the default 10 s, which must not time its session out. Gate.hold gives up after 60 s: the waits below fit in it.
# One SMTP connection per task (two per worker of two processes): the held task is held whole, at its one connection.
# Several connections sharing one execution's claims: tests/publisher/reports/test_connections.py.
WORKER_SETTINGS = {"REPORT_CHUNK_SIZE": CHUNK, "EMAIL_TIMEOUT": 90, "REPORT_SMTP_CONNECTIONS": 2}


def finished(task_name, count):
    def all_finished():
        return TaskResult.objects.filter(task_name=task_name, status="SUCCESS").count() == count

    return all_finished


def author_ids_of(task_result):
    """The author ids a report task was given, from its stored arguments (Celery's argsrepr, JSON-encoded)."""
    author_ids, _report_date = ast.literal_eval(json.loads(task_result.task_args))
    return set(author_ids)


@pytest.mark.django_db(transaction=True)
def test_report_run_delivered_twice_to_two_workers_overlaps_and_mails_each_author_once(smtp, worker_processes):
    authors = authors_with_posts(AUTHORS)
    held = smtp.hold_at_recipient(1)  # the first report task to send waits there, mid-run, holding its claims
    for name in ("worker-a", "worker-b"):
        worker_processes(name, pool="prefork", concurrency=2, **WORKER_SETTINGS)

    queue_view_count_reports.delay()
    queue_view_count_reports.delay()  # the same run again, at the same moment: same date (yesterday)
    held.wait_reached()

    # The gate still closed: the three other report tasks run to the end, the held one cannot.
    wait_until(finished(REPORT_TASK, 2 * AUTHORS // CHUNK - 1), timeout=45)
    held_task = TaskResult.objects.get(task_name=REPORT_TASK, status="STARTED")  # mid-run, at the gate
    claimed_by_held = set(
        ReportDelivery.objects.filter(task_id=held_task.task_id, status=ReportDelivery.Status.SENDING).values_list(
            "author_id", flat=True
        )
    )
    assert claimed_by_held, "the held task's claims were taken over by another task"
    emails_of_held = set(User.objects.filter(pk__in=claimed_by_held).values_list("email", flat=True))
    assert not emails_of_held & {message["To"] for message in smtp.messages}  # no one has sent their reports
    # The other run's task for the same chunk of authors made its claim meanwhile and finished; none of the
    # authors the held task claimed got a report from it.
    other_run = [
        result
        for result in TaskResult.objects.filter(task_name=REPORT_TASK, status="SUCCESS")
        if author_ids_of(result) == author_ids_of(held_task)
    ]
    assert len(other_run) == 1, other_run
    sent_by_other_run = set(json.loads(other_run[0].result)["sent_to"])
    assert not sent_by_other_run & claimed_by_held
    assert sent_by_other_run | claimed_by_held == author_ids_of(held_task)

    held.open()
    wait_until(finished(RUN_TASK, 2), timeout=60)
    wait_until(finished(REPORT_TASK, 2 * AUTHORS // CHUNK), timeout=60)  # every queued task ran to the end
    smtp.settle()

    assert smtp.count_by_recipient() == {author.email: 1 for author in authors}
    assert ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).count() == AUTHORS
    assert ReportDelivery.objects.count() == AUTHORS
    results = TaskResult.objects.filter(task_name=REPORT_TASK).values_list("result", flat=True)
    assert sum(json.loads(result)["sent"] for result in results) == AUTHORS  # what the stored results say
