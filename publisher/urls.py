from django.contrib.sitemaps.views import sitemap
from django.urls import path, register_converter
from django.views.decorators.http import require_safe

from . import views
from .converters import PostSlugConverter
from .feeds import AuthorPostsFeed, LatestPostsFeed, TagPostsFeed
from .reports import views as report_views
from .sitemaps import AuthorSitemap, PostSitemap, TagSitemap

register_converter(PostSlugConverter, "post_slug")

SITEMAPS = {"posts": PostSitemap, "authors": AuthorSitemap, "tags": TagSitemap}

urlpatterns = [
    # First, as the page most requested: a reserved word (admin, feed, signup...) is never taken for a slug.
    path("<post_slug:slug>/", views.post_detail, name="post_detail"),
    path("", views.HomeView.as_view(), name="home"),
    # Documents to read: any method but GET and HEAD is a 405, not the feed again.
    path("search/", views.search_posts, name="search"),
    path("feed/", require_safe(LatestPostsFeed()), name="feed"),
    path("authors/<slug:slug>/", require_safe(views.AuthorPostsView.as_view()), name="author_posts"),
    path("authors/<slug:slug>/feed/", require_safe(AuthorPostsFeed()), name="author_feed"),
    # A tag's slug may hold any letter (taggit keeps Unicode), and never a slash.
    path("tags/<str:slug>/", require_safe(views.TagPostsView.as_view()), name="tag_posts"),
    path("tags/<str:slug>/feed/", require_safe(TagPostsFeed()), name="tag_feed"),
    path("sitemap.xml", require_safe(sitemap), {"sitemaps": SITEMAPS}, name="sitemap"),
    path("reports/settings/", report_views.report_settings, name="report_settings"),
    path("reports/unsubscribe/<str:token>/", report_views.unsubscribe, name="report_unsubscribe"),
]
