import gc
import os
import warnings

from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quick_publisher.settings")

app = Celery("quick_publisher")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS is set, to False on purpose (see the settings): Celery
# warns at every connection loss while it is False, which says nothing the setting's comment does not.
warnings.filterwarnings("ignore", message=r"\s*In Celery 5.1 we introduced", category=CPendingDeprecationWarning)


@worker_init.connect
def keep_loaded_code_shared_with_the_pool(**kwargs):
    """Pool processes share the parent's memory until they write to it, and the garbage collector writes to each
    object it scans: what is loaded before the fork is kept out of its reach, so its pages stay shared."""
    gc.freeze()
