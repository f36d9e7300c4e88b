import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.db.models import Sum
from django.urls import get_resolver
from django.urls.resolvers import URLPattern, URLResolver
from django.utils import timezone

from publisher.counting import buffer, flush_views
from publisher.models import DailyPostViews, Post
from publisher.posts import RESERVED_SLUGS, save_post, unique_slug
from publisher.rendering import excerpt_from_html, render_markdown
from tests.factories import AuthorFactory, DraftFactory, PostFactory, UserFactory
from tests.support.admin_forms import POST_FORM

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def new_post(title, author=None):
    return save_post(Post(title=title, content="text", author=author or AuthorFactory()))


@pytest.mark.django_db
def test_slugs_come_from_titles_with_a_suffix_on_collision():
    author = AuthorFactory()
    assert new_post("Hello World", author).slug == "hello-world"
    assert new_post("Hello, world!", author).slug == "hello-world-2"
    assert new_post("HELLO WORLD", author).slug == "hello-world-3"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "title, slug",
    [("Привет, мир", "privet-mir"), ("Ça va très bien", "ca-va-tres-bien"), ("日本語", "ri-ben-yu"), ("🙂🙂", "post")],
)
def test_non_ascii_titles_get_readable_slugs(title, slug):
    assert new_post(title).slug == slug


@pytest.mark.django_db
def test_a_title_that_names_a_site_page_does_not_take_its_url():
    assert new_post("Admin").slug == "admin-2"
    assert new_post("Feed").slug == "feed-2"


def test_every_top_level_url_segment_is_reserved():
    segments = set()
    for pattern in get_resolver().url_patterns:
        patterns = pattern.url_patterns if isinstance(pattern, URLResolver) and not str(pattern.pattern) else [pattern]
        for inner in patterns:
            first = str(inner.pattern).split("/")[0].replace(".", "-")
            if first and "<" not in first:
                segments.add(first)
    assert segments <= RESERVED_SLUGS, segments - RESERVED_SLUGS


def test_the_post_page_is_the_first_pattern_the_resolver_tries():
    first = get_resolver().url_patterns[0]
    if isinstance(first, URLResolver):  # publisher.urls, included at the root
        assert not str(first.pattern)
        first = first.url_patterns[0]
    assert isinstance(first, URLPattern) and first.name == "post_detail", first


@pytest.mark.django_db
def test_unique_slug_ignores_the_post_itself():
    post = PostFactory(slug="mine")
    assert unique_slug("mine", exclude_pk=post.pk) == "mine"
    assert unique_slug("mine") == "mine-2"


@pytest.mark.django_db
def test_published_post_page_shows_author_date_and_views(client):
    post = PostFactory(title="A fine day", author__full_name="Ada Writer", content="# Heading\n\nBody **bold**")
    page = client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()
    assert "A fine day" in page and "Ada Writer" in page
    assert "<strong>bold</strong>" in page
    assert "Viewed 1 time" in page


@pytest.mark.django_db
def test_drafts_are_404_for_everyone_and_absent_from_home_feed_and_sitemap(client):
    draft = DraftFactory(title="Secret draft")
    PostFactory(title="Public post")
    assert client.get(f"/{draft.slug}/").status_code == 404
    client.force_login(draft.author)
    assert client.get(f"/{draft.slug}/").status_code == 404
    for url in ("/", "/feed/", "/sitemap.xml"):
        body = client.get(url).content.decode()
        assert "Secret draft" not in body and draft.slug not in body
    assert "Public post" in client.get("/feed/").content.decode()


@pytest.mark.django_db
def test_unknown_slug_is_404(client):
    assert client.get("/no-such-post/").status_code == 404


@pytest.mark.django_db
def test_home_lists_newest_first_and_paginates(client, settings):
    now = timezone.now()
    for i in range(12):
        PostFactory(title=f"Post {i:02d}", published_at=now - timedelta(hours=12 - i))
    first = client.get("/").content.decode()
    assert first.index("Post 11") < first.index("Post 10")
    assert "Post 01" not in first
    second = client.get("/?page=2").content.decode()
    assert "Post 01" in second and "Post 00" in second
    assert client.get("/?page=3").status_code == 404
    assert client.get("/?page=abc").status_code == 404


@pytest.mark.django_db
def test_feed_and_sitemap_are_valid_xml_with_absolute_links(client):
    post = PostFactory(title="Fed")
    feed = ElementTree.fromstring(client.get("/feed/").content)
    links = [e.get("href") for e in feed.iter("{http://www.w3.org/2005/Atom}link")]
    assert f"http://testserver/{post.slug}/" in links
    sitemap = ElementTree.fromstring(client.get("/sitemap.xml").content)
    locs = [e.text for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs == [f"http://testserver/{post.slug}/", f"http://testserver/authors/{post.author.slug}/"]


@pytest.mark.django_db
def test_feed_entries_resolve_the_posts_relative_links_and_images_as_its_page_does(client):
    post = PostFactory(
        title="Links", content="[next](/next-post/) [notes](#notes) [out](https://example.com/a) ![p](/media/p.png)"
    )
    feed = ElementTree.fromstring(client.get("/feed/").content)
    (summary,) = [
        entry.findtext("{http://www.w3.org/2005/Atom}summary")
        for entry in feed.iter("{http://www.w3.org/2005/Atom}entry")
    ]
    hrefs = re.findall(r'(?:href|src)="([^"]*)"', summary)
    assert hrefs == [
        "http://testserver/next-post/",
        f"http://testserver/{post.slug}/#notes",
        "https://example.com/a",
        "http://testserver/media/p.png",
    ]
    assert summary.count('rel="nofollow noopener noreferrer"') == 3


def test_markdown_is_rendered_and_sanitized():
    html = render_markdown(
        "Hi <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> "
        "<a href='data:text/html,<script>alert(1)</script>'>d</a> <svg onload=alert(1)></svg>"
    )
    lowered = html.lower()
    for bad in ("<script", "javascript:", "onerror", "data:", "<svg", "onload"):
        assert bad not in lowered, html
    assert render_markdown("**b** and [ok](https://example.com)") == (
        '<p><strong>b</strong> and <a href="https://example.com" rel="nofollow noopener noreferrer">ok</a></p>'
    )


# --- Writing in the admin ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_author_writes_a_post_in_the_admin_and_is_its_author(client):
    author = AuthorFactory()
    client.force_login(author)
    response = client.post("/admin/publisher/post/add/", {**POST_FORM, "status": "published", "author": 999})
    assert response.status_code == 302, response.content.decode()[:2000]
    post = Post.objects.get()
    assert post.author == author
    assert post.slug == "from-the-admin"
    assert post.is_published and post.published_at is not None
    assert post.content_html == "<p>Hello <em>there</em></p>"


@pytest.mark.django_db
def test_published_at_is_set_on_first_publish_only(client):
    author = AuthorFactory()
    client.force_login(author)
    post = DraftFactory(author=author)
    changelist = "/admin/publisher/post/"
    client.post(changelist, {"action": "publish", "_selected_action": [post.pk]})
    post.refresh_from_db()
    first_published = post.published_at
    assert post.is_published and first_published
    client.post(changelist, {"action": "unpublish", "_selected_action": [post.pk]})
    client.post(changelist, {"action": "publish", "_selected_action": [post.pk]})
    post.refresh_from_db()
    assert post.published_at == first_published


@pytest.mark.django_db
def test_an_unverified_staff_user_cannot_publish(client):
    user = UserFactory(is_staff=True)
    from publisher.authors import make_author

    make_author(user)
    client.force_login(user)
    response = client.post("/admin/publisher/post/add/", {**POST_FORM, "status": "published"})
    assert response.status_code == 200
    assert "verified email address" in response.content.decode()
    assert not Post.objects.exists()
    draft = DraftFactory(author=user)
    response = client.post("/admin/publisher/post/", {"action": "publish", "_selected_action": [draft.pk]}, follow=True)
    assert "Verify your email address" in response.content.decode()
    draft.refresh_from_db()
    assert not draft.is_published


@pytest.mark.django_db
def test_a_superusers_publish_action_leaves_an_unverified_authors_draft_a_draft(admin_client):
    verified_draft, unverified_draft = DraftFactory(), DraftFactory(author=UserFactory(is_verified=False))
    response = admin_client.post(
        "/admin/publisher/post/",
        {"action": "publish", "_selected_action": [verified_draft.pk, unverified_draft.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Published 1 post(s)." in page
    assert "1 draft(s) stay drafts: their authors have not verified their email address yet." in page
    verified_draft.refresh_from_db()
    unverified_draft.refresh_from_db()
    assert verified_draft.is_published and not unverified_draft.is_published
    assert unverified_draft.published_at is None


@pytest.mark.django_db
def test_admin_changelist_columns_and_preview(client):
    author = AuthorFactory()
    draft = DraftFactory(author=author, title="Work in progress")
    client.force_login(author)
    page = client.get("/admin/publisher/post/").content.decode()
    for column in ("Title", "Status", "Views", "Stats"):  # no Author column: all are theirs
        assert column in page
    preview = client.get(f"/admin/publisher/post/{draft.pk}/preview/")
    assert preview.status_code == 200 and "Work in progress" in preview.content.decode()
    assert "cannot see this draft" in preview.content.decode()


@pytest.mark.django_db
def test_the_admin_shows_the_views_the_page_shows_before_any_flush_read_in_one_round_trip(
    client, admin_client, monkeypatch
):
    author = AuthorFactory()
    read, unread = PostFactory(author=author, title="Read three times"), PostFactory(author=author, title="Unread")
    for n in (1, 2, 3):
        assert f"Viewed {n} time" in client.get(f"/{read.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()
    calls = []
    views_of_posts = buffer.views_of_posts
    monkeypatch.setattr(buffer, "views_of_posts", lambda ids: calls.append(sorted(ids)) or views_of_posts(ids))
    client.force_login(author)
    page = client.get("/admin/publisher/post/").content.decode()
    assert re.search(r"Read three times.*?field-views[^>]*>3<", page, re.S)
    assert re.search(r"Unread.*?field-views[^>]*>0<", page, re.S)
    assert calls == [sorted([read.pk, unread.pk])]  # the whole page of rows at once
    change_form = client.get(f"/admin/publisher/post/{read.pk}/change/").content.decode()
    assert re.search(r"Views:</label>\s*<div class=\"readonly\">3<", change_form)
    # A preview is not a view: neither the author's nor a superuser's (who is not the author), from a browser.
    preview_url = f"/admin/publisher/post/{read.pk}/preview/"
    for previewer in (client, admin_client):
        assert "Viewed 3 times" in previewer.get(preview_url, HTTP_USER_AGENT=BROWSER).content.decode()
    assert flush_views() == 3  # what was counted: the readers' three views, no preview
    read.refresh_from_db()
    assert read.view_count == 3
    assert DailyPostViews.objects.filter(post=read).aggregate(views=Sum("views"))["views"] == 3
    assert "Viewed 3 times" in client.get(preview_url, HTTP_USER_AGENT=BROWSER).content.decode()


def test_the_excerpt_keeps_list_items_and_headings_apart_with_punctuation():
    html = render_markdown(
        "# It reads operation cards\n\n- It keeps numbers\n- And adds them up!\n\nA *short* line  \nand more"
    )
    assert excerpt_from_html(html) == (
        "It reads operation cards. It keeps numbers. And adds them up! A short line and more."
    )
