"""The user's time zone is an account attribute (their days and hours), no longer a report field."""

import django.core.validators  # noqa: F401
from django.db import migrations, models

import main.models


class Migration(migrations.Migration):
    dependencies = [("main", "0002_report_choice")]

    operations = [
        migrations.RenameField(model_name="user", old_name="report_time_zone", new_name="time_zone"),
        migrations.AlterField(
            model_name="user",
            name="time_zone",
            field=models.CharField(
                default=main.models.default_time_zone,
                help_text="Your days and hours are in this zone.",
                max_length=64,
                validators=[main.models.validate_time_zone],
            ),
        ),
    ]
