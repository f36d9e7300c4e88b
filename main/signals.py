from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import user_cache
from .models import User
from .tasks import queue_verification_email


@receiver(post_save, sender=User, dispatch_uid="queue_verification_email_on_signup")
def queue_verification_email_on_signup(sender, instance, created, raw=False, **kwargs):
    if created and not raw and not instance.is_verified:
        queue_verification_email(instance.pk)


@receiver(post_save, sender=User, dispatch_uid="forget_cached_user_on_save")
@receiver(post_delete, sender=User, dispatch_uid="forget_cached_user_on_delete")
def forget_cached_user(sender, instance, using=None, **kwargs):
    transaction.on_commit(partial(user_cache.forget_user, instance.pk), using=using)
