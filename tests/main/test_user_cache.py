"""Signed-in users read from the cache (main/user_cache.py): a signed-in reader's page costs no database query, and a
change to the account (password, deactivation, staff status) is seen by the very next request."""

import pickle

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import transaction
from django.test import Client, override_settings

from main import user_cache
from main.models import User
from quick_publisher.redis_client import client as redis_client
from tests.factories import PASSWORD, PostFactory, UserFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def page(client, post):
    return client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()


def signed_in(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def save_committed(user, **fields):
    """Save as the admin and the account page do, in a transaction that commits."""
    for name, value in fields.items():
        setattr(user, name, value)
    with transaction.atomic():
        user.save()


@pytest.mark.django_db
def test_a_signed_in_readers_cached_page_costs_no_query_once_their_user_is_cached(django_assert_num_queries):
    post = PostFactory()
    reader = UserFactory(is_verified=True, is_staff=True)
    client = signed_in(reader)
    page(client, post)  # renders and caches the page; reads and caches the user
    with django_assert_num_queries(0):
        shown = page(client, post)
    assert "Log out" in shown and "My posts" in shown


@pytest.mark.django_db
def test_the_cache_holds_no_password_hash_nor_email_address():
    reader = UserFactory(email="private.person@example.com", is_verified=True)
    user_cache.cached_user(reader.pk)
    [key] = list(redis_client().scan_iter(match="*:user:*"))
    stored = redis_client().get(key)
    entry = pickle.loads(stored)
    assert reader.pk in entry and reader.get_session_auth_hash() in entry
    assert reader.password.encode() not in stored and b"private.person" not in stored
    assert 0 < redis_client().ttl(key) <= 60  # USER_CACHE_TIMEOUT: the bound when a deletion missed Redis


@pytest.mark.django_db
def test_a_cached_user_reads_its_other_fields_from_the_database_when_asked():
    reader = UserFactory(email="asked@example.com", full_name="Asked Reader", is_verified=False)
    user_cache.cached_user(reader.pk)
    cached = user_cache.cached_user(reader.pk)
    assert cached.get_deferred_fields() >= {"password", "email", "full_name"}
    assert (cached.pk, cached.is_active, cached.is_staff, cached.is_verified) == (reader.pk, True, False, False)
    assert cached.email == "asked@example.com" and cached.full_name == "Asked Reader"


@pytest.mark.django_db(transaction=True)
def test_a_password_changed_elsewhere_signs_out_the_other_sessions_at_their_next_request():
    post = PostFactory()
    reader = UserFactory(is_verified=True)
    other_browser = signed_in(reader)
    assert "Log out" in page(other_browser, post)  # the user is cached now
    reader.set_password("a new and long passphrase")
    save_committed(reader)
    shown = page(other_browser, post)
    assert "Log out" not in shown and "Log in" in shown
    assert SESSION_KEY not in other_browser.session


def deactivate(user):
    save_committed(user, is_active=False)


def delete(user):
    with transaction.atomic():
        user.delete()


@pytest.mark.parametrize("change", [deactivate, delete])
@pytest.mark.django_db(transaction=True)
def test_a_deactivated_or_deleted_user_is_signed_out_at_their_next_request(change):
    post = PostFactory()
    reader = UserFactory(is_verified=True)
    client = signed_in(reader)
    assert "Log out" in page(client, post)  # the user is cached now
    change(User.objects.get(pk=reader.pk))
    assert "Log in" in page(client, post)


@pytest.mark.django_db(transaction=True)
def test_staff_status_taken_away_is_seen_at_the_next_request():
    post = PostFactory()
    author = UserFactory(is_verified=True, is_staff=True)
    client = signed_in(author)
    assert "My posts" in page(client, post)
    save_committed(User.objects.get(pk=author.pk), is_staff=False)
    assert "My posts" not in page(client, post) and "Log out" in page(client, post)
    assert client.get("/admin/publisher/post/").status_code == 302  # to the admin's login


@pytest.mark.django_db
def test_a_user_read_from_the_cache_hashes_a_password_set_on_it():
    reader = UserFactory(is_verified=True)
    user_cache.cached_user(reader.pk)
    cached = user_cache.cached_user(reader.pk)
    assert cached.get_session_auth_hash() == reader.get_session_auth_hash()
    cached.set_password("a new and long passphrase")
    assert cached.get_session_auth_hash() == User(password=cached.password).get_session_auth_hash()
    assert cached.get_session_auth_hash() != reader.get_session_auth_hash()


@pytest.mark.django_db
def test_entries_made_under_another_secret_key_are_not_read(django_assert_num_queries):
    reader = UserFactory(is_verified=True)
    user_cache.cached_user(reader.pk)
    with django_assert_num_queries(0):
        user_cache.cached_user(reader.pk)
    with override_settings(SECRET_KEY="another secret key, after a rotation, long enough to be one"):
        with django_assert_num_queries(1):  # its session hash is made anew, with the new key
            user_cache.cached_user(reader.pk)
