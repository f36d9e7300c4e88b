"""Stored task results are deleted once expired, by a task of the platform on a schedule stored in the database."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler
from django_celery_results.models import TaskResult

from publisher.periodic_tasks import RESULT_CLEANUP
from quick_publisher.celery import app as celery_app

OLD_TASK_NAME = "publisher.tasks.delete_expired_task_results"
TASK_NAME = "quick_publisher.tasks.delete_expired_task_results"


def run_as_beat(name):
    """Send the periodic task stored in the database exactly as beat does when it is due."""
    beat = DatabaseScheduler(app=celery_app, lazy=True)
    entry = beat.Entry(PeriodicTask.objects.get(name=name), app=celery_app)
    return beat.apply_async(entry, advance=False)


@pytest.mark.django_db(transaction=True)
def test_expired_task_results_are_deleted_by_their_database_schedule(celery_worker, settings):
    old = TaskResult.objects.create(task_id="old-one", status="SUCCESS")
    expired = timezone.now() - settings.TASK_RESULT_MAX_AGE - timedelta(hours=1)
    TaskResult.objects.filter(pk=old.pk).update(date_done=expired)
    TaskResult.objects.create(task_id="recent-one", status="SUCCESS")

    assert run_as_beat(RESULT_CLEANUP).get(timeout=30) == {"deleted": 1}
    assert not TaskResult.objects.filter(task_id="old-one").exists()
    assert TaskResult.objects.filter(task_id="recent-one").exists()


@pytest.mark.django_db(transaction=True)
def test_migrate_renames_a_schedule_stored_under_the_tasks_old_name():
    call_command("migrate", "publisher", "0001", verbosity=0)
    PeriodicTask.objects.filter(name=RESULT_CLEANUP).update(task=OLD_TASK_NAME)  # as stored before the move
    # Every app to its leaf: going back to publisher 0001 also unapplied main 0004 (it runs after publisher 0012).
    call_command("migrate", verbosity=0)
    assert PeriodicTask.objects.get(name=RESULT_CLEANUP).task == TASK_NAME
