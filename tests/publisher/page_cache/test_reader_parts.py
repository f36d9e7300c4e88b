"""One cached page for every reader: each reader's own parts of the layout (account links, verification banner,
messages) are put into it when it is served, and never reach another reader."""

import pytest

from publisher.page_cache import store
from tests.factories import PostFactory, UserFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def view(client, post):
    return client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()


@pytest.mark.django_db
def test_a_page_rendered_for_a_signed_in_reader_is_served_to_anonymous_readers_without_their_parts(client):
    post = PostFactory(title="Shared page")
    reader = UserFactory(email="private.reader@example.com", full_name="Private Reader", is_verified=False)
    client.force_login(reader)
    theirs = view(client, post)  # rendered for them, and cached
    assert "Log out" in theirs and "private.reader@example.com" in theirs
    assert store.cached_page(post.slug) is not None
    client.logout()
    anonymous = view(client, post)  # from the cache
    assert "Shared page" in anonymous and "Log in" in anonymous and "Viewed 2 times" in anonymous
    assert "Log out" not in anonymous and "private.reader" not in anonymous and "reader-part" not in anonymous


@pytest.mark.django_db
def test_each_signed_in_reader_gets_their_own_parts_in_the_cached_page(client, django_assert_num_queries):
    post = PostFactory()
    view(client, post)  # cached by an anonymous reader
    unverified = UserFactory(email="waiting@example.com", is_verified=False)
    staff = UserFactory(email="editor@example.com", is_verified=True, is_staff=True)
    client.force_login(unverified)
    with django_assert_num_queries(1):  # their user; the page is the cached one
        page = view(client, post)
    assert "Please verify your email address" in page and "waiting@example.com" in page and "Write" not in page
    client.force_login(staff)
    page = view(client, post)
    assert "Write" in page and "My posts" in page and "Please verify" not in page and "waiting@" not in page
    assert 'name="csrfmiddlewaretoken"' in page  # the logout form's token, the reader's own


@pytest.mark.django_db
def test_a_readers_message_is_shown_once_on_a_cached_page(client):
    post = PostFactory()
    view(client, post)  # cached
    reader = UserFactory(full_name="Message Reader", time_zone="UTC")
    client.force_login(reader)
    saved = client.post("/account/", {"full_name": "Message Reader", "time_zone": "Europe/Paris"})
    assert saved.status_code == 302  # the account page queues "Your settings are saved."
    page = view(client, post)
    assert "Your settings are saved." in page and "Log out" in page
    assert "Your settings are saved." not in view(client, post)
