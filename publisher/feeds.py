from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from . import images, selectors
from .rendering import with_absolute_urls


class CoverImageEnclosure:
    """A feed of posts whose items carry their cover image as an enclosure: mix it into a Feed whose items() are
    read with selectors.with_covers (one query for all the covers)."""

    def item_enclosures(self, post):
        return images.cover_enclosures(post)


class LatestPostsFeed(CoverImageEnclosure, Feed):
    feed_type = Atom1Feed
    title = "Quick Publisher: latest posts"
    subtitle = "The newest posts published on Quick Publisher."

    def link(self):
        return f"{settings.SITE_URL}/"

    def items(self):
        return selectors.with_covers(selectors.published_posts())[:30]

    def item_title(self, post):
        return post.title

    def item_description(self, post):
        return with_absolute_urls(post.content_html, self.item_link(post))  # as the post's page resolves them

    def item_link(self, post):
        return f"{settings.SITE_URL}{post.get_absolute_url()}"

    def item_author_name(self, post):
        return post.author.full_name

    def item_pubdate(self, post):
        return post.published_at

    def item_updateddate(self, post):
        return post.updated_at


class AuthorPostsFeed(LatestPostsFeed):
    """An author's latest posts (the author page's feed)."""

    def get_object(self, request, slug):
        author = selectors.author_with_slug(slug)
        if author is None:
            raise Http404("No such author.")
        return author

    def title(self, author):
        return f"Quick Publisher: posts by {author.full_name}"

    def subtitle(self, author):
        return f"The newest posts by {author.full_name} on Quick Publisher."

    def link(self, author):
        return f"{settings.SITE_URL}{reverse('author_posts', args=[author.slug])}"

    def items(self, author):
        return selectors.with_covers(selectors.published_posts_by(author))[:30]


class TagPostsFeed(LatestPostsFeed):
    """The latest posts with a tag (the tag page's feed)."""

    def get_object(self, request, slug):
        tag = selectors.tag_with_slug(slug)
        if tag is None:
            raise Http404("No such tag.")
        return tag

    def title(self, tag):
        return f"Quick Publisher: posts tagged {tag.name}"

    def subtitle(self, tag):
        return f"The newest posts tagged {tag.name} on Quick Publisher."

    def link(self, tag):
        return f"{settings.SITE_URL}{reverse('tag_posts', args=[tag.slug])}"

    def items(self, tag):
        return selectors.with_covers(selectors.published_posts_tagged(tag))[:30]
