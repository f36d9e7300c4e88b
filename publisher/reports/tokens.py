"""Signed, expiring unsubscribe tokens: anyone holding the link can turn reports off, nothing more."""

from django.conf import settings
from django.core import signing

_SALT = "publisher.reports.unsubscribe"


def make_unsubscribe_token(user):
    return signing.dumps(user.pk, salt=_SALT, compress=False)


def read_unsubscribe_token(token):
    """The user id the token was made for, or None if it is tampered with or expired."""
    try:
        user_id = signing.loads(token, salt=_SALT, max_age=settings.UNSUBSCRIBE_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    return user_id if isinstance(user_id, int) else None
