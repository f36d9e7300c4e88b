import redis
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django.views.generic import ListView
from django_ratelimit.decorators import ratelimit

from quick_publisher.ratelimits import address_key

from . import counting, images, page_cache, search, selectors, sharing


class PostListView(ListView):
    """A page of published posts, newest first, each with its author, tags and the views its own page shows."""

    context_object_name = "posts"
    paginate_by = settings.POSTS_PER_PAGE

    def get_queryset(self):
        return selectors.listed_posts(self.published_posts())

    def published_posts(self):
        return selectors.published_posts()

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["posts"] = counting.with_shown_views(context["posts"])
        for post in context["posts"]:
            post.thumbnail = images.thumbnail_html(post)
        return context


class HomeView(PostListView):
    template_name = "publisher/home.html"


class AuthorPostsView(PostListView):
    template_name = "publisher/author_posts.html"

    def get(self, request, *args, slug, **kwargs):
        self.author = selectors.author_with_slug(slug)
        if self.author is None:
            raise Http404("No such author.")
        return super().get(request, *args, **kwargs)

    def published_posts(self):
        return selectors.published_posts_by(self.author)

    def get_context_data(self, **kwargs):
        return super().get_context_data(author=self.author, **kwargs)


class TagPostsView(PostListView):
    template_name = "publisher/tag_posts.html"

    def get(self, request, *args, slug, **kwargs):
        self.tag = selectors.tag_with_slug(slug)
        if self.tag is None:
            raise Http404("No such tag.")
        return super().get(request, *args, **kwargs)

    def published_posts(self):
        return selectors.published_posts_tagged(self.tag)

    def get_context_data(self, **kwargs):
        return super().get_context_data(tag=self.tag, **kwargs)


@require_safe
def post_detail(request, slug):
    """A published post's page; a GET from a person counts as a view, on the author's day. Served from the post page
    cache when it holds the page at its current version (no database query but a signed-in reader's own user), else
    rendered and cached. When Redis is unavailable the view is counted in the database, with one attempt at Redis
    per request."""
    try:
        return cached_post_page(request, slug) or rendered_post_page(request, slug)
    except redis.RedisError:
        post = published_post_or_404(slug)
        return render_post_page(request, post, counting.count_view_without_redis(request, post))


def cached_post_page(request, slug):
    cached = page_cache.cached_page(slug)
    if cached is None:
        return None
    visit = counting.count_reader_visit(
        request,
        slug=slug,
        post_id=cached.post_id,
        author_id=None if page_cache.is_anonymous_reader(request) else cached.author_id,
        author_time_zone=cached.author_time_zone,
        cached_under=cached.version,
    )
    if not visit.page_current:
        return None
    return cached.response(request, visit.views)


def rendered_post_page(request, slug):
    version = page_cache.current_page_version(slug)  # read before the post: what is cached under it is as new
    post = published_post_or_404(slug)
    visit = counting.count_reader_visit(
        request,
        slug=slug,
        post_id=post.pk,
        author_id=None if page_cache.is_anonymous_reader(request) else post.author_id,
        author_time_zone=post.author.time_zone,
        views_in_database=post.view_count,
    )
    rendered = render_post_page(request, post, visit.views, reader_parts=page_cache.placeholders())
    page = page_cache.split_page(request, rendered, post=post, views=visit.views, version=version)
    if page is None:
        return render_post_page(request, post, visit.views)
    if visit.page_version == version:  # nothing that this page shows changed while it was read
        page_cache.cache_page(slug, page)
    return page.response(request, visit.views)


def published_post_or_404(slug):
    post = selectors.published_post(slug)
    if post is None:
        raise Http404("No such post.")
    return post


def render_post_page(request, post, views, *, reader_parts=None):
    context = {
        "post": post,
        "views": views,
        "sharing": sharing.sharing_card(post, cover=images.cover_of(post)),
        "pictures": images.post_pictures(post),
        "reader_parts": reader_parts,
    }
    return render(request, "publisher/post_detail.html", context)


@require_safe
@ratelimit(group="search", key=address_key, rate=settings.SEARCH_RATE_LIMIT)
def search_posts(request):
    """Published posts matching ?q=, best first; a query the form refuses is shown with its error."""
    form = search.SearchForm(request.GET)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    results = search.search_results(query, page_number=request.GET.get("page")) if query else None
    return render(request, "publisher/search.html", {"form": form, "query": query, "results": results})
