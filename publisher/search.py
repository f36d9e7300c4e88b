"""Searching published posts: `SearchForm` reads the query, `search_results` finds a page of posts for it.

- On PostgreSQL, its full-text search: the query in websearch syntax (words, "quoted phrases", -excluded, or)
  against the title (weight A), description (B) and content (C), best rank first, with the matched words
  highlighted by the database. The GIN index `post_search_idx` (migration 0017) is built on the very expression
  of `post_search_vector`.
- On SQLite, the development database, a plain fallback: posts holding every word of the query in their title,
  description or content, those with all of them in the title first, then newest first. Development only: it
  reads every published post, and its case folding is ASCII only.

Drafts and scheduled posts are never found: both search published posts only.
"""

import functools
import operator
import re
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Case, F, Q, TextField, Value, When
from django.db.models.functions import Concat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from . import selectors
from .models import Post

MAX_QUERY_LENGTH = 200
# The text search configuration the index was built with: a query under another one could not use it.
TEXT_SEARCH_CONFIG = "english"
# Around each highlighted word: control characters, which `SearchForm` takes out of queries.
MARK_START, MARK_STOP = "\x02", "\x03"
MARKED = re.compile(f"{MARK_START}([^{MARK_START}{MARK_STOP}]*){MARK_STOP}")
SHOWN_FIELDS = ("title", "slug", "excerpt", "published_at", "author__full_name")


class SearchForm(forms.Form):
    q = forms.CharField(label="Search posts", max_length=MAX_QUERY_LENGTH, required=False, widget=forms.SearchInput)

    def clean_q(self):
        """Control characters become spaces (the field has already refused NUL)."""
        return " ".join("".join(c if c.isprintable() else " " for c in self.cleaned_data["q"]).split())


@dataclass(frozen=True)
class SearchResult:
    post: Post
    title: SafeString  # highlighted
    snippet: SafeString  # highlighted


@dataclass(frozen=True)
class SearchResults:
    page: Page  # of posts, for the pagination links
    results: list[SearchResult]


def search_results(query, *, page_number=None):
    """One page of the published posts matching `query`, each with its title and a snippet highlighted."""
    if connection.vendor == "postgresql":
        posts = full_text_matches(query)
    else:
        posts = plain_matches(query)
    page = Paginator(posts, settings.POSTS_PER_PAGE).get_page(page_number)
    found = [found_post(post, query) for post in page.object_list]
    return SearchResults(page=page, results=found)


def post_search_vector():
    """What a post is searched by: its title, description and content, weighted in that order."""
    return (
        SearchVector("title", weight="A", config=TEXT_SEARCH_CONFIG)
        + SearchVector("description", weight="B", config=TEXT_SEARCH_CONFIG)
        + SearchVector("content", weight="C", config=TEXT_SEARCH_CONFIG)
    )


def full_text_matches(query):
    search_query = SearchQuery(query, search_type="websearch", config=TEXT_SEARCH_CONFIG)
    marks = {"start_sel": MARK_START, "stop_sel": MARK_STOP, "config": TEXT_SEARCH_CONFIG}
    return (
        selectors.published_posts()
        .only(*SHOWN_FIELDS)
        .alias(document=post_search_vector())
        .filter(document=search_query)
        .alias(rank=SearchRank(F("document"), search_query))
        .annotate(
            title_marked=SearchHeadline("title", search_query, highlight_all=True, **marks),
            snippet_marked=SearchHeadline(
                Concat("description", Value("\n\n"), "content", output_field=TextField()),
                search_query,
                max_fragments=2,
                min_words=15,
                max_words=35,
                fragment_delimiter=" … ",
                **marks,
            ),
        )
        .order_by("-rank", "-published_at", "-pk")
    )


def query_words(query):
    return re.findall(r"\w+", query)


def plain_matches(query):
    words = query_words(query)
    if not words:
        return selectors.published_posts().none()
    posts = selectors.published_posts().only(*SHOWN_FIELDS)
    for word in words:
        posts = posts.filter(Q(title__icontains=word) | Q(description__icontains=word) | Q(content__icontains=word))
    all_in_title = functools.reduce(operator.and_, (Q(title__icontains=word) for word in words))
    title_first = Case(When(all_in_title, then=Value(0)), default=Value(1))
    return posts.alias(title_first=title_first).order_by("title_first", "-published_at", "-pk")


def found_post(post, query):
    if hasattr(post, "title_marked"):  # marked by the database
        return SearchResult(post, highlighted(post.title_marked), highlighted(post.snippet_marked))
    pattern = words_pattern(query_words(query))
    return SearchResult(post, highlighted(marked(post.title, pattern)), highlighted(marked(post.excerpt, pattern)))


def words_pattern(words):
    return re.compile("|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True)), re.IGNORECASE)


def marked(text, pattern):
    return pattern.sub(lambda match: f"{MARK_START}{match.group(0)}{MARK_STOP}", text)


def highlighted(text):
    """Text with marked words, as HTML: all of it escaped, then each mark made a <mark> element, and any stray
    mark character (a post's own) dropped."""
    html = MARKED.sub(r"<mark>\1</mark>", escape(text))
    return mark_safe(html.replace(MARK_START, "").replace(MARK_STOP, ""))  # escaped just above
