import html
import re

import nh3
from django.db import migrations

# A frozen copy of publisher.rendering.excerpt_from_html as it was when this migration was written: the migration
# means the same whatever that function becomes.
BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|blockquote|pre|tr|td|th)>", re.IGNORECASE)
SENTENCE_ENDS = tuple(".!?:;…")


def excerpt_from_html(safe_html, length=280):
    blocks = (" ".join(html.unescape(nh3.clean(part, tags=set())).split()) for part in BLOCK_END.split(safe_html))
    text = " ".join(block if block.endswith(SENTENCE_ENDS) else f"{block}." for block in blocks if block)
    if len(text) <= length:
        return text
    return text[: length - 1].rsplit(" ", 1)[0] + "…"


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
