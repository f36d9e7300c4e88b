"""The daily report task delivered twice at once (beat fired twice, or two beats), to two workers (item 4).

Two worker subprocesses with two pool processes each share both runs. Each run queues two report tasks, so the
four tasks start together on the four processes, and each author's delivery is claimed by two of them at the
same moment. The SMTP server takes a moment per message so that the claims are held while the others try.
"""

import json

import pytest
from django_celery_results.models import TaskResult

from publisher.models import ReportDelivery
from publisher.tasks import send_view_count_report
from tests.conftest import wait_until
from tests.faults.conftest import authors_with_posts

AUTHORS = 24
CHUNK = 12
REPORT_TASK = "publisher.tasks.send_view_count_reports_to_authors"


def finished(task_name, count):
    def all_finished():
        return TaskResult.objects.filter(task_name=task_name, status="SUCCESS").count() == count

    return all_finished


@pytest.mark.django_db(transaction=True)
def test_report_run_delivered_twice_to_two_workers_mails_each_author_once(smtp, worker_processes):
    authors = authors_with_posts(AUTHORS)
    smtp.handler.delay = 0.02
    for name in ("worker-a", "worker-b"):
        worker_processes(name, pool="prefork", concurrency=2, REPORT_CHUNK_SIZE=CHUNK)

    send_view_count_report.delay()
    send_view_count_report.delay()  # the same run again, at the same moment: same date (yesterday)

    wait_until(finished("publisher.tasks.send_view_count_report", 2), timeout=60)
    wait_until(finished(REPORT_TASK, 2 * AUTHORS // CHUNK), timeout=60)  # every queued task ran to the end
    smtp.settle()

    assert smtp.count_by_recipient() == {author.email: 1 for author in authors}
    assert ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).count() == AUTHORS
    assert ReportDelivery.objects.count() == AUTHORS
    results = TaskResult.objects.filter(task_name=REPORT_TASK).values_list("result", flat=True)
    assert sum(json.loads(result)["sent"] for result in results) == AUTHORS  # what the stored results say
