from django.contrib.sitemaps.views import sitemap
from django.urls import path
from django.views.decorators.http import require_safe

from . import views
from .feeds import LatestPostsFeed
from .sitemaps import PostSitemap

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    # Documents to read: any method but GET and HEAD is a 405, not the feed again.
    path("feed/", require_safe(LatestPostsFeed()), name="feed"),
    path("sitemap.xml", require_safe(sitemap), {"sitemaps": {"posts": PostSitemap}}, name="sitemap"),
    path("reports/unsubscribe/<str:token>/", views.unsubscribe, name="report_unsubscribe"),
    # Last: anything else of one segment is a post's slug.
    path("<slug:slug>/", views.post_detail, name="post_detail"),
]
