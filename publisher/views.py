import redis
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe
from django.views.generic import ListView

from . import post_page_cache, reports, selectors, services, view_buffer
from .bots import is_bot
from .tokens import read_unsubscribe_token


class HomeView(ListView):
    template_name = "publisher/home.html"
    context_object_name = "posts"
    paginate_by = settings.POSTS_PER_PAGE

    def get_queryset(self):
        return selectors.published_posts().only(
            "title", "slug", "excerpt", "published_at", "view_count", "author__full_name", "author__email"
        )


@require_safe
def post_detail(request, slug):
    """A published post's page; a GET from a person counts as a view, on the author's day. Served from the post page
    cache when it holds the page at its current version (one Redis round trip, no database query), else rendered
    and cached. When Redis is unavailable the view is counted in the database, with one attempt at Redis per
    request."""
    try:
        return cached_post_page(request, slug) or rendered_post_page(request, slug)
    except redis.RedisError:
        post = published_post_or_404(slug)
        if counts_as_view(request, author_id=post.author_id):
            day = services.authors_today(post.author.report_time_zone)
            views = services.count_view_in_database(post.pk, day)
        else:
            views = post.view_count
        return render_post_page(request, post, views)


def reader_of(request):
    """Who reads, for counting distinct readers: the client's address and user agent, hashed with a daily salt in
    Redis and never stored (publisher.view_buffer)."""
    address = request.META.get(settings.RATELIMIT_IP_META_KEY, "") or request.META.get("REMOTE_ADDR", "")
    return f"{address}\n{request.META.get('HTTP_USER_AGENT', '')}"


def counts_as_view(request, *, author_id):
    """A GET from a person who is not the post's author (authors reading their own posts are not readers)."""
    if request.method != "GET" or is_bot(request.META.get("HTTP_USER_AGENT", "")):
        return False
    return post_page_cache.is_anonymous_reader(request) or request.user.pk != author_id


def cached_post_page(request, slug):
    anonymous = post_page_cache.is_anonymous_reader(request)
    cached = (post_page_cache.cached_page if anonymous else post_page_cache.cached_post)(slug)
    if cached is None:
        return None
    if anonymous:
        post_id, author_id, time_zone = cached.post_id, None, cached.author_time_zone
    else:
        post_id, author_id, time_zone = cached.post.pk, cached.post.author_id, cached.post.author.report_time_zone
    post_views = view_buffer.count_view(
        post_id,
        services.authors_today(time_zone),
        counted=counts_as_view(request, author_id=author_id),
        reader=reader_of(request),
        slug=slug,
        cached_under=cached.version,
    )
    post_page_cache.saw_version(post_views.page_version)
    if not post_views.current:
        return None
    views = services.views_shown(post_views, post_id=post_id)
    return cached.response(views) if anonymous else render_post_page(request, cached.post, views)


def rendered_post_page(request, slug):
    version = view_buffer.page_version(slug)  # read before the post: what is cached under it is at least as new
    post = published_post_or_404(slug)
    time_zone = post.author.report_time_zone
    post_views = view_buffer.count_view(
        post.pk,
        services.authors_today(time_zone),
        counted=counts_as_view(request, author_id=post.author_id),
        reader=reader_of(request),
        slug=slug,
    )
    post_page_cache.saw_version(post_views.page_version)
    views = services.views_shown(post_views, post_id=post.pk, views_in_database=post.view_count)
    response = render_post_page(request, post, views)
    if post_views.page_version == version:  # nothing that this page shows changed while it was read
        if post_page_cache.is_anonymous_reader(request):
            post_page_cache.cache_page(
                slug, post_id=post.pk, author_time_zone=time_zone, response=response, views=views, version=version
            )
        else:
            post_page_cache.cache_post(slug, post, version=version)
    return response


def published_post_or_404(slug):
    post = selectors.published_post(slug)
    if post is None:
        raise Http404("No such post.")
    return post


def render_post_page(request, post, views):
    return render(request, "publisher/post_detail.html", {"post": post, "views": views})


@csrf_exempt  # RFC 8058 one-click POSTs come from mail clients, with no session; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    user_id = read_unsubscribe_token(token)
    if user_id is None:
        return render(request, "publisher/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        reports.turn_off_reports(user_id=user_id)
        if request.user.is_authenticated and request.user.pk == user_id:
            messages.success(request, "View-count reports are turned off. You can turn them on again here.")
            return redirect("account")
        return render(request, "publisher/unsubscribe_done.html")
    return render(request, "publisher/unsubscribe_confirm.html")
