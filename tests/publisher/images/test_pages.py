"""Images on pages: the cover and the body's images as pictures with srcset, width and height (the body's loaded
lazily), the original until renditions exist, all of it in the cached page; covers on the home page and in the
feed, read in one query."""

import json
import re
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from publisher import images
from publisher.models import PostImage
from publisher.page_cache import store
from publisher.rendering import render_markdown
from tests.factories import PostFactory, UserFactory
from tests.publisher.images.conftest import image_of
from tests.publisher.test_sharing import read_head
from tests.support.images import photo

ATOM = "{http://www.w3.org/2005/Atom}"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def page_of(client, post):
    return client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()


def pictures_in(page):
    return re.findall(r"<picture[^>]*>.*?</picture>", page, re.DOTALL)


def post_with_images():
    post = PostFactory(content="Opening words.")
    cover = image_of(post, photo(2000, 1200))
    body = image_of(post, photo(1000, 800), role=PostImage.Role.BODY, alt="A chart")
    post.content = f"Opening words.\n\n{images.markdown_snippet(body)}\n\n![elsewhere](https://example.com/x.png)"
    post.save()
    return post, cover, body


@pytest.mark.django_db
def test_until_renditions_exist_the_page_shows_the_originals_with_their_size(client, media):
    post, cover, body = post_with_images()
    cover_html, body_html = pictures_in(page_of(client, post))
    assert f'src="{cover.file.url}"' in cover_html and 'width="2000" height="1200"' in cover_html
    assert f'src="{body.file.url}"' in body_html and 'width="1000" height="800"' in body_html
    assert "srcset" not in cover_html + body_html


@pytest.mark.django_db
def test_the_page_shows_renditions_with_srcset_and_size_the_body_images_lazily(
    client, media, django_capture_on_commit_callbacks
):
    post, cover, body = post_with_images()
    page_of(client, post)  # cached with the originals
    with django_capture_on_commit_callbacks(execute=True):
        images.make_renditions(cover.pk)
        images.make_renditions(body.pk)
    page = page_of(client, post)  # rendered again: the renditions are made
    cover_html, body_html = pictures_in(page)

    assert '<source type="image/webp" srcset="' in cover_html
    for width in (480, 960, 1600):
        assert re.search(rf"/{width}w\.webp {width}w", cover_html)
        assert re.search(rf"/{width}w\.jpg {width}w", cover_html)
    assert f"{cover.file.url} 2000w" in cover_html and 'sizes="' in cover_html
    assert 'width="2000" height="1200"' in cover_html and 'alt="A cover"' in cover_html
    assert 'loading="lazy"' not in cover_html  # the cover is seen first

    assert re.search(r"/480w\.webp 480w, \S+/960w\.webp 960w\"", body_html)  # not wider than the original
    assert "1600w" not in body_html and f"{body.file.url} 1000w" in body_html
    assert 'width="1000" height="800"' in body_html and 'loading="lazy"' in body_html and 'alt="A chart"' in body_html
    assert '<img alt="elsewhere" src="https://example.com/x.png">' in page  # not one of the post's images


@pytest.mark.django_db
def test_a_cached_page_with_a_cover_costs_no_query(client, media, django_assert_num_queries):
    post, cover, _ = post_with_images()
    images.make_renditions(cover.pk)
    rendered = page_of(client, post)
    with django_assert_num_queries(0):
        cached = page_of(client, post)
    assert cached == rendered.replace("Viewed 1 time", "Viewed 2 times") and "1600w.webp" in cached

    client.force_login(UserFactory())
    page_of(client, post)  # a signed-in reader's post, cached with its images
    store.process_cache().clear()  # the post comes from the shared cache, as in another process
    with django_assert_num_queries(1):  # the reader's own user
        signed_in = page_of(client, post)
    assert pictures_in(signed_in) == pictures_in(cached)


@pytest.mark.django_db
def test_the_home_page_shows_each_covers_thumbnail_in_one_query_for_all(client, media, django_assert_num_queries):
    PostFactory(published_at=timezone.now())
    home = client.get("/")
    with django_assert_num_queries(4):  # the count, the page of posts and their authors, their tags, their covers
        client.get("/")
    posts = [PostFactory(published_at=timezone.now()) for _ in range(4)]
    covers = [image_of(post, photo(600, 400)) for post in posts]
    with django_assert_num_queries(4):
        home = client.get("/").content.decode()
    thumbnails = re.findall(r'<picture class="thumbnail">.*?</picture>', home)
    assert len(thumbnails) == 4
    assert all(f'src="{cover.file.url}"' in home for cover in covers)


@pytest.mark.django_db
def test_the_feed_carries_each_posts_cover_as_an_enclosure(client, media, settings, django_assert_max_num_queries):
    with_cover = PostFactory(title="With a cover")
    PostFactory(title="Without")
    cover = image_of(with_cover, photo(640, 480))
    with django_assert_max_num_queries(2):  # the posts with their authors, their covers
        feed = ElementTree.fromstring(client.get("/feed/").content)
    enclosures = {
        entry.findtext(f"{ATOM}title"): [link.attrib for link in entry.findall(f"{ATOM}link[@rel='enclosure']")]
        for entry in feed.iter(f"{ATOM}entry")
    }
    assert enclosures == {
        "With a cover": [
            {
                "rel": "enclosure",
                "href": f"{settings.SITE_URL}{cover.file.url}",
                "length": str(cover.size),
                "type": "image/jpeg",
            }
        ],
        "Without": [],
    }


def test_the_sanitizer_lets_through_an_image_and_nothing_that_loads_or_runs_anything_else():
    html = render_markdown(
        '![ok](/media/images/a/original.jpg)\n\n<img src="/x.png" srcset="https://evil.example/x.png 1w" '
        'onerror="alert(1)" loading="eager"><picture><source srcset="https://evil.example/y.png"></picture>'
    )
    assert '<img alt="ok" src="/media/images/a/original.jpg">' in html
    assert "srcset" not in html and "onerror" not in html and "<source" not in html and "<picture" not in html


@pytest.mark.django_db
def test_a_changed_image_renders_its_posts_cached_page_again(client, media, django_capture_on_commit_callbacks):
    post, cover, _ = post_with_images()
    assert 'alt="A cover"' in page_of(client, post)
    with django_capture_on_commit_callbacks(execute=True):
        images.save_cover(post, upload=cover.file, alt="The harbour at dawn")
    assert 'alt="The harbour at dawn"' in page_of(client, post)
    with django_capture_on_commit_callbacks(execute=True):
        images.save_cover(post, upload=False, alt="")
    assert len(pictures_in(page_of(client, post))) == 1  # the body's image; the cover is gone


@pytest.mark.django_db
def test_a_post_page_shares_its_cover_with_its_size_from_the_page_cache_too(
    client, media, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://blog.example.com"
    post, cover, _ = post_with_images()
    pages = [page_of(client, post), page_of(client, post)]  # rendered, then served from the page cache
    for page in pages:
        head = read_head(page)
        assert head.meta["og:image"] == head.meta["twitter:image"] == f"https://blog.example.com{cover.file.url}"
        assert (head.meta["og:image:width"], head.meta["og:image:height"]) == ("2000", "1200")
        assert head.meta["og:image:alt"] == "A cover" and head.meta["twitter:card"] == "summary_large_image"
        assert json.loads(head.json_ld[0])["image"]["url"] == head.meta["og:image"]

    with django_capture_on_commit_callbacks(execute=True):
        cover.delete()  # the page and its card are rendered again, without it
    assert "og:image" not in page_of(client, post)
