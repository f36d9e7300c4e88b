"""Reports by period: a delivery is keyed by author, kind (daily/weekly) and the period's first day; the runs of
the periodic tick are recorded. Existing deliveries are daily ones whose period started on their report date."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0003_flushed_post_views"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReportRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("ticked_at", models.DateTimeField(db_index=True)),
                ("periods", models.JSONField(default=list, help_text='The periods it covered, as "daily 2026-11-29".')),
                ("authors_due", models.PositiveIntegerField(default=0)),
                ("queued", models.PositiveIntegerField(default=0)),
            ],
            options={"ordering": ["-ticked_at", "-pk"]},
        ),
        migrations.RemoveConstraint(model_name="reportdelivery", name="report_delivery_author_date_unique"),
        migrations.RemoveIndex(model_name="reportdelivery", name="report_date_status_idx"),
        migrations.RenameField(model_name="reportdelivery", old_name="report_date", new_name="period_start"),
        migrations.AlterField(
            model_name="reportdelivery",
            name="period_start",
            field=models.DateField(help_text="The first day of the period, in the author's days."),
        ),
        migrations.AddField(
            model_name="reportdelivery",
            name="kind",
            field=models.CharField(choices=[("daily", "Daily"), ("weekly", "Weekly")], default="daily", max_length=10),
        ),
        migrations.AddField(
            model_name="reportdelivery",
            name="run",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="deliveries",
                to="publisher.reportrun",
                help_text="The tick that found it due; empty when sent by hand (command or admin).",
            ),
        ),
        migrations.AlterField(
            model_name="reportdelivery",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("sending", "Sending"), ("sent", "Sent"), ("failed", "Failed"),
                         ("skipped", "Skipped")],
                db_index=True, default="pending", max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="reportdelivery",
            constraint=models.UniqueConstraint(
                fields=("author", "kind", "period_start"), name="report_delivery_author_kind_period_unique"
            ),
        ),
        migrations.AddIndex(
            model_name="reportdelivery",
            index=models.Index(fields=["period_start", "status"], name="report_period_status_idx"),
        ),
    ]
