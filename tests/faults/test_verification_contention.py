"""The verification email's row lock under contention (issue 16, proof 2).

The sign-up task and a second task for the same user (the sweeper's, say) reach two worker processes at the same
moment. The SMTP server keeps the first sender waiting at RCPT, inside its transaction, holding the user's row
lock: the test sees the second task's database session wait on that lock, held by the first one's. Once the gate
opens, the first commits its sent-mark, the second reads it and sends nothing: one email.

PostgreSQL only: SQLite has no row locks (select_for_update does nothing there), so it would prove nothing.
"""

import json
from collections import Counter

import pytest
from django.db import connection
from django_celery_results.models import TaskResult

from main.models import User
from main.tasks import send_verification_email
from tests.factories import UserFactory
from tests.support.smtp import text_body
from tests.support.waiting import wait_until

TASK = "main.tasks.send_verification_email"
# The first sender waits at the SMTP server while the second queues behind it: longer than the default 10 s on a
# loaded machine must not time the held session out. Gate.hold gives up after 60 s: the waits below fit in it.
WORKER_SETTINGS = {"EMAIL_TIMEOUT": 90}


def verification_tasks(status):
    return TaskResult.objects.filter(task_name=TASK, status=status)


def both_started():
    started = list(verification_tasks("STARTED"))
    return started if len(started) == 2 else None


def sessions_waiting_on_a_lock():
    """(query waiting, state of the session holding the lock) for each session of the test database that waits
    on a lock. One query the ORM cannot express: PostgreSQL's own view of its sessions and locks."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT waiting.query, holder.state
            FROM pg_stat_activity AS waiting
            JOIN pg_stat_activity AS holder ON holder.pid = ANY(pg_blocking_pids(waiting.pid))
            WHERE waiting.datname = current_database() AND waiting.wait_event_type = 'Lock'
            """
        )
        return cursor.fetchall()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_verification_email_at_once_one_waits_on_the_row_lock_and_one_email_leaves(
    smtp, worker_processes
):
    held = smtp.hold_at_recipient(1)  # whichever sender gets there first waits, its row lock held
    for name in ("worker-a", "worker-b"):
        worker_processes(name, pool="solo", **WORKER_SETTINGS)

    user = UserFactory(password=None)  # the sign-up queues its verification email
    send_verification_email.delay(user.pk)  # and the same email again, at the same moment
    held.wait_reached()

    # Both tasks are running, one on each worker process...
    started = wait_until(both_started, timeout=30)
    assert len({result.worker for result in started}) == 2
    # ...and the second one's session waits for the row lock that the held sender's open transaction has.
    [(waiting_query, holder_state)] = wait_until(sessions_waiting_on_a_lock, timeout=30)
    assert User._meta.db_table in waiting_query and "FOR UPDATE" in waiting_query.upper()
    assert holder_state == "idle in transaction"  # the holder is talking to the SMTP server, not to the database
    assert smtp.messages == []

    held.open()
    wait_until(lambda: verification_tasks("SUCCESS").count() == 2, timeout=60)
    smtp.settle()

    results = verification_tasks("SUCCESS").values_list("result", flat=True)
    outcomes = Counter(json.loads(result)["outcome"] for result in results)
    assert outcomes == {"sent": 1, "already sent": 1}
    assert smtp.count_by_recipient() == {user.email: 1}
    user.refresh_from_db()
    assert user.verification_sent_at is not None
    [message] = smtp.messages
    assert str(user.verification_uuid) in text_body(message)  # the link that was sent
