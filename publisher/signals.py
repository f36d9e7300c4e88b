from django.db.models.signals import post_migrate
from django.dispatch import receiver

from .schedules import ensure_periodic_tasks
from .services import ensure_authors_group


@receiver(post_migrate, dispatch_uid="publisher_setup_after_migrate")
def set_up_after_migrate(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.label == "publisher":
        ensure_authors_group()
        ensure_periodic_tasks()
