"""URLs served only by bench/views.py: the whole site, plus the two pages it measures the post page against.

Never included by quick_publisher.urls: the naive counter below is exactly what the site must not do.
"""

from datetime import date

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import include, path
from django.views.decorators.http import require_safe

from publisher.counting.visit import visit_post_page
from publisher.models import Post


def fixed_string(request):
    """(a) The ceiling for any Django page: the same middleware, no database, no template."""
    return HttpResponse("Hello from Django.\n", content_type="text/plain")


def fixed_string_and_the_redis_call(request):
    """(r) (a) plus the post page's one Redis call (publisher.counting.visit.visit_post_page, counting nothing): the
    least any page that counts its views in Redis can cost, for comparison."""
    visit_post_page("bench-redis-call", post_id=0, day=date.today(), counted=False)
    return HttpResponse("Hello from Django.\n", content_type="text/plain")


@require_safe
def naive_post_detail(request, slug):
    """(c) The tutorial's counter: read the row, add one in Python, write the whole row back."""
    post = get_object_or_404(Post.objects.select_related("author"), slug=slug, status=Post.Status.PUBLISHED)
    post.view_count += 1
    post.save()
    return render(request, "publisher/post_detail.html", {"post": post, "views": post.view_count})


# Behind one prefix, so that the site's own pages pay a single extra pattern to resolve.
urlpatterns = [
    path(
        "bench/",
        include(
            [
                path("minimal/", fixed_string),
                path("redis-call/", fixed_string_and_the_redis_call),
                path("naive/<slug:slug>/", naive_post_detail),
            ]
        ),
    ),
    path("", include("quick_publisher.urls")),
]
