"""Each web process's own tier of the post page cache: the pages themselves (no copy per read), the most recently
used kept, each for its timeout."""

import sys
import threading
import time

import pytest

from publisher.page_cache import store
from tests.factories import PostFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


@pytest.mark.django_db
def test_a_served_page_is_read_from_the_process_as_the_very_object_cached(client):
    post = PostFactory()
    assert client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).status_code == 200  # rendered and cached
    first, again = store.cached_page(post.slug), store.cached_page(post.slug)
    assert first is not None and first is again  # not unpickled anew for each reader, as LocMemCache would


def test_pages_expire_after_the_timeout():
    cache = store.ProcessPageCache(entries=10, timeout=0.2)
    cache.set("post-page:a", "page a", version="1")
    assert cache.get("post-page:a", version="1") == "page a"
    assert cache.get("post-page:a", version="2") is None  # another site version: another key
    time.sleep(0.3)
    assert cache.get("post-page:a", version="1") is None


def test_the_least_recently_read_page_goes_first_past_the_entries():
    cache = store.ProcessPageCache(entries=2, timeout=60)
    cache.set("a", "page a", version="1")
    cache.set("b", "page b", version="1")
    assert cache.get("a", version="1") == "page a"  # read: now the most recent
    cache.set("c", "page c", version="1")
    assert [cache.get(key, version="1") for key in "abc"] == ["page a", None, "page c"]


def test_threads_share_the_cache():
    """A process's request threads read and fill it at once, evicting each other's pages."""
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    cache = store.ProcessPageCache(entries=50, timeout=60)
    errors = []

    def read_and_write(thread):
        try:
            for n in range(20_000):
                cache.set(f"{thread}:{n % 200}", n, version="1")
                cache.get(f"{(thread + 1) % 8}:{n % 200}", version="1")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read_and_write, args=(thread,)) for thread in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
    assert not errors
    assert len(cache.pages) == 50
