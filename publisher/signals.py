from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from quick_publisher.signals import user_verified

from .models import Post
from .post_page_cache import invalidate_post_page_cache, invalidate_post_page_cache_of_author
from .schedules import ensure_periodic_tasks
from .services import ensure_authors_group, keep_report_schedules, make_author


@receiver(post_migrate, dispatch_uid="publisher_setup_after_migrate")
def set_up_after_migrate(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.label == "publisher":
        ensure_authors_group()
        ensure_periodic_tasks()


@receiver(user_verified, dispatch_uid="publisher_make_verified_user_an_author")
def make_verified_user_an_author(sender, user, **kwargs):
    make_author(user)
    keep_report_schedules([user.pk])  # posts published for them before they verified (by a superuser) count now


# The post page cache: the post itself (bulk updates in services invalidate it themselves), and its author.
@receiver([post_save, post_delete], sender=Post, dispatch_uid="publisher_post_changed_invalidate_pages")
def invalidate_post_page_cache_when_a_post_changes(sender, using, **kwargs):
    transaction.on_commit(invalidate_post_page_cache, using=using)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="publisher_author_changed_invalidate_pages")
def invalidate_post_page_cache_when_an_author_changes(sender, instance, created, update_fields, **kwargs):
    invalidate_post_page_cache_of_author(instance, created=created, update_fields=update_fields)


# Saving a post may publish or unpublish it (the admin's form): its author's next report follows. Bulk changes in
# services keep the schedules themselves.
@receiver(post_save, sender=Post, dispatch_uid="publisher_post_saved_keep_report_schedule")
def keep_report_schedule_when_a_post_is_saved(sender, instance, **kwargs):
    keep_report_schedules([instance.author_id])
