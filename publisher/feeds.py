from django.conf import settings
from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Atom1Feed

from . import images, selectors


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
        return post.content_html

    def item_link(self, post):
        return f"{settings.SITE_URL}{post.get_absolute_url()}"

    def item_author_name(self, post):
        return post.author.full_name

    def item_pubdate(self, post):
        return post.published_at

    def item_updateddate(self, post):
        return post.updated_at
