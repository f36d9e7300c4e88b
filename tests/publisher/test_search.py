"""Search (/search/?q=): PostgreSQL's full-text search, ranked and highlighted, on its GIN index; the SQLite
fallback; hostile queries answered with a page; drafts and scheduled posts never found; the rate limit; and the
page's queries, two whatever the number of posts and authors."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from publisher import search
from publisher.models import Post
from tests.factories import AuthorFactory, DraftFactory, PostFactory

pytestmark = pytest.mark.django_db


def search_page(client, query, **params):
    response = client.get("/search/", {"q": query, **params})
    assert response.status_code == 200, response.status_code
    return response.content.decode()


class ResultsParser(HTMLParser):
    """The results' titles, in order, as a reader reads them (marks and escapes undone)."""

    def __init__(self):
        super().__init__()
        self.titles, self.in_title = [], False

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self.titles.append("")
            self.in_title = True

    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_title = False

    def handle_data(self, data):
        if self.in_title:
            self.titles[-1] += data


def found_titles(page):
    parser = ResultsParser()
    parser.feed(page)
    return parser.titles


def results_part(page):
    """The page's results, without the layout (whose header has a search box of its own)."""
    return page.partition('<ul class="post-list search-results">')[2].partition("</ul>")[0]


@pytest.fixture
def on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's full-text search")  # marked postgres too: CI's REQUIRE_POSTGRES fails it instead


@pytest.fixture
def on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite fallback: on PostgreSQL, full-text search answers instead")


# --- PostgreSQL: full-text search ---------------------------------------------------------------------


@pytest.mark.postgres
def test_a_title_match_ranks_above_a_description_match_above_a_body_match(client, on_postgresql):
    day = timezone.now() - timedelta(days=3)
    # The newest first, so that an order by date would be the reverse of the order by rank.
    PostFactory(title="In the body", content="The old lighthouse keeper.", published_at=day + timedelta(hours=3))
    PostFactory(title="In the description", description="About a lighthouse.", published_at=day + timedelta(hours=2))
    PostFactory(title="The lighthouse", content="A story.", published_at=day + timedelta(hours=1))
    PostFactory(title="Unrelated", content="Nothing to see.")
    assert found_titles(search_page(client, "lighthouse")) == ["The lighthouse", "In the description", "In the body"]


@pytest.mark.postgres
def test_words_are_found_by_their_stem_and_websearch_syntax_is_understood(client, on_postgresql):
    PostFactory(title="Running shoes", content="Trails and roads.")
    PostFactory(title="Running water", content="Rivers.")
    assert set(found_titles(search_page(client, "runs"))) == {"Running shoes", "Running water"}
    assert found_titles(search_page(client, "run -water")) == ["Running shoes"]
    assert found_titles(search_page(client, '"running shoes"')) == ["Running shoes"]
    assert set(found_titles(search_page(client, "trails or rivers"))) == {"Running shoes", "Running water"}


@pytest.mark.postgres
def test_matched_words_are_highlighted_and_everything_else_escaped(client, on_postgresql):
    PostFactory(
        title='The <b>lighthouse</b> & "keeper"',
        content="Fish & chips by the lighthouse. The <script>alert(1)</script> lighthouse \x03 mark characters.",
    )
    results = results_part(search_page(client, "lighthouse"))
    assert "&lt;b&gt;<mark>lighthouse</mark>&lt;/b&gt; &amp; &quot;keeper&quot;" in results
    assert "Fish &amp; chips by the <mark>lighthouse</mark>" in results
    assert "<script" not in results and "<b>" not in results and "\x03" not in results
    # The only elements in a result's text are the marks, each closed.
    tags = re.findall(r"</?([a-z0-9]+)", results)
    assert set(tags) == {"li", "h2", "a", "div", "time", "p", "mark"}
    assert results.count("<mark>") == results.count("</mark>") == 3


def test_only_the_marks_become_html_whatever_the_text_holds():
    text = "a <i>b</i> & \x02c\x03 \x02<script>\x03 \x03stray\x02 \x02\x02twice\x03"
    html = search.highlighted(text)
    assert html == "a &lt;i&gt;b&lt;/i&gt; &amp; <mark>c</mark> <mark>&lt;script&gt;</mark> stray <mark>twice</mark>"


@pytest.mark.postgres
def test_the_search_uses_the_gin_index(on_postgresql):
    """The query's vector is the index's expression: were they to differ (a field, a weight, the configuration),
    PostgreSQL could not use the index and would read every published post."""
    author = AuthorFactory()
    Post.objects.bulk_create(
        Post(author=author, title=f"Post {n}", slug=f"post-{n}", content=f"word{n}", status=Post.Status.PUBLISHED)
        for n in range(500)
    )
    PostFactory(author=author, title="Indexed lighthouse")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE publisher_post")  # the planner's statistics, as autovacuum keeps them
    plan = search.full_text_matches("lighthouse").explain()
    assert "Bitmap Index Scan on post_search_idx" in plan, plan


# --- SQLite: the development fallback -----------------------------------------------------------------


def test_the_sqlite_fallback_finds_posts_holding_every_word_titles_first(client, on_sqlite):
    day = timezone.now() - timedelta(days=3)
    PostFactory(title="Keeper notes", content="The old LIGHTHOUSE.", published_at=day + timedelta(hours=3))
    PostFactory(title="Lighthouse keeper", content="A story.", published_at=day + timedelta(hours=1))
    PostFactory(title="Only a lighthouse", content="No one keeps it.", published_at=day + timedelta(hours=2))
    PostFactory(title="Described", description="A lighthouse keeper's year.", published_at=day)
    page = search_page(client, "lighthouse keeper")
    assert found_titles(page) == ["Lighthouse keeper", "Keeper notes", "Described"]
    assert "<mark>Lighthouse</mark> <mark>keeper</mark>" in page


def test_the_sqlite_fallback_escapes_and_highlights(client, on_sqlite):
    PostFactory(title='<i>Tide</i> & "tables"', content="x")
    results = results_part(search_page(client, "tide"))
    assert "&lt;i&gt;<mark>Tide</mark>&lt;/i&gt; &amp; &quot;tables&quot;" in results


# --- Both databases ----------------------------------------------------------------------------------


HOSTILE_QUERIES = {
    "quotes": '"\'"\'"',
    "unbalanced quote": '"lighthouse',
    "tsquery operators": "&|!:*()<->",
    "operators between words": "lighthouse & !keeper | *:AB",
    "only a minus": "-",
    "or alone": "or",
    "stop words only": "the and of",
    "backslashes": "\\\\\\",
    "SQL": "'; DROP TABLE publisher_post; --",
    "markup": "<script>alert(1)</script>",
    "template syntax": "{{ 7*7 }}{% debug %}",
    "like wildcards": "%_%",
    "control characters": "light\x02house\x03\x1b\x7f",
    "emoji": "🔦" * 50,
    "200 characters": "lighthouse " * 18 + "xx",
    "10,000 characters": "lighthouse " * 910,
}
RAW_QUERIES = {
    "invalid UTF-8": "q=%ff%fe%fd",
    "an encoded surrogate": "q=%ed%a0%80",
    "overlong encoding": "q=%c0%af",
    "NUL byte": "q=light%00house",
    "NUL bytes only": "q=%00%00",
    "two queries": "q=a&q=b",
    "no q at all": "page=2",
    "absurd page": "q=lighthouse&page=99999999999999999999",
    "page not a number": "q=lighthouse&page=%ff",
}


@pytest.fixture
def site_with_every_kind_of_post():
    PostFactory(title="The lighthouse", content="A keeper.")
    DraftFactory(title="A draft lighthouse")


def assert_a_page(response):
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    assert page.rstrip().endswith("</html>")
    return page


@pytest.mark.parametrize("query", HOSTILE_QUERIES.values(), ids=HOSTILE_QUERIES.keys())
def test_a_hostile_query_gets_a_page(client, site_with_every_kind_of_post, query):
    page = assert_a_page(client.get("/search/", {"q": query}))
    assert "<script>alert" not in page
    assert "A draft lighthouse" not in page


@pytest.mark.parametrize("query_string", RAW_QUERIES.values(), ids=RAW_QUERIES.keys())
def test_a_hostile_query_string_gets_a_page(client, site_with_every_kind_of_post, query_string):
    page = assert_a_page(client.get(f"/search/?{query_string}"))
    assert "A draft lighthouse" not in page


def test_a_query_over_200_characters_is_refused_with_a_message_and_searches_nothing(client, django_assert_num_queries):
    PostFactory(title="The lighthouse at sea")
    with django_assert_num_queries(0):
        page = search_page(client, "lighthouse " * 910)
    assert "at most 200 characters" in page and found_titles(page) == []
    assert found_titles(search_page(client, "lighthouse " * 18 + "at")) == ["The lighthouse at sea"]  # 200
    assert found_titles(search_page(client, "lighthouse " * 18 + "sea")) == []  # 201


def test_a_nul_byte_is_refused_with_a_message(client):
    assert "Null characters are not allowed" in search_page(client, "light\x00house")


def test_an_empty_query_shows_the_form_and_searches_nothing(client, django_assert_num_queries):
    PostFactory(title="The lighthouse")
    with django_assert_num_queries(0):
        page = search_page(client, "   ")
    assert 'name="q"' in page and found_titles(page) == [] and "found for" not in page
    assert '<meta name="robots" content="noindex">' in page  # result pages are no crawler's to index


def test_drafts_and_scheduled_posts_are_never_found(client):
    author = AuthorFactory()
    PostFactory(author=author, title="Published lighthouse")
    DraftFactory(author=author, title="Draft lighthouse", description="lighthouse", content="lighthouse")
    DraftFactory(
        author=author,
        title="Scheduled lighthouse",
        content="lighthouse",
        status=Post.Status.SCHEDULED,
        publish_at=timezone.now() + timedelta(days=1),
    )
    for query in ("lighthouse", "draft", "scheduled", "draft lighthouse"):
        titles = found_titles(search_page(client, query))
        assert titles in (["Published lighthouse"], []), (query, titles)
    assert found_titles(search_page(client, "lighthouse")) == ["Published lighthouse"]


def test_results_are_paginated_and_the_links_keep_the_query(client):
    for n in range(django_settings.POSTS_PER_PAGE + 3):
        PostFactory(title=f"Lighthouse {n}", published_at=timezone.now() - timedelta(hours=n))
    first, second = search_page(client, "lighthouse"), search_page(client, "lighthouse", page=2)
    assert len(found_titles(first)) == django_settings.POSTS_PER_PAGE and len(found_titles(second)) == 3
    assert set(found_titles(first)).isdisjoint(found_titles(second))
    assert f"{django_settings.POSTS_PER_PAGE + 3} posts found" in first
    assert 'href="?q=lighthouse&amp;page=2"' in first and 'href="?q=lighthouse&amp;page=1"' in second


def test_the_search_page_costs_two_queries_whatever_the_posts_and_authors(client, django_assert_num_queries):
    for n in range(django_settings.POSTS_PER_PAGE + 5):
        PostFactory(title=f"Lighthouse {n}", author=AuthorFactory(full_name=f"Keeper {n}"))
    with django_assert_num_queries(2):  # how many match, and the page of them with their authors
        page = search_page(client, "lighthouse")
    assert len(found_titles(page)) == django_settings.POSTS_PER_PAGE and "by Keeper" in page


def test_a_result_never_shows_its_authors_email(client):
    PostFactory(title="Lighthouse", author=AuthorFactory(full_name="", email="keeper@example.com"))
    page = search_page(client, "lighthouse")
    assert found_titles(page) == ["Lighthouse"] and "keeper@example.com" not in page


def test_searches_are_rate_limited_per_client(client, clock_within_one_rate_window):
    limit = int(django_settings.SEARCH_RATE_LIMIT.split("/")[0])
    statuses = [client.get("/search/", {"q": f"word{n}"}).status_code for n in range(limit + 2)]
    assert 429 not in statuses[:limit] and statuses[limit:] == [429, 429], statuses
    assert "Too many attempts" in client.get("/search/", {"q": "more"}).content.decode()
    other = client.get("/search/", {"q": "word"}, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 200  # another client's budget is its own


def test_every_page_has_a_search_box_in_its_header(client):
    page = client.get("/").content.decode()
    header = page.partition('<header class="site-header">')[2].partition("</header>")[0]
    assert 'role="search"' in header and 'action="/search/"' in header and 'name="q"' in header
