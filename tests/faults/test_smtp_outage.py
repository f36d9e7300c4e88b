"""The SMTP server refuses, drops or is away for a while (item 2): the tasks retry with backoff, and every email
arrives exactly once when it is back.

Each test has verification emails (three sign-ups) and a report run (four authors, two report tasks) in flight
together. The outage is measured in failed attempts, not seconds: a task gives up after EMAIL_MAX_RETRIES (5 in
the tests) retries, so an outage of fewer failures than that must never lose an email, on any machine.
"""

import pytest
from celery.signals import task_retry

from main.models import User
from publisher.models import ReportDelivery
from publisher.reports.tasks import queue_view_count_reports
from tests.factories import UserFactory
from tests.support.data import authors_with_posts
from tests.support.waiting import wait_until

EMAILS = 3 + 4


def start_signups_and_a_report_run(settings):
    settings.REPORT_CHUNK_SIZE = 2
    authors = authors_with_posts(4)
    users = UserFactory.create_batch(3, password=None)  # each sign-up queues its verification email
    queue_view_count_reports.delay()
    return [*users, *authors]


def assert_each_mailed_exactly_once(smtp, recipients):
    smtp.wait_for(EMAILS, timeout=60)
    assert smtp.settle() and smtp.count_by_recipient() == {person.email: 1 for person in recipients}
    wait_until(lambda: ReportDelivery.objects.filter(status=ReportDelivery.Status.SENT).count() == 4)
    wait_until(lambda: not User.objects.filter(is_verified=False, verification_sent_at__isnull=True).exists())
    assert ReportDelivery.objects.count() == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", ["refuses messages (451)", "drops connections mid-message"])
def test_smtp_server_failing_for_a_while_every_email_arrives_exactly_once(smtp, celery_worker, settings, fault):
    if fault.startswith("refuses"):
        smtp.refuse_next(4)
    else:
        smtp.drop_next(4)
    recipients = start_signups_and_a_report_run(settings)
    assert_each_mailed_exactly_once(smtp, recipients)
    assert smtp.handler.refused + smtp.handler.dropped == 4


@pytest.mark.django_db(transaction=True)
def test_smtp_server_down_then_back_on_its_port_every_email_arrives_exactly_once(smtp, celery_worker, settings):
    retried = set()

    def note_retry(sender, request, **kwargs):
        retried.add(request.id)

    task_retry.connect(note_retry, weak=False)
    try:
        smtp.stop()  # connections are refused
        recipients = start_signups_and_a_report_run(settings)
        # Down until every email task (three verification, two report tasks) has failed and is waiting to retry.
        wait_until(lambda: len(retried) == 5, timeout=20)
        smtp.start()
        assert_each_mailed_exactly_once(smtp, recipients)
    finally:
        task_retry.disconnect(note_retry)
