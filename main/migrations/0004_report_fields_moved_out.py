"""Report preferences are publisher's (publisher.ReportPreferences, which copied them first: its migration runs
before this one)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("main", "0003_time_zone")]

    operations = [
        migrations.RemoveField(model_name="user", name="next_report_at"),
        migrations.RemoveField(model_name="user", name="report_frequency"),
        migrations.RemoveField(model_name="user", name="report_hour"),
    ]
