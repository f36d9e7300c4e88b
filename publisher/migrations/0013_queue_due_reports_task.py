"""The tick's task is named for what it does, queue the due reports: schedules stored before name the old task."""

from django.db import migrations
from django.utils import timezone

OLD_NAME = "publisher.tasks.send_due_reports"
NEW_NAME = "publisher.reports.tasks.queue_due_reports"


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
    dependencies = [("publisher", "0012_report_preferences")]

    operations = [migrations.RunPython(forwards, backwards)]
