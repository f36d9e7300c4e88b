from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import User
from .tasks import queue_verification_email


@receiver(post_save, sender=User, dispatch_uid="queue_verification_email_on_signup")
def queue_verification_email_on_signup(sender, instance, created, raw=False, **kwargs):
    if created and not raw and not instance.is_verified:
        queue_verification_email(instance.pk)
