from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from . import selectors


class PostSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return selectors.published_posts()

    def lastmod(self, post):
        return post.updated_at


class AuthorSitemap(Sitemap):
    """The author pages: of authors with a published post."""

    changefreq = "weekly"

    def items(self):
        return selectors.authors_with_published_posts()

    def location(self, author):
        return reverse("author_posts", args=[author.slug])


class TagSitemap(Sitemap):
    """The tag pages: of tags with a published post."""

    changefreq = "weekly"

    def items(self):
        return selectors.tags_with_published_posts()

    def location(self, tag):
        return reverse("tag_posts", args=[tag.slug])
