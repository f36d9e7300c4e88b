"""Beat on its own clock (issue 16, proof 1): a real `celery beat` process with the DatabaseScheduler, a schedule
stored in the database and due a few seconds later; the task runs on a worker process and its result is stored.
Nothing here calls the scheduler's methods: only beat's own clock decides when the task is sent."""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask
from django_celery_results.models import TaskResult

from tests.support.waiting import wait_until

TASK = "quick_publisher.tasks.delete_expired_task_results"
NAME = "Clean up soon (test)"
DUE_IN = timedelta(seconds=6)


@pytest.fixture
def beat_process(worker_processes, tmp_path):
    """`celery beat` as the Procfile starts it, with the environment of the test's worker processes."""
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
                "INFO",
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
        yield log_path
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_beat_sends_a_stored_schedule_when_it_is_due_and_the_worker_stores_the_result(beat_process):
    due = timezone.now() + DUE_IN
    PeriodicTask.objects.create(
        name=NAME, task=TASK, one_off=True, clocked=ClockedSchedule.objects.create(clocked_time=due)
    )

    result = wait_until(
        lambda: TaskResult.objects.filter(periodic_task_name=NAME, status="SUCCESS").first(), timeout=90
    )
    assert json.loads(result.result) == {"deleted": 0}
    assert result.date_created >= due - timedelta(seconds=1), "sent before it was due"  # beat's clock, not ours
    assert f"Scheduler: Sending due task {NAME}" in beat_process.read_text()
