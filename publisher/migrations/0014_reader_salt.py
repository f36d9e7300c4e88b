"""The readers' daily salt moves from Redis to the database (publisher.models.ReaderSalt)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0013_queue_due_reports_task"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReaderSalt",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(unique=True)),
                ("salt", models.CharField(editable=False, max_length=64)),
            ],
        ),
    ]
