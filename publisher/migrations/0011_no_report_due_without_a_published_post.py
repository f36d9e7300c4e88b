"""next_report_at is now kept only for authors with a published post (services.keep_report_schedules), so that the
tick reads no posts. Users who had one from sign-up but have published nothing are due no report until they do."""

from django.conf import settings
from django.db import migrations
from django.db.models import Exists, OuterRef


def clear_next_report_of_users_with_nothing_published(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    Post = apps.get_model("publisher", "Post")
    published = Post.objects.filter(author=OuterRef("pk"), status="published")
    User.objects.filter(next_report_at__isnull=False).exclude(Exists(published)).update(next_report_at=None)


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0010_foreign_key_indexes_covered_by_composite"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("main", "0002_report_choice"),  # the users' next_report_at, which main 0004 drops
    ]

    operations = [
        # Going back leaves them unscheduled: the choice changed on /account/ schedules them again.
        migrations.RunPython(clear_next_report_of_users_with_nothing_published, migrations.RunPython.noop),
    ]
