"""The GIN index of posts' full-text search (publisher/search.py), on PostgreSQL only.

Its expression is post_search_vector()'s, written out here as a migration must be: a query uses the index only
while the two are the same (tests/publisher/test_search.py checks that the search's plan uses it). SQLite, the
development database, has no GIN index (its search is a plain fallback): there the migration does nothing. The index
stays out of the models' state, since SQLite rebuilds a table from that state, indexes and all, when a later
migration alters one of its columns.
"""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations


class AddIndexOnPostgreSQL(migrations.AddIndex):
    """AddIndex on PostgreSQL, nothing elsewhere; either way, not in the models' state."""

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self):
        return f"{super().describe()} (PostgreSQL only)"


class Migration(migrations.Migration):

    dependencies = [
        ("publisher", "0016_post_images"),
    ]

    operations = [
        AddIndexOnPostgreSQL(
            model_name="post",
            index=GinIndex(
                SearchVector("title", weight="A", config="english")
                + SearchVector("description", weight="B", config="english")
                + SearchVector("content", weight="C", config="english"),
                name="post_search_idx",
            ),
        ),
    ]
