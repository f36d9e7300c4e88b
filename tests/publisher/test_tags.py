"""Tags: typed in the post form (new ones created, existing ones offered), one tag whatever its case, each author
changing only their own posts' tags; the post page shows its tags, author link and reading time from the post page
cache, which follows every change of tags."""

import re

import pytest
from taggit.models import Tag

from publisher.models import Post
from tests.factories import AuthorFactory, PostFactory, UserFactory
from tests.support.admin_forms import POST_FORM, admin_form_data

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


def tag_names(post):
    return sorted(post.tags.names())


@pytest.mark.django_db
def test_one_tag_whatever_its_case_with_one_slug(client):
    first, second = PostFactory(title="First"), PostFactory(title="Second")
    first.tags.add("Django")
    second.tags.add("django")
    second.tags.add("DJANGO")
    assert list(Tag.objects.values_list("name", "slug")) == [("Django", "django")]
    page = client.get("/tags/django/").content.decode()
    assert "First" in page and "Second" in page
    assert client.get("/tags/Django/").status_code == 404  # one address per tag: its slug
    first.tags.add("Café crème")
    assert Tag.objects.get(name="Café crème").slug == "café-crème"  # any letter, as taggit keeps it
    cafe = client.get(first.get_absolute_url()).content.decode()
    assert '<a href="/tags/caf%C3%A9-cr%C3%A8me/" rel="tag">Café crème</a>' in cafe
    assert "First" in client.get("/tags/caf%C3%A9-cr%C3%A8me/").content.decode()
    assert client.get("/tags/caf%C3%A9-cr%C3%A8me/feed/").status_code == 200


@pytest.mark.django_db
def test_tags_typed_in_the_admin_form_are_created_or_reused_whatever_their_case(client):
    Tag.objects.create(name="Python")
    author = AuthorFactory()
    client.force_login(author)
    form = {**POST_FORM, "description": "What it is about.", "tags": 'python, Web Dev, "Hello, world", web dev'}
    response = client.post("/admin/publisher/post/add/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    post = Post.objects.get()
    assert tag_names(post) == ["Hello, world", "Python", "Web Dev"]
    assert post.description == "What it is about." and post.excerpt == "What it is about."
    assert dict(Tag.objects.values_list("name", "slug")) == {
        "Python": "python",
        "Web Dev": "web-dev",
        "Hello, world": "hello-world",
    }
    change_url = f"/admin/publisher/post/{post.pk}/change/"
    data = {**admin_form_data(client.get(change_url)), "tags": "web dev, New one"}
    assert client.post(change_url, data).status_code == 302
    assert tag_names(post) == ["New one", "Web Dev"]


@pytest.mark.django_db
def test_the_form_offers_every_authors_tags_with_a_static_script(client):
    PostFactory().tags.add("Someone else's tag", "<script>alert(1)</script>")
    author = AuthorFactory()
    client.force_login(author)
    page = client.get("/admin/publisher/post/add/").content.decode()
    field = re.search(r'<input type="text" name="tags"[^>]*>', page).group(0)
    assert 'list="id_tags-suggestions"' in field and "data-tag-suggestions" in field
    datalist = re.search(r'<datalist id="id_tags-suggestions">(.*?)</datalist>', page, re.S).group(1)
    assert '<option value="Someone else&#x27;s tag">' in datalist
    assert '<option value="&lt;script&gt;alert(1)&lt;/script&gt;">' in datalist
    assert '<script src="/static/publisher/tag_suggestions.js">' in page
    assert "<script>" not in page.replace('<script src="', "")  # no inline script: the CSP forbids it


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("tags", "error"),
    [
        ("!!!, fine", "needs a letter or a digit"),
        ("x" * 101, "at most 100 characters"),
        (", ".join(f"tag{n}" for n in range(21)), "At most 20 tags a post"),
    ],
)
def test_tags_that_cannot_make_a_tag_page_are_form_errors_and_nothing_is_saved(client, tags, error):
    client.force_login(AuthorFactory())
    response = client.post("/admin/publisher/post/add/", {**POST_FORM, "tags": tags})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Post.objects.exists() and not Tag.objects.exists()


@pytest.mark.django_db
def test_an_author_cannot_change_another_authors_post_tags(client):
    post = PostFactory()
    post.tags.add("theirs")
    intruder = AuthorFactory()
    client.force_login(intruder)
    change_url = f"/admin/publisher/post/{post.pk}/change/"
    assert client.get(change_url).status_code == 404
    form = {**POST_FORM, "title": post.title, "slug": post.slug, "status": "published", "tags": "mine"}
    assert client.post(change_url, form).status_code == 404
    assert tag_names(post) == ["theirs"] and not Tag.objects.filter(name="mine").exists()
    # Nor through the tags' own admin: renaming or deleting a tag would change others' posts.
    tag = Tag.objects.get()
    for url in ("/admin/taggit/tag/", f"/admin/taggit/tag/{tag.pk}/change/", f"/admin/taggit/tag/{tag.pk}/delete/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/admin/taggit/tag/{tag.pk}/change/", {"name": "renamed", "slug": "renamed"}).status_code == 403
    assert Tag.objects.get().name == "theirs"


@pytest.mark.django_db
def test_the_post_page_links_its_author_and_tags_and_shows_a_reading_time(client, django_assert_num_queries):
    post = PostFactory(author__full_name="Ada Lovelace", content=" ".join(["word"] * 700))
    post.tags.add("Engines", "Notes")
    page = client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()
    assert 'by <a href="/authors/ada-lovelace/" rel="author">Ada Lovelace</a>' in page
    assert (
        '<a href="/tags/engines/" rel="tag">Engines</a>' in page
        and '<a href="/tags/notes/" rel="tag">Notes</a>' in page
    )
    assert "4 min read" in page  # 700 words
    with django_assert_num_queries(0):  # from the post page cache, with its tags and author link
        cached = client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()
    assert cached == page.replace("Viewed 1 time", "Viewed 2 times")
    client.force_login(UserFactory())
    client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER)  # the post cached for signed-in readers, tags and all
    with django_assert_num_queries(1):  # the reader's own user, nothing for the post, its author or its tags
        signed_in = client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()
    assert ">Engines</a>" in signed_in and "4 min read" in signed_in and "/authors/ada-lovelace/" in signed_in


def view(client, post):
    return client.get(f"/{post.slug}/", HTTP_USER_AGENT=BROWSER).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [False, True])
def test_cached_post_pages_follow_every_change_of_their_tags(client, django_capture_on_commit_callbacks, signed_in):
    post = PostFactory(author__full_name="Tag Keeper")
    post.tags.add("Before")
    other = PostFactory()
    other.tags.add("Elsewhere")
    if signed_in:
        client.force_login(UserFactory())
    assert ">Before</a>" in view(client, post)
    view(client, other)

    def changed(change):
        with django_capture_on_commit_callbacks(execute=True):
            change()
        return view(client, post)

    assert ">Added</a>" in changed(lambda: post.tags.add("Added"))
    assert ">Before</a>" not in changed(lambda: post.tags.remove("Before"))
    assert ">Reset</a>" in changed(lambda: post.tags.set(["Reset"]))
    assert 'rel="tag"' not in changed(post.tags.clear)
    post.tags.add("Named")
    tag = Tag.objects.get(name="Named")
    tag.name = "Renamed"
    assert ">Renamed</a>" in changed(tag.save)
    assert ">Renamed</a>" not in changed(tag.delete)
    with django_capture_on_commit_callbacks(execute=True):
        Tag.objects.get(name="Elsewhere").delete()
    assert ">Elsewhere</a>" not in view(client, other)


@pytest.mark.django_db
def test_tags_changed_in_the_admin_show_on_the_cached_page(client, django_capture_on_commit_callbacks):
    author = AuthorFactory()
    post = PostFactory(author=author)
    post.tags.add("Old")
    assert ">Old</a>" in view(client, post)
    editor = type(client)()
    editor.force_login(author)
    change_url = f"/admin/publisher/post/{post.pk}/change/"
    data = {**admin_form_data(editor.get(change_url)), "tags": "Old, Fresh"}
    with django_capture_on_commit_callbacks(execute=True):
        assert editor.post(change_url, data).status_code == 302
    assert ">Fresh</a>" in view(client, post)


@pytest.mark.django_db
def test_a_renamed_authors_cached_pages_link_their_new_author_page(client, django_capture_on_commit_callbacks):
    post = PostFactory(author__full_name="First Name")
    assert 'href="/authors/first-name/"' in view(client, post)
    post.author.full_name = "Second Name"
    with django_capture_on_commit_callbacks(execute=True):
        post.author.save(update_fields=["full_name"])
    page = view(client, post)
    assert 'href="/authors/second-name/"' in page and "first-name" not in page
