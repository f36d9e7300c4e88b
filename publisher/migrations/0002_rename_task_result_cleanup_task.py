"""The task that deletes expired task results moved from publisher.tasks to quick_publisher.tasks: schedules
stored before then name the old task."""

from django.db import migrations
from django.utils import timezone

OLD_NAME = "publisher.tasks.delete_expired_task_results"
NEW_NAME = "quick_publisher.tasks.delete_expired_task_results"


def rename_task(apps, old, new):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(task=old).update(task=new):
        # A running beat reloads its schedule when this stamp changes (as saving a row in the admin does).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forwards(apps, schema_editor):
    rename_task(apps, OLD_NAME, NEW_NAME)


def backwards(apps, schema_editor):
    rename_task(apps, NEW_NAME, OLD_NAME)


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
