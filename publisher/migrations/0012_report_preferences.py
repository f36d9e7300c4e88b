"""Report preferences move from the user's row to publisher's own table, one row per user, copied as they are."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

BATCH = 2000


def copy_preferences_from_users(apps, schema_editor):
    User = apps.get_model("main", "User")
    ReportPreferences = apps.get_model("publisher", "ReportPreferences")
    users = User.objects.order_by("pk").values_list("pk", "report_frequency", "report_hour", "next_report_at")
    batch = []
    for pk, frequency, hour, next_report_at in users.iterator(chunk_size=BATCH):
        batch.append(ReportPreferences(author_id=pk, frequency=frequency, hour=hour, next_report_at=next_report_at))
        if len(batch) == BATCH:
            ReportPreferences.objects.bulk_create(batch)
            batch = []
    ReportPreferences.objects.bulk_create(batch)


def copy_preferences_to_users(apps, schema_editor):
    User = apps.get_model("main", "User")
    ReportPreferences = apps.get_model("publisher", "ReportPreferences")
    for preferences in ReportPreferences.objects.iterator(chunk_size=BATCH):
        User.objects.filter(pk=preferences.author_id).update(
            report_frequency=preferences.frequency,
            report_hour=preferences.hour,
            next_report_at=preferences.next_report_at,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0011_no_report_due_without_a_published_post"),
        ("main", "0003_time_zone"),
    ]
    # The users' report fields are dropped only once copied here.
    run_before = [("main", "0004_report_fields_moved_out")]

    operations = [
        migrations.CreateModel(
            name="ReportPreferences",
            fields=[
                (
                    "author",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="report_preferences",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "frequency",
                    models.CharField(
                        choices=[
                            ("daily", "Daily, about the day before"),
                            ("weekly", "Weekly, on Monday, about the week before"),
                            ("off", "Off"),
                        ],
                        default="daily",
                        max_length=10,
                        verbose_name="email me a report of my posts' views",
                    ),
                ),
                (
                    "hour",
                    models.PositiveSmallIntegerField(
                        default=7,
                        help_text="0 to 23, in your time zone.",
                        validators=[django.core.validators.MaxValueValidator(23)],
                        verbose_name="report hour",
                    ),
                ),
                ("next_report_at", models.DateTimeField(blank=True, db_index=True, editable=False, null=True)),
            ],
            options={"verbose_name_plural": "report preferences"},
        ),
        migrations.RunPython(copy_preferences_from_users, copy_preferences_to_users),
    ]
