"""Tasks that belong to the platform rather than to one app (listed in CELERY_IMPORTS)."""

from django.conf import settings
from django.utils import timezone
from django_celery_results.models import TaskResult

from .celery import app


@app.task
def delete_expired_task_results():
    deleted, _ = TaskResult.objects.filter(date_done__lt=timezone.now() - settings.TASK_RESULT_MAX_AGE).delete()
    return {"deleted": deleted}
