"""Account use cases: registering, mailing and checking verification links, verifying, resending."""

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from quick_publisher.signals import account_changed, user_verified

from . import emails
from .models import User


class EmailAlreadyRegistered(Exception):
    pass


def register_user(*, email, full_name, password, time_zone=None):
    """Create an unverified user; the post_save receiver queues the verification email after commit."""
    try:
        with transaction.atomic():
            return User.objects.create_user(
                email=email,
                full_name=full_name,
                password=password,
                time_zone=time_zone or settings.TIME_ZONE,
            )
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise EmailAlreadyRegistered(email) from exc


def save_account(*, user, changed_fields):
    """Save the account page's fields that changed, and say which (the user's time zone moves their day)."""
    update_fields = sorted(set(changed_fields))
    if update_fields:
        with transaction.atomic():
            user.save(update_fields=update_fields)
            announce_account_change(user=user, changed_fields=update_fields)
    return user


def announce_account_change(*, user, changed_fields):
    """After a user's fields were saved (by the account page or the admin), in the same transaction."""
    account_changed.send(sender=type(user), user=user, changed_fields=frozenset(changed_fields))


def send_verification_email(*, user_id, resend=False):
    """Mail the verification link once (or again, when asked to resend) and stamp when it left.

    The row lock makes the sweeper and the sign-up task, should both run, send one email between them.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            return "user gone"
        if user.is_verified:
            return "already verified"
        if user.verification_sent_at and not resend:
            return "already sent"
        if resend:
            # Only the newest link works: an older, possibly leaked one stops verifying.
            user.verification_uuid = uuid.uuid4()
        emails.verification_email(user).send()
        user.verification_sent_at = timezone.now()
        user.save(update_fields=["verification_uuid", "verification_sent_at"])
    return "sent"


def send_password_reset_email(*, user_id):
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return "no such user"
    emails.password_reset_email(user).send()
    return "sent"


def verification_link_expired(user):
    sent_at = user.verification_sent_at or user.date_joined
    return timezone.now() - sent_at > settings.VERIFICATION_LINK_MAX_AGE


def verify_user(*, token):
    """Verify the user holding this unexpired link, which makes them an author. Returns the user, or None."""
    with transaction.atomic():
        user = User.objects.select_for_update().filter(verification_uuid=token, is_verified=False).first()
        if user is None or verification_link_expired(user):
            return None
        _mark_verified(user)
    return user


def mark_verified(*, users):
    """Admin action: verify without a link. Returns how many users were verified."""
    count = 0
    for user in users.filter(is_verified=False):
        with transaction.atomic():
            _mark_verified(user)
        count += 1
    return count


def _mark_verified(user):
    user.is_verified = True
    user.verified_at = timezone.now()
    user.used_verification_uuid = user.verification_uuid
    user.verification_uuid = uuid.uuid4()  # the link cannot be replayed
    user.save(update_fields=["is_verified", "verified_at", "used_verification_uuid", "verification_uuid"])
    # publisher makes them an author here, in this transaction (publisher/signals.py).
    user_verified.send(sender=type(user), user=user)
