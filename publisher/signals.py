"""What publisher does when something happens elsewhere: after a migrate, when main verifies or changes a user, and
when a post, its tags or an author change."""

from django.conf import settings
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_delete, pre_save
from django.dispatch import receiver
from taggit.models import Tag

from quick_publisher.signals import account_changed, user_verified

from . import images, page_cache, reports, selectors
from .authors import ensure_authors_group, make_author
from .models import Post, PostImage
from .periodic_tasks import ensure_periodic_tasks


@receiver(post_migrate, dispatch_uid="publisher_setup_after_migrate")
def set_up_after_migrate(sender, app_config=None, **kwargs):
    if app_config is not None and app_config.label == "publisher":
        ensure_authors_group()
        ensure_periodic_tasks()


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="publisher_create_report_preferences")
def create_report_preferences(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        reports.create_preferences(instance.pk)


@receiver(user_verified, dispatch_uid="publisher_make_verified_user_an_author")
def make_verified_user_an_author(sender, user, **kwargs):
    make_author(user)
    reports.keep_schedules([user.pk])  # posts published for them before they verified (by a superuser) count now


@receiver(account_changed, dispatch_uid="publisher_follow_account_change")
def follow_account_change(sender, user, changed_fields, **kwargs):
    reports.follow_account_change(user, changed_fields=changed_fields)


# The post page cache: the post's own page (bulk updates in posts invalidate theirs themselves), and every page
# when an author changes. Before a save, so that the slug the post had is read again too (it is a 404 now).
@receiver(pre_save, sender=Post, dispatch_uid="publisher_post_saved_invalidate_page")
def invalidate_page_when_a_post_is_saved(sender, instance, using, **kwargs):
    stored = Post.objects.using(using).filter(pk=instance.pk).values_list("slug", flat=True) if instance.pk else []
    page_cache.invalidate_pages_on_commit({slug for slug in (instance.slug, *stored) if slug}, using=using)


@receiver(post_delete, sender=Post, dispatch_uid="publisher_post_deleted_invalidate_page")
def invalidate_page_when_a_post_is_deleted(sender, instance, using, **kwargs):
    page_cache.invalidate_pages_on_commit([instance.slug], using=using)


# A post page shows its tags: a post's tags changed (without a save of the post), or a tag renamed or deleted.
@receiver(m2m_changed, sender=Post.tags.through, dispatch_uid="publisher_post_tags_changed_invalidate_page")
def invalidate_page_when_a_posts_tags_change(sender, instance, action, reverse, pk_set, using, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear") or (action != "post_clear" and not pk_set):
        return
    slugs = selectors.slugs_of_posts_tagged(instance) if reverse else [instance.slug]
    page_cache.invalidate_pages_on_commit(slugs, using=using)


@receiver(post_save, sender=Tag, dispatch_uid="publisher_tag_saved_invalidate_pages")
def invalidate_pages_when_a_tag_is_saved(sender, instance, created, using, **kwargs):
    if not created:
        page_cache.invalidate_pages_on_commit(selectors.slugs_of_posts_tagged(instance), using=using)


@receiver(pre_delete, sender=Tag, dispatch_uid="publisher_tag_deleted_invalidate_pages")
def invalidate_pages_when_a_tag_is_deleted(sender, instance, using, **kwargs):
    page_cache.invalidate_pages_on_commit(selectors.slugs_of_posts_tagged(instance), using=using)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="publisher_author_changed_invalidate_pages")
def invalidate_post_page_cache_when_an_author_changes(sender, instance, created, update_fields, **kwargs):
    page_cache.invalidate_pages_of_author(instance, created=created, update_fields=update_fields)


# An image's files follow its row: renditions made for a new file, the files it no longer has deleted, after the
# commit; its post's page is rendered again. A post deleted deletes its images, and so their files.
@receiver(pre_save, sender=PostImage, dispatch_uid="publisher_post_image_replaced_files")
def forget_replaced_image_files(sender, instance, using, raw=False, **kwargs):
    if not raw:
        images.before_image_saved(instance, using=using)


@receiver(post_save, sender=PostImage, dispatch_uid="publisher_post_image_saved")
def follow_image_saved(sender, instance, using, raw=False, **kwargs):
    if not raw:
        images.after_image_saved(instance, using=using)


@receiver(post_delete, sender=PostImage, dispatch_uid="publisher_post_image_deleted")
def follow_image_deleted(sender, instance, using, **kwargs):
    images.after_image_deleted(instance, using=using)


# Saving a post may publish or unpublish it (the admin's form): its author's next report follows. Bulk changes in
# publisher.posts keep the schedules themselves.
@receiver(post_save, sender=Post, dispatch_uid="publisher_post_saved_keep_report_schedule")
def keep_report_schedule_when_a_post_is_saved(sender, instance, **kwargs):
    reports.keep_schedules([instance.author_id])
