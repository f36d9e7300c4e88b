"""The daily 07:00 report row becomes the 15-minute tick that sends each author's report at their hour. Renamed in
place, so that an installation keeps one row (and its on/off switch) instead of both."""

from django.db import migrations
from django.utils import timezone

OLD = ("Daily view-count report", "publisher.tasks.send_view_count_report")
NEW = ("Send due view-count reports", "publisher.tasks.send_due_reports")
NEW_DESCRIPTION = "Every 15 minutes: mails each author whose hour has come their report, once per period."


def forwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=900, period="seconds")
    if PeriodicTask.objects.filter(name=OLD[0], task=OLD[1]).update(
        name=NEW[0], task=NEW[1], description=NEW_DESCRIPTION, interval=every_15_minutes, crontab=None
    ):
        # A running beat reloads its schedule when this stamp changes (as saving a row in the admin does).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0004_report_periods"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
