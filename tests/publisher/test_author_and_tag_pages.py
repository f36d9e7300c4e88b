"""Author pages (/authors/<slug>/) and tag pages (/tags/<slug>/): published posts only, newest first, paginated,
each with its feed; the sitemap lists them; list pages show the views the post page shows, read in one Redis round
trip, in a fixed number of queries; and no public page shows an author's email address."""

import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from publisher import counting
from publisher.counting import buffer
from publisher.models import Post
from tests.factories import AuthorFactory, DraftFactory, PostFactory
from tests.support.redis_state import record_view

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def titles(page):
    return re.findall(r"<h2><a [^>]*>([^<]*)</a></h2>", page.content.decode())


def feed_links(response):
    feed = ElementTree.fromstring(response.content)
    return [e.get("href") for entry in feed.iter(f"{ATOM}entry") for e in entry.iter(f"{ATOM}link")]


def posts_of_every_kind(author, tag="gardening"):
    """A published post each hour for 12 hours (Post 00 the oldest), a draft and a scheduled post, all tagged."""
    now = timezone.now()
    for i in range(12):
        PostFactory(author=author, title=f"Post {i:02d}", published_at=now - timedelta(hours=12 - i)).tags.add(tag)
    DraftFactory(author=author, title="A draft").tags.add(tag)
    PostFactory(
        author=author, title="Scheduled", status=Post.Status.SCHEDULED, published_at=None, publish_at=now + timedelta(1)
    ).tags.add(tag)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["author", "tag"])
def test_published_posts_only_newest_first_paginated(client, kind):
    author = AuthorFactory(full_name="Ada Gardener")
    posts_of_every_kind(author)
    PostFactory(title="Someone else's, untagged")
    url = "/authors/ada-gardener/" if kind == "author" else "/tags/gardening/"
    first, second = client.get(url), client.get(f"{url}?page=2")
    assert titles(first) == [f"Post {i:02d}" for i in range(11, 1, -1)]  # POSTS_PER_PAGE, the newest first
    assert titles(second) == ["Post 01", "Post 00"]
    for page in (first, second):
        text = page.content.decode()
        assert "A draft" not in text and "Scheduled" not in text and "Someone else" not in text
    for bad_page in ("3", "0", "abc", "-1"):
        assert client.get(f"{url}?page={bad_page}").status_code == 404
    assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_unknown_authors_and_tags_and_those_of_drafts_only_are_404(client):
    DraftFactory(author__full_name="Only Drafts").tags.add("secret-project")
    AuthorFactory(full_name="Nothing Yet")
    PostFactory(status=Post.Status.SCHEDULED, publish_at=timezone.now() + timedelta(1), author__full_name="Soon")
    for url in (
        "/authors/nobody/",
        "/authors/only-drafts/",
        "/authors/nothing-yet/",
        "/authors/soon/",
        "/tags/nothing/",
        "/tags/secret-project/",
        "/authors/nobody/feed/",
        "/authors/only-drafts/feed/",
        "/tags/secret-project/feed/",
        "/tags/nothing/feed/",
        "/authors/not a slug/",
    ):
        assert client.get(url).status_code == 404, url


@pytest.mark.django_db
def test_author_and_tag_feeds_carry_their_published_posts_with_absolute_links(client):
    author = AuthorFactory(full_name="Feed Writer")
    mine = PostFactory(author=author, title="Mine")
    mine.tags.add("Birds")
    DraftFactory(author=author, title="My draft").tags.add("Birds")
    theirs = PostFactory(title="Theirs")
    theirs.tags.add("birds", "Trees")
    author_feed = client.get("/authors/feed-writer/feed/")
    assert author_feed["Content-Type"].startswith("application/atom+xml")
    assert feed_links(author_feed) == [f"http://testserver/{mine.slug}/"]
    assert b"Feed Writer" in author_feed.content
    assert feed_links(client.get("/tags/birds/feed/")) == [
        f"http://testserver/{theirs.slug}/",
        f"http://testserver/{mine.slug}/",
    ]
    assert feed_links(client.get("/tags/trees/feed/")) == [f"http://testserver/{theirs.slug}/"]
    page = client.get("/authors/feed-writer/").content.decode()
    assert 'type="application/atom+xml" title="Posts by Feed Writer" href="/authors/feed-writer/feed/">' in page
    assert 'href="/tags/birds/feed/"' in client.get("/tags/birds/").content.decode()


@pytest.mark.django_db
def test_the_sitemap_lists_authors_and_tags_with_a_published_post(client):
    published = PostFactory(author__full_name="Public Writer")
    published.tags.add("Open")
    DraftFactory(author__full_name="Draft Writer").tags.add("Hidden")
    AuthorFactory(full_name="Silent Writer")
    sitemap = ElementTree.fromstring(client.get("/sitemap.xml").content)
    locs = {e.text for e in sitemap.iter(f"{SITEMAP}loc")}
    assert locs == {
        f"http://testserver/{published.slug}/",
        "http://testserver/authors/public-writer/",
        "http://testserver/tags/open/",
    }
    for loc in locs:
        assert client.get(loc.removeprefix("http://testserver")).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/authors/counted-writer/", "/tags/counted/"])
def test_list_pages_show_the_views_the_post_page_shows_read_in_one_round_trip(client, monkeypatch, url):
    post = PostFactory(view_count=40, author__full_name="Counted Writer", title="Counted")
    other = PostFactory(view_count=7, author=post.author, title="Other")
    for tagged in (post, other):
        tagged.tags.add("counted")
    record_view(post)
    record_view(post)  # not flushed: in Redis only
    post_page = client.get(f"/{post.slug}/", HTTP_USER_AGENT="Googlebot/2.1")  # shown, not counted
    assert '<span class="views">Viewed 42 times</span>' in post_page.content.decode()
    calls = []
    views_of_posts = buffer.views_of_posts
    monkeypatch.setattr(buffer, "views_of_posts", lambda ids: calls.append(sorted(ids)) or views_of_posts(ids))
    page = client.get(url).content.decode()
    assert re.search(r">Counted</a></h2>\s*<div class=\"meta\">.*· 42 views</div>", page)
    assert re.search(r">Other</a></h2>\s*<div class=\"meta\">.*· 7 views</div>", page)
    assert calls == [sorted([post.pk, other.pk])]  # the whole page of posts in one call
    counting.flush_views()
    assert "· 42 views" in client.get(url).content.decode()


def make_tagged_posts(count, *, author):
    """Every other post by `author`, the others each by its own author; each with two tags."""
    for n in range(count):
        post = PostFactory(author=author if n % 2 == 0 else AuthorFactory(), title=f"Listed {n}")
        post.tags.add("common", f"own-{n}-{post.pk}")


def queries_of(client, url):
    client.get(url)  # content types and other per-process caches warmed
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_list_pages_cost_the_same_queries_for_two_posts_as_for_a_full_page(client):
    author = AuthorFactory()
    make_tagged_posts(2, author=author)
    urls = ["/", f"/authors/{author.slug}/", "/tags/common/"]
    few = [queries_of(client, url) for url in urls]
    make_tagged_posts(20, author=author)  # full pages of posts by many authors, with many tags
    many = [queries_of(client, url) for url in urls]
    # The posts with their authors, their tags, their covers, the paginator's count; and the author or tag of the page.
    assert few == many == [4, 5, 5]


@pytest.mark.django_db
def test_no_public_page_shows_an_authors_email_address(client):
    post = PostFactory(author__full_name="", author__email="private.person@example.com", title="By no name")
    post.tags.add("anon")
    slug = post.author.slug
    assert slug == "author"
    pages = [
        client.get("/"),
        client.get(f"/{post.slug}/"),
        client.get(f"/{post.slug}/"),  # from the post page cache
        client.get(f"/authors/{slug}/"),
        client.get("/tags/anon/"),
        client.get("/feed/"),
        client.get(f"/authors/{slug}/feed/"),
        client.get("/tags/anon/feed/"),
        client.get("/sitemap.xml"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "private.person" not in page.content.decode()
    assert 'by <a href="/authors/author/" rel="author">Anonymous</a>' in pages[1].content.decode()
