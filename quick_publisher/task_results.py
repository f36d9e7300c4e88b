"""Where task results go: django-celery-results' database backend, made to ride out a database that is
unreachable for a moment.

Celery writes a task's state (started, retry, failure, success) outside the task's body, where the task's own
retries do not reach. With the stock backend a database outage at that moment raised inside the worker: a solo
worker stopped ("Unrecoverable error"), a prefork worker dropped the task it was starting, so a report task due
to retry was never run again. Here a failed write is tried again on a new connection for a few seconds
(CELERY_RESULT_BACKEND_* settings); if the database is still away, the state update is logged and skipped. A
stale row in the admin's task results, never a lost task.
"""

import logging

from celery.exceptions import BackendStoreError
from django.db import InterfaceError, OperationalError, connection
from django_celery_results.backends.database import DatabaseBackend as StockDatabaseBackend

logger = logging.getLogger(__name__)

DATABASE_AWAY = (InterfaceError, OperationalError)


class DatabaseBackend(StockDatabaseBackend):
    def exception_safe_to_retry(self, exc):
        if isinstance(exc, DATABASE_AWAY):
            connection.close()  # the broken connection is dropped; the next try opens a new one
            return True
        return False

    def store_result(self, task_id, result, state, traceback=None, request=None, **kwargs):
        try:
            return super().store_result(task_id, result, state, traceback, request, **kwargs)
        except (BackendStoreError, *DATABASE_AWAY) as exc:
            logger.warning("Task %s: state %s not stored, the database is unreachable (%s)", task_id, state, exc)
            return result
