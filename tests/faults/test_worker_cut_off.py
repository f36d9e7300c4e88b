"""A worker host cut off the network in the middle of a report run (issue 16, proof 4).

Two workers run in network namespaces of their own, joined to this host by a veth pair each: they reach
PostgreSQL, the broker, Redis and the SMTP server only over that link. The SMTP server holds the first worker's four
connections at the fifth to eighth reports of its chunk (at RCPT, not accepted yet), and the test takes its link
down: the worker is alive, its claims are live, and its task is unacknowledged.

The broker hands that task to the other worker: on Redis once the (short) visibility timeout has passed, when the
other worker starts; on RabbitMQ once the cut-off worker's connection is seen dead (missed heartbeats). The message
keeps its task id, so a claim keyed by task id would let the other worker send the rest of the chunk at once,
and the cut-off worker, back on the network, send it again. With a claim per execution, the other worker finishes
its own chunk, leaves the live claims and retries once they may have lapsed; the link comes back, the cut-off
worker finishes its chunk, and the retry finds nothing left to send.
"""

import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db.models import Min
from django.utils import timezone
from django_celery_results.models import TaskResult

from publisher.models import ReportDelivery
from publisher.reports.tasks import queue_view_count_reports
from tests.support.brokers import broker_is_amqp
from tests.support.data import authors_with_posts
from tests.support.waiting import wait_until

AUTHORS = 20
CHUNK = 10  # two report tasks: the cut-off worker's, and the one the other worker runs first
REPORT_TASK = "publisher.tasks.send_view_count_reports_to_authors"
VISIBILITY_TIMEOUT = 1  # Redis: the other worker restores the cut-off worker's task when it starts
CLAIM_LEASE = 30  # longer than the cut: the test restores the link before the claims lapse
WORKER_SETTINGS = {
    "REPORT_CHUNK_SIZE": CHUNK,
    "REPORT_CLAIM_LEASE": CLAIM_LEASE,
    "CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT,
    "CELERY_BROKER_HEARTBEAT": 2,  # RabbitMQ sees the cut-off worker's connection dead within seconds
    "EMAIL_TIMEOUT": 60,  # the cut-off worker still waits for the SMTP server's answer when the link comes back
    # Four SMTP connections per task, all four held by the SMTP server while the link is down.
    "REPORT_SMTP_CONNECTIONS": 4,
}


def report_task_states():
    return sorted(TaskResult.objects.filter(task_name=REPORT_TASK).values_list("status", flat=True))


def the_other_worker_ran_both_chunks():
    """Its own chunk done, and the cut-off worker's delivered again and run to an end (sent, or left to retry)."""
    states = report_task_states()
    return len(states) == 2 and set(states) <= {"SUCCESS", "RETRY"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_cut_off_mid_run_sends_nothing_twice_when_its_link_comes_back(
    smtp, network_namespaces, worker_processes
):
    authors = authors_with_posts(AUTHORS)
    cut_off_host, other_host = network_namespaces(2)
    held = [smtp.hold_at_recipient(number) for number in range(5, 5 + WORKER_SETTINGS["REPORT_SMTP_CONNECTIONS"])]
    worker_processes(
        "cut-off",
        pool="prefork",
        prefix=cut_off_host.exec_prefix,
        **cut_off_host.worker_environment(),
        **WORKER_SETTINGS,
    )

    queue_view_count_reports.delay()  # as beat sends it
    for gate in held:
        gate.wait_reached()
    cut_off_host.cut()
    # Its chunk: four sent, the fifth to eighth in flight (one per connection), two more claimed; the second chunk
    # waits in the queue.
    assert Counter(ReportDelivery.objects.values_list("status", flat=True)) == {"sent": 4, "sending": 6}
    lapses_at = ReportDelivery.objects.aggregate(first=Min("claimed_at"))["first"] + timedelta(seconds=CLAIM_LEASE)

    if not broker_is_amqp():
        time.sleep(VISIBILITY_TIMEOUT + 0.1)  # then the other worker restores the held task when it starts
    worker_processes(
        "other", pool="prefork", prefix=other_host.exec_prefix, **other_host.worker_environment(), **WORKER_SETTINGS
    )
    wait_until(the_other_worker_ran_both_chunks, timeout=60)
    states_while_cut = report_task_states()
    assert timezone.now() < lapses_at, "the test was too slow to prove anything: the claims lapsed during the cut"

    cut_off_host.restore()
    smtp.open_all_gates()  # the held RCPTs are answered now, on a link that works again
    smtp.settle(timeout=CLAIM_LEASE + 60)

    assert smtp.count_by_recipient() == {author.email: 1 for author in authors}
    assert Counter(ReportDelivery.objects.values_list("status", flat=True)) == {"sent": AUTHORS}
    # The other worker left the live claims and tried again later; every task then ended.
    assert states_while_cut == ["RETRY", "SUCCESS"]
    assert report_task_states() == ["SUCCESS", "SUCCESS"]
