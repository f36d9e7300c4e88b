from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from .models import Post
from .post_pages import forget_kept_pages
from .schedules import ensure_periodic_tasks
from .services import ensure_authors_group


@receiver(post_migrate, dispatch_uid="publisher_setup_after_migrate")
def set_up_after_migrate(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.label == "publisher":
        ensure_authors_group()
        ensure_periodic_tasks()


# Posts' public pages show the post and its author's name (bulk updates call forget_kept_pages themselves).
@receiver([post_save, post_delete], sender=Post, dispatch_uid="publisher_post_changed_forget_pages")
@receiver([post_save, post_delete], sender=settings.AUTH_USER_MODEL, dispatch_uid="publisher_user_changed_forget_pages")
def forget_kept_pages_on_commit(sender, using, **kwargs):
    transaction.on_commit(forget_kept_pages, using=using)
