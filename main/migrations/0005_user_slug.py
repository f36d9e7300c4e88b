"""Users get a public slug, derived from their full name (never from their email address): existing users get
theirs here, in order of joining, with a suffix for a twin name."""

from django.db import migrations, models

from main.slugs import free_slug


def give_existing_users_slugs(apps, schema_editor):
    User = apps.get_model("main", "User")
    users = User.objects.using(schema_editor.connection.alias)
    taken = set()
    for user in users.order_by("date_joined", "pk").only("pk", "full_name").iterator():
        slug = free_slug(user.full_name, taken)
        taken.add(slug)
        users.filter(pk=user.pk).update(slug=slug)


class Migration(migrations.Migration):
    dependencies = [("main", "0004_report_fields_moved_out")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="slug",
            field=models.SlugField(default="", max_length=160, editable=False, db_index=False),
            preserve_default=False,
        ),
        migrations.RunPython(give_existing_users_slugs, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="slug",
            field=models.SlugField(max_length=160, unique=True, editable=False),
        ),
    ]
