"""Page versions never go backwards: when Redis loses a version's key (it expires, or Redis evicts it under memory
pressure), the next version is still newer than every earlier one, so that no page cached under an older version
is counted or shown again."""

import pytest

from publisher.page_cache import invalidation, versions
from publisher.posts import save_post
from quick_publisher import redis_client
from tests.factories import PostFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def page(client, post):
    """The post's page as an anonymous reader gets it: rendered and cached, or served from the cache."""
    response = client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER)
    assert response.status_code == 200
    return response.content.decode()


def edit(post, title, capture):
    post.title = title
    with capture(execute=True):  # the page's version is renewed once the change commits
        save_post(post)


def evict(key):
    """As Redis does when it expires the key, or evicts it under memory pressure."""
    assert redis_client.client().delete(key) == 1


def page_part(page_version):
    return int(page_version.partition(":")[2])


@pytest.mark.django_db
def test_a_page_cached_before_an_edit_is_not_shown_once_the_edits_version_is_lost(
    client, django_capture_on_commit_callbacks
):
    post = PostFactory(title="The first title")
    assert "The first title" in page(client, post)  # cached
    edit(post, "The second title", django_capture_on_commit_callbacks)
    evict(versions.page_version_key(post.slug))
    shown = page(client, post)
    assert "The second title" in shown and "The first title" not in shown


@pytest.mark.django_db
def test_a_page_cached_after_an_edit_is_not_shown_once_its_version_is_lost_and_the_post_edited_again(
    client, django_capture_on_commit_callbacks
):
    post = PostFactory(title="The first title")
    edit(post, "The second title", django_capture_on_commit_callbacks)
    assert "The second title" in page(client, post)  # cached under the second version
    evict(versions.page_version_key(post.slug))
    edit(post, "The third title", django_capture_on_commit_callbacks)  # a counter would be back at that version
    shown = page(client, post)
    assert "The third title" in shown and "The second title" not in shown


def test_every_page_version_is_newer_than_the_last_whatever_redis_loses():
    slug = "a-page"
    kept = 2 * versions.cache_timeout()  # twice as long as a page is cached, as when renewed
    seen = [versions.current_page_version(slug)]
    for _ in range(5):
        invalidation.invalidate_pages([slug])
        seen.append(versions.current_page_version(slug))
        evict(versions.page_version_key(slug))
        seen.append(versions.current_page_version(slug))  # made again, from the clock
        assert 0 < redis_client.client().ttl(versions.page_version_key(slug)) <= kept  # not kept for ever
    parts = [page_part(version) for version in seen]
    assert parts == sorted(parts) and len(set(parts)) == len(parts), seen


def test_the_site_version_is_newer_than_the_last_whatever_redis_loses():
    seen = [versions.current_page_version("a-page")]
    for _ in range(3):
        evict(versions.SITE_VERSION)
        invalidation.invalidate_all_pages()
        seen.append(versions.current_page_version("a-page"))
    sites = [versions.site_version(version) for version in seen]
    assert sites == sorted(sites) and len(set(sites)) == len(sites), seen
