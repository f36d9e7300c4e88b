"""URLs served only by bench/views.py: the whole site, plus the baselines it measures the post page against.

Never included by quick_publisher.urls: the naive counter below is exactly what the site must not do.
"""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import include, path
from django.views.decorators.http import require_safe

from publisher import view_buffer
from publisher.models import Post


def fixed_string(request):
    """(a) The ceiling for any Django page: the same middleware, no database, no template."""
    return HttpResponse("Hello from Django.\n", content_type="text/plain")


def fixed_string_and_one_hincrby(request):
    """(a) plus one atomic Redis operation, sent and waited for here: what a plain Redis counter costs."""
    view_buffer.client().hincrby("bench:floor", "views", 1)
    return HttpResponse("Hello from Django.\n", content_type="text/plain")


@require_safe
def naive_post_detail(request, slug):
    """(c) The tutorial's counter: read the row, add one in Python, write the whole row back."""
    post = get_object_or_404(Post.objects.select_related("author"), slug=slug, status=Post.Status.PUBLISHED)
    post.view_count += 1
    post.save()
    return render(request, "publisher/post_detail.html", {"post": post, "views": post.view_count})


bench_patterns = [
    path("minimal/", fixed_string),
    path("minimal-and-hincrby/", fixed_string_and_one_hincrby),
    path("naive/<slug:slug>/", naive_post_detail),
]

# Behind one prefix, so that the site's own pages pay a single extra pattern to resolve.
urlpatterns = [
    path("bench/", include(bench_patterns)),
    path("", include("quick_publisher.urls")),
]
