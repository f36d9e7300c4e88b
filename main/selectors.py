from django.conf import settings
from django.utils import timezone

from .models import User


def users_missing_verification_email(*, limit=500):
    """Unverified users whose first verification email never left (e.g. Redis was down at sign-up)."""
    cutoff = timezone.now() - settings.VERIFICATION_SWEEP_MIN_AGE
    return list(
        User.objects.filter(
            is_active=True, is_verified=False, verification_sent_at__isnull=True, date_joined__lt=cutoff
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def user_by_email(email):
    return User.objects.filter(email__iexact=User.objects.normalize_email(email)).first()
