"""The posts' admin as authors write in it: the live preview's endpoint beside the Markdown editor, and the list of
their posts (its columns)."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from publisher.admin.markdown_preview import MAX_CHARACTERS
from publisher.counting import flush_views, shown_views_of_post
from publisher.models import DailyPostViews, Post
from publisher.rendering import render_markdown
from tests.factories import AuthorFactory, DraftFactory, PostFactory, UserFactory
from tests.support.admin_forms import POST_FORM

PREVIEW_URL = "/admin/publisher/post/markdown-preview/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
HOSTILE_MARKDOWN = """\
Some **bold** words.

<script>alert("preview")</script>

[a link](javascript:alert(1)) <img src="x" onerror="alert(2)">
"""


def csrf_client(user):
    """A browser's client: the CSRF check applies, and the token is the one the admin's form page set."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/admin/publisher/post/add/").status_code == 200
    return client, client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_the_preview_is_the_public_pages_sanitized_html():
    client, token = csrf_client(AuthorFactory())
    response = client.post(PREVIEW_URL, {"content": HOSTILE_MARKDOWN, "csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "alert(&quot;preview&quot;)" not in html.replace('"', "&quot;")
    assert "javascript:" not in html and "onerror" not in html
    assert html == render_markdown(HOSTILE_MARKDOWN)  # the renderer of the public page, not one of its own


@pytest.mark.django_db
def test_the_preview_needs_a_staff_login():
    anonymous = Client()
    response = anonymous.post(PREVIEW_URL, {"content": "*hi*"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    reader = Client()
    reader.force_login(UserFactory(is_staff=False))
    response = reader.post(PREVIEW_URL, {"content": "*hi*"})
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_the_preview_needs_permission_to_write_posts():
    staff = Client()
    staff.force_login(UserFactory(is_staff=True))  # staff, but not an author: no permission on posts
    assert staff.post(PREVIEW_URL, {"content": "*hi*"}).status_code == 403


@pytest.mark.django_db
def test_the_preview_needs_the_csrf_token_and_a_post():
    client, token = csrf_client(AuthorFactory())
    assert client.post(PREVIEW_URL, {"content": "*hi*"}).status_code == 403
    assert client.post(PREVIEW_URL, {"content": "*hi*", "csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert client.get(PREVIEW_URL, {"content": "*hi*"}).status_code == 405
    assert client.post(PREVIEW_URL, {"content": "*hi*", "csrfmiddlewaretoken": token}).status_code == 200


@pytest.mark.django_db
def test_too_long_a_text_is_a_clear_400():
    client, token = csrf_client(AuthorFactory())
    longest = client.post(PREVIEW_URL, {"content": "a" * MAX_CHARACTERS, "csrfmiddlewaretoken": token})
    assert longest.status_code == 200
    response = client.post(PREVIEW_URL, {"content": "a" * (MAX_CHARACTERS + 1), "csrfmiddlewaretoken": token})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode() == (
        f"The text is too long to preview: at most {MAX_CHARACTERS} characters (it has {MAX_CHARACTERS + 1})."
    )


@pytest.mark.django_db
def test_a_preview_counts_no_view_and_changes_no_post():
    post = PostFactory(content="Before")
    stored = Post.objects.filter(pk=post.pk).values().get()
    # Not the post's author (whose reading never counts), from a person's browser.
    client, token = csrf_client(UserFactory(is_staff=True, is_superuser=True))
    for content in (post.content, "After, *not saved*"):
        data = {"content": content, "csrfmiddlewaretoken": token, "id": post.pk, "slug": post.slug}
        assert client.post(PREVIEW_URL, data, HTTP_USER_AGENT=BROWSER).status_code == 200
    assert Post.objects.filter(pk=post.pk).values().get() == stored
    assert shown_views_of_post(post) == 0
    assert flush_views() == 0
    assert not DailyPostViews.objects.exists()


@pytest.mark.django_db
def test_the_post_form_carries_the_editor_and_its_script():
    client = Client()
    client.force_login(AuthorFactory())
    page = client.get("/admin/publisher/post/add/").content.decode()
    assert re.search(r'<textarea[^>]*data-markdown-preview-url="/admin/publisher/post/markdown-preview/"', page)
    assert re.search(r'<script src="/static/publisher/markdown_preview.js"', page)
    assert re.search(r'<link href="/static/publisher/markdown_preview.css"', page)


def column_names(client):
    page = client.get("/admin/publisher/post/").content.decode()
    return re.findall(r'<th scope="col" class="[^"]*column-(\w+)', page)


@pytest.mark.django_db
def test_an_authors_list_shows_their_columns_without_an_author_column(client, admin_client):
    author = AuthorFactory()
    PostFactory(author=author)
    client.force_login(author)
    mine = ["title", "status", "views", "stats_link", "goes_live", "updated"]
    assert column_names(client) == mine
    assert column_names(admin_client) == ["title", "author_name", *mine[1:]]


@pytest.mark.django_db
def test_the_lists_dates_are_short_and_in_the_authors_zone(client):
    author = AuthorFactory(time_zone="Asia/Kathmandu")  # UTC+05:45
    goes_live = datetime(2031, 3, 14, 22, 30, tzinfo=UTC)
    DraftFactory(author=author, status=Post.Status.SCHEDULED, publish_at=goes_live)
    PostFactory(author=author, published_at=datetime(2030, 1, 2, 3, 4, tzinfo=UTC))
    client.force_login(author)
    page = client.get("/admin/publisher/post/").content.decode()
    dates = re.findall(r'<td class="field-goes_live"><span class="nowrap">([^<]*)</span><br>([^<]*)</td>', page)
    assert sorted(dates) == [("15 Mar 2031", "04:15"), ("2 Jan 2030", "08:49")]


@pytest.mark.django_db
def test_a_body_beyond_what_django_reads_is_a_400_too(settings):
    client, token = csrf_client(AuthorFactory())
    too_big = "é" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # beyond the limit once encoded, whatever the field's
    response = client.post(PREVIEW_URL, {"content": too_big, "csrfmiddlewaretoken": token})
    assert response.status_code == 400


@pytest.mark.django_db
def test_an_author_writes_the_posts_description_in_the_admin(client):
    author = AuthorFactory()
    client.force_login(author)
    description = "What the engine could do, in two sentences. The second one."
    response = client.post("/admin/publisher/post/add/", {**POST_FORM, "description": description})
    assert response.status_code == 302, response.context["adminform"].form.errors
    post = Post.objects.get(author=author)
    assert post.description == description and post.excerpt == description
