"""Test data beyond the factories: authors_with_posts (eligible authors, each with a published post)."""

from datetime import timedelta

from django.utils import timezone

from tests.factories import AuthorFactory, PostFactory


def authors_with_posts(count):
    """`count` eligible authors (verified, reports on), each with one published post."""
    authors = AuthorFactory.create_batch(count, password=None)  # no password hashing: it is slow and unused here
    for author in authors:
        # Published before yesterday: a report lists the posts published by the end of its period.
        PostFactory(author=author, published_at=timezone.now() - timedelta(days=30))
    return authors
