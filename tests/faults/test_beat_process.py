"""Beat on its own clock (issue 16, proof 1): a real `celery beat` process with the DatabaseScheduler, a schedule
stored in the database and due a few seconds later; the task runs on a worker process and its result is stored.
Nothing here calls the scheduler's methods: only beat's own clock decides when the task is sent.

The clock starts once beat is up and has read the stored schedule, and beat reads the new row before it is due:
a beat that found the row only after its time would send it at once, and its clock would have decided nothing.
"""

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from tests.support.waiting import wait_until

TASK = "quick_publisher.tasks.delete_expired_task_results"
NAME = "Clean up soon (test)"
# Beat reads a change to the stored schedule within its loop interval (the DatabaseScheduler's default, 5 s): due
# later than that, the row is read before its time, and beat then sleeps until it.
DUE_IN = timedelta(seconds=10)
# Beat's log (Celery's format): "[2026-12-03 03:12:22,744: INFO/MainProcess] message", in local time, to the ms.
LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/MainProcess\] (.*)$", re.M)


class Beat:
    def __init__(self, process, log_path):
        self.process = process
        self.log_path = log_path

    def log(self):
        return self.log_path.read_text(errors="replace")

    def when_logged(self, message_start):
        """When beat logged a line starting with `message_start` (the first such), to the millisecond; None if not."""
        for stamp, message in LOG_LINE.findall(self.log()):
            if message.startswith(message_start):
                return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").astimezone()  # local time, as logged
        return None

    def wait_for(self, message_start, timeout):
        def logged():
            assert self.process.poll() is None, f"beat exited with {self.process.returncode}:\n{self.log()[-3000:]}"
            return self.when_logged(message_start)

        logged.__name__ = f"beat to log {message_start!r}"
        return wait_until(logged, timeout=timeout, interval=0.05)


@pytest.fixture
def beat_process(worker_processes, tmp_path):
    """`celery beat` as the Procfile starts it, with the environment of the test's worker processes; its log at
    DEBUG, which says when the scheduler reads the stored schedule and what it found."""
    worker = worker_processes("beat-test-worker")
    log_path = tmp_path / "beat.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "quick_publisher",
                "beat",
                "--loglevel",
                "DEBUG",
                "--pidfile",
                str(tmp_path / "beat.pid"),
            ],
            cwd=settings.BASE_DIR,
            env=worker.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Beat(process, log_path)
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_beat_sends_a_stored_schedule_when_it_is_due_and_the_worker_stores_the_result(beat_process):
    # Beat is up: its scheduler has read the stored schedule once (and holds no row of this test).
    beat_process.wait_for("DatabaseScheduler: initial read", timeout=90)
    beat_process.wait_for("Current schedule:", timeout=30)
    assert NAME not in beat_process.log()

    # Only now the clock starts. The time as stored (to the microsecond) is the one beat compares with.
    clocked = ClockedSchedule.objects.create(clocked_time=timezone.now() + DUE_IN)
    clocked.refresh_from_db()
    due = clocked.clocked_time
    PeriodicTask.objects.create(name=NAME, task=TASK, one_off=True, clocked=clocked)

    # Beat reads the new row (its DEBUG log lists the schedule it read) before the row is due.
    def beat_read_the_new_row():
        return f"<ModelEntry: {NAME} " in beat_process.log()

    wait_until(beat_read_the_new_row, timeout=DUE_IN.total_seconds() + 30)
    assert timezone.now() < due, "beat read the row only once it was due: its clock decided nothing"

    result = wait_until(
        lambda: TaskResult.objects.filter(periodic_task_name=NAME, status="SUCCESS").first(), timeout=90
    )
    assert json.loads(result.result) == {"deleted": 0}
    # Not before due, to the resolution of each record: beat's log line to the millisecond, the stored result to the
    # microsecond (the clocked schedule compares times to the microsecond: no earlier send is allowed).
    sent = beat_process.when_logged(f"Scheduler: Sending due task {NAME}")
    assert sent is not None, beat_process.log()[-3000:]
    assert sent >= due.replace(microsecond=due.microsecond // 1000 * 1000), f"sent at {sent}, due at {due}"
    assert result.date_created >= due, f"the result stored at {result.date_created}, due at {due}"
