from django.contrib.sitemaps import Sitemap

from . import selectors


class PostSitemap(Sitemap):
    changefreq = "weekly"

    def items(self):
        return selectors.published_posts()

    def lastmod(self, post):
        return post.updated_at
