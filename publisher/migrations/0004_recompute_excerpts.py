from django.db import migrations

from publisher.rendering import excerpt_from_html


def recompute_excerpts(apps, schema_editor):
    """Excerpts are stored: existing posts get the excerpt that keeps list items and headings apart."""
    Post = apps.get_model("publisher", "Post")
    posts = Post.objects.only("pk", "content_html", "excerpt").order_by("pk")
    batch = []
    for post in posts.iterator(chunk_size=2000):
        post.excerpt = excerpt_from_html(post.content_html)
        batch.append(post)
        if len(batch) == 2000:
            Post.objects.bulk_update(batch, ["excerpt"])
            batch = []
    Post.objects.bulk_update(batch, ["excerpt"])


class Migration(migrations.Migration):
    dependencies = [("publisher", "0003_flushed_post_views")]

    operations = [migrations.RunPython(recompute_excerpts, migrations.RunPython.noop)]
