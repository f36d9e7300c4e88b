"""Signed-in users' rows in the cache (Redis), so that a signed-in reader's page costs no database query.

Django's AuthenticationMiddleware loads the session's user on every request that reads request.user, and then
checks the session against the user's session hash (an HMAC of the password's hash). UserCacheBackend reads the
user from here instead of from the database.

An entry holds the few fields the pages and permission checks read on every request (ENTRY_FIELDS) and the session
hash, never the password's hash nor the email address: the user comes back as a User whose other fields are
deferred, each read from the database if a page asks for it (the admin, an unverified reader's banner).

An entry is deleted after each commit that saves or deletes its user (signals.py), and readers only add an entry
that is not there: a password change, a deactivation or a loss of staff status is seen by the next request. If
Redis could not be reached when the entry was to be deleted, the entry lasts until USER_CACHE_TIMEOUT.
"""

from functools import lru_cache

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import caches
from django.db import DEFAULT_DB_ALIAS
from django.utils.crypto import salted_hmac

from .models import User

# In the model's field order, as Model.from_db takes them.
ENTRY_FIELDS = tuple(
    field.attname
    for field in User._meta.concrete_fields
    if field.attname in {"id", "is_active", "is_staff", "is_superuser", "is_verified"}
)


def user_cache():
    return caches["default"]


def cache_key(user_id):
    return f"user:{key_version(settings.SECRET_KEY)}:{user_id}"


@lru_cache(maxsize=2)
def key_version(secret_key):
    """Made from SECRET_KEY: entries keep session hashes made with it, which a new key must not accept."""
    return salted_hmac("main.user_cache", "entries", secret=secret_key).hexdigest()[:16]


def cached_user(user_id):
    """The user `user_id`, from the cache, else from the database (then cached); None if there is no such user."""
    key = cache_key(user_id)
    entry = user_cache().get(key)
    if entry is not None:
        return user_from_entry(entry)
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        # add, never set: an entry deleted by a commit since this read is not written back with the old row.
        user_cache().add(key, entry_of(user), timeout=settings.USER_CACHE_TIMEOUT)
    return user


def forget_user(user_id):
    user_cache().delete(cache_key(user_id))


def entry_of(user):
    return (*(getattr(user, field) for field in ENTRY_FIELDS), user.get_session_auth_hash())


def user_from_entry(entry):
    *values, session_auth_hash = entry
    user = User.from_db(DEFAULT_DB_ALIAS, ENTRY_FIELDS, values)  # the other fields deferred
    user.cached_session_auth_hash = session_auth_hash
    return user


class UserCacheBackend(ModelBackend):
    """Django's ModelBackend, its session users read through the user cache."""

    def get_user(self, user_id):
        user = cached_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
