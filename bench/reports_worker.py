"""The Celery app the benchmark's worker runs: the project's own app, plus a count of each task's queries.

`celery -A bench.reports_worker worker ...` (started by bench/reports.py). Between task_prerun and task_postrun
every statement Django sends to the database goes through an execute wrapper that counts it by kind ("UPDATE
publisher_reportdelivery", "SELECT publisher_post", ...); the counts, the task's return value and when it ran are
pushed to a Redis list for the benchmark to read. The counts include the result backend's writes (STARTED,
SUCCESS), which happen inside that window. Nothing here changes what the tasks do.
"""

import json
import os
import re
import time
from collections import Counter

import redis
from celery.signals import task_postrun, task_prerun
from django.db import connection

from quick_publisher.celery import app  # noqa: F401  the app celery -A finds here

RECORDS_KEY = "bench:reports:tasks"
# The table a statement is about: a SELECT's first column names it (a FROM may belong to a subquery in the
# select list); otherwise the first FROM, INTO or UPDATE target.
_FIRST_COLUMN = re.compile(r'\s*SELECT\s+(?:DISTINCT\s+)?"(\w+)"\.', re.IGNORECASE)
_TARGET = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"(\w+)"', re.IGNORECASE)


def statement_kind(sql):
    verb = sql.split(None, 1)[0].upper()
    match = _FIRST_COLUMN.match(sql) or _TARGET.search(sql)
    return f"{verb} {match.group(1)}" if match else verb


class QueryCounter:
    def __init__(self):
        self.kinds = Counter()
        self.started = time.monotonic()
        self.started_at = time.time()

    def __call__(self, execute, sql, params, many, context):
        self.kinds[statement_kind(sql)] += 1
        return execute(sql, params, many, context)


_counters = {}
_redis = None


def _records():
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _redis


@task_prerun.connect
def start_counting(task_id=None, task=None, **kwargs):
    counter = QueryCounter()
    _counters[task_id] = counter
    connection.execute_wrappers.append(counter)


@task_postrun.connect
def report_count(task_id=None, task=None, retval=None, state=None, **kwargs):
    counter = _counters.pop(task_id, None)
    if counter is None:
        return
    if counter in connection.execute_wrappers:
        connection.execute_wrappers.remove(counter)
    record = {
        "task": task.name,
        "id": task_id,
        "state": state,
        "seconds": time.monotonic() - counter.started,
        "started_at": counter.started_at,
        "finished_at": time.time(),
        "queries": sum(counter.kinds.values()),
        "kinds": dict(counter.kinds),
        "result": retval if isinstance(retval, dict) else repr(retval),
        "pid": os.getpid(),
    }
    _records().rpush(RECORDS_KEY, json.dumps(record))
