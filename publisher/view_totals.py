"""The two statements of a flush that the ORM cannot express: adding a batch's views to what the rows already hold
(``views = views + new``), for every row of the batch in one statement, on PostgreSQL and SQLite alike.

The ORM's bulk_create can only overwrite a conflicting row with the new values, and its update can add a
subquery's value to a column only row by row from a table it can query; both build a model instance per row,
which is most of a large flush's time. Here the batch goes to the database as one JSON parameter, unpacked there.
The caller holds the posts' row locks (publisher.services.add_views_to_database).
"""

import json

from django.db import connection

# How each database unpacks a JSON array of arrays into rows: (the rows, then each column's expression by position).
JSON_ROWS = {
    "postgresql": ("json_array_elements(%s::json) AS item", "(item->>{n})::{type}"),
    "sqlite": ("json_each(%s)", "json_extract(value, '$[{n}]')"),
}

ADD_TO_DAILY_ROWS = """
INSERT INTO {daily} (post_id, date, views, readers)
SELECT {post_id}, {date}, {views}, {readers} FROM {rows} WHERE true
ON CONFLICT (post_id, date) DO UPDATE SET
  views = {daily}.views + excluded.views,
  readers = CASE WHEN {daily}.readers IS NULL OR {daily}.readers < excluded.readers
            THEN excluded.readers ELSE {daily}.readers END
"""

ADD_TO_POST_TOTALS = """
UPDATE {post} SET view_count = {post}.view_count + added.views
FROM (SELECT {id} AS id, {views} AS views FROM {rows}) AS added
WHERE {post}.id = added.id
"""


def columns(*types):
    rows, column = JSON_ROWS[connection.vendor]
    return rows, [column.format(n=n, type=type_) for n, type_ in enumerate(types)]


def add_to_daily_rows(days):
    """Add each (post_id, date, views, readers) to its post's daily row, created where there is none yet. A day's
    readers are an estimate of the whole day so far: the larger of the stored one and the new one is kept."""
    if not days:
        return
    rows, (post_id, date, views, readers) = columns("bigint", "date", "bigint", "bigint")
    sql = ADD_TO_DAILY_ROWS.format(
        daily="publisher_dailypostviews", post_id=post_id, date=date, views=views, readers=readers, rows=rows
    )
    payload = json.dumps([[post, day.isoformat(), count, estimate] for post, day, count, estimate in days])
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])


def add_to_post_totals(added):
    """Add {post_id: views} to the posts' totals."""
    if not added:
        return
    rows, (post_id, views) = columns("bigint", "bigint")
    sql = ADD_TO_POST_TOTALS.format(post="publisher_post", id=post_id, views=views, rows=rows)
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(list(added.items()))])
