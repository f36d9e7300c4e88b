"""A post page's card for search engines and social sites: canonical link, Open Graph and Twitter card tags, and a
JSON-LD BlogPosting; absolute URLs from SITE_URL, everything escaped, no email address, and all of it in the page
that the post page cache serves without a database query."""

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from publisher import selectors, sharing
from publisher.counting import readers
from tests.factories import AuthorFactory, DraftFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
HOSTILE_TITLE = """He said "hi" & 'bye' <b>bold</b></script><script>alert(1)</script><!-- \\u003c"""
SITE_URL = "https://blog.example.com"


class HeadParser(HTMLParser):
    """What a social site's crawler reads from a page's <head>: its meta tags, canonical link and JSON-LD, with
    HTML's escapes undone."""

    def __init__(self):
        super().__init__()
        self.meta, self.canonical, self.json_ld, self.scripts = {}, [], [], []
        self.in_json_ld = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and ("property" in attrs or "name" in attrs):
            key = attrs.get("property") or attrs["name"]
            assert key not in self.meta, f"{key} twice"
            self.meta[key] = attrs["content"]
        elif tag == "link" and attrs.get("rel") == "canonical":
            self.canonical.append(attrs["href"])
        elif tag == "script":
            self.scripts.append(attrs)
            self.in_json_ld = attrs.get("type") == "application/ld+json"
            if self.in_json_ld:
                self.json_ld.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_json_ld = False

    def handle_data(self, data):
        if self.in_json_ld:
            self.json_ld[-1] += data


def read_head(page):
    parser = HeadParser()
    parser.feed(page)
    return parser


def post_page(client, post, **extra):
    response = client.get(post.get_absolute_url(), HTTP_USER_AGENT=BROWSER, **extra)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = SITE_URL
    return SITE_URL


@pytest.fixture
def days_salt_in_memory():
    """This process holds the day's readers' salt: only its first counted view of a day reads it."""
    readers.salt_of(timezone.now().date(), now=timezone.now())


def test_a_post_page_carries_its_canonical_link_open_graph_and_twitter_card(client, site_url):
    author = AuthorFactory(full_name="Ada Keeper", email="ada@example.com")
    post = PostFactory(author=author, title="The lighthouse", slug="the-lighthouse", description="A year at sea.")
    head = read_head(post_page(client, post))
    url = f"{SITE_URL}/the-lighthouse/"
    assert head.canonical == [url]
    assert {key: value for key, value in head.meta.items() if key.startswith(("og:", "twitter:"))} == {
        "og:type": "article",
        "og:site_name": "Quick Publisher",
        "og:url": url,
        "og:title": "The lighthouse",
        "og:description": "A year at sea.",
        "twitter:card": "summary",
        "twitter:title": "The lighthouse",
        "twitter:description": "A year at sea.",
    }
    assert head.meta["description"] == "A year at sea."
    assert datetime.fromisoformat(head.meta["article:published_time"]) == post.published_at


def test_the_json_ld_is_a_blog_posting_with_its_author_dates_and_url(client, site_url):
    published = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    author = AuthorFactory(full_name="Ada Keeper", email="ada@example.com")
    post = PostFactory(author=author, title="The lighthouse", slug="the-lighthouse", published_at=published)
    head = read_head(post_page(client, post))
    assert len(head.json_ld) == 1
    posting = json.loads(head.json_ld[0])
    assert posting == {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": "The lighthouse",
        "description": post.excerpt,
        "url": f"{SITE_URL}/the-lighthouse/",
        "mainEntityOfPage": f"{SITE_URL}/the-lighthouse/",
        "datePublished": "2026-11-02T08:30:00+00:00",
        "dateModified": post.updated_at.isoformat(),
        "author": {"@type": "Person", "name": "Ada Keeper"},
    }


def test_without_a_description_the_card_describes_the_post_by_its_opening_words(client, site_url):
    post = PostFactory(description="", content="The **keeper** climbs the stairs at dusk.\n\nThen more.")
    head = read_head(post_page(client, post))
    assert head.meta["og:description"] == head.meta["description"] == post.excerpt
    assert post.excerpt.startswith("The keeper climbs the stairs at dusk.")
    assert json.loads(head.json_ld[0])["description"] == post.excerpt


@pytest.mark.parametrize("where", ["title", "description"])
def test_a_hostile_title_or_description_cannot_break_out_of_the_tags(client, site_url, where):
    post = PostFactory(**{where: HOSTILE_TITLE})
    page = post_page(client, post)
    head = read_head(page)
    values = [
        head.meta[f"og:{where}"],
        head.meta[f"twitter:{where}"],
        json.loads(head.json_ld[0])["headline" if where == "title" else "description"],
    ]
    assert values == [HOSTILE_TITLE] * 3  # read back exactly as written
    assert "<script>alert(1)" not in page and "<b>bold" not in page
    assert head.scripts == [{"type": "application/ld+json"}]  # the page has no other script element


def test_urls_come_from_site_url_never_from_the_requests_host(client, site_url, settings):
    settings.ALLOWED_HOSTS = ["*"]
    post = PostFactory(slug="hosted")
    page = post_page(client, post, HTTP_HOST="attacker.example", HTTP_X_FORWARDED_HOST="attacker.example")
    assert "attacker.example" not in page
    head = read_head(page)
    assert head.canonical == [f"{SITE_URL}/hosted/"] and head.meta["og:url"] == f"{SITE_URL}/hosted/"


def test_the_card_never_reveals_the_authors_email(client, site_url):
    post = PostFactory(author=AuthorFactory(full_name="", email="nameless@example.com"))
    page = post_page(client, post)
    head_html = page.partition("</head>")[0]
    assert "nameless@example.com" not in head_html
    assert "author" not in json.loads(read_head(page).json_ld[0])


def test_a_page_served_from_the_post_page_cache_carries_the_card_without_a_query(
    client, site_url, django_assert_num_queries, days_salt_in_memory
):
    post = PostFactory(title='A "cached" <card>', slug="cached-card")
    rendered = post_page(client, post)  # rendered and cached
    with django_assert_num_queries(0):
        kept = post_page(client, post)
    assert read_head(kept).__dict__ == read_head(rendered).__dict__
    assert read_head(kept).canonical == [f"{SITE_URL}/cached-card/"]


def test_a_signed_in_readers_cached_page_carries_the_card_with_only_their_user_read(
    client, site_url, django_assert_num_queries
):
    post = PostFactory(title="For readers", slug="for-readers", description="Signed in.")
    client.force_login(UserFactory())
    post_page(client, post)  # rendered, and the post cached
    with django_assert_num_queries(1):  # the reader's user row: the card reads nothing the cached post lacks
        head = read_head(post_page(client, post))
    assert head.meta["og:description"] == "Signed in." and json.loads(head.json_ld[0])["headline"] == "For readers"


def test_the_card_reads_only_what_the_post_page_selects(django_assert_num_queries):
    """So that rendering a page queries the post once, and a cached post has all the card needs."""
    post = selectors.published_post(PostFactory(description="Selected.").slug)
    with django_assert_num_queries(0):
        card = sharing.sharing_card(post)
        render_to_string("publisher/_sharing.html", {"sharing": card})
    assert card.description == "Selected." and card.author_name == post.author.full_name


def test_an_edit_is_in_the_card_of_the_next_page(client, site_url, django_capture_on_commit_callbacks):
    post = PostFactory(title="First title")
    post_page(client, post)
    post.title, post.description = "Second title", "Edited."
    with django_capture_on_commit_callbacks(execute=True):
        post.save()
    head = read_head(post_page(client, post))
    assert head.meta["og:title"] == "Second title" and head.meta["og:description"] == "Edited."
    posting = json.loads(head.json_ld[0])
    assert posting["headline"] == "Second title"
    assert datetime.fromisoformat(posting["dateModified"]) > datetime.fromisoformat(posting["datePublished"])


@pytest.mark.parametrize("signed_in", [False, True])
def test_an_authors_new_name_is_in_the_card_of_the_next_page(
    client, site_url, django_capture_on_commit_callbacks, signed_in
):
    post = PostFactory(author=AuthorFactory(full_name="Ada Writer"))
    if signed_in:
        client.force_login(UserFactory())
    post_page(client, post)
    post.author.full_name = "Ada Lovelace"
    with django_capture_on_commit_callbacks(execute=True):
        post.author.save()
    assert json.loads(read_head(post_page(client, post)).json_ld[0])["author"]["name"] == "Ada Lovelace"


def test_a_draft_preview_has_no_card(client):
    author = AuthorFactory()
    draft = DraftFactory(author=author)
    client.force_login(author)
    response = client.get(f"/admin/publisher/post/{draft.pk}/preview/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview" in page and 'rel="canonical"' not in page and "ld+json" not in page


def test_a_card_with_an_image_shares_it_with_its_size():
    card = sharing.SharingCard(
        url=f"{SITE_URL}/p/",
        title="T",
        description="D",
        author_name="A",
        published_at=timezone.now() - timedelta(days=1),
        modified_at=timezone.now(),
        image=sharing.SharedImage(url=f"{SITE_URL}/media/cover.jpg", width=1600, height=900, alt='A "lamp"'),
    )
    head = read_head(render_to_string("publisher/_sharing.html", {"sharing": card}))
    assert head.meta["og:image"] == head.meta["twitter:image"] == f"{SITE_URL}/media/cover.jpg"
    assert (head.meta["og:image:width"], head.meta["og:image:height"]) == ("1600", "900")
    assert head.meta["og:image:alt"] == 'A "lamp"' and head.meta["twitter:card"] == "summary_large_image"
    image = json.loads(head.json_ld[0])["image"]
    assert image == {"@type": "ImageObject", "url": f"{SITE_URL}/media/cover.jpg", "width": 1600, "height": 900}
