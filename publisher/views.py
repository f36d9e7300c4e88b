import redis
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe
from django.views.generic import ListView

from . import post_pages, reports, selectors, services
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
    """Readers with cookies, and pages not kept or out of date: KeptPostPages serves the other readers."""
    counted = post_pages.counts_as_view(request)
    redis_answered, generation = True, None
    if post_pages.can_keep(request):
        try:
            generation = post_pages.generation_to_keep_under(request)
        except redis.RedisError:
            redis_answered = False
    post = selectors.published_post(slug)
    if post is None:
        raise Http404("No such post.")
    if counted:
        views = services.record_view(post, try_redis=redis_answered)
    else:
        views = services.current_view_count(post, try_redis=redis_answered)
    response = render(request, "publisher/post_detail.html", {"post": post, "views": views})
    if generation is not None:
        post_pages.keep(slug, post=post, views=views, response=response, generation=generation)
    return response


@csrf_exempt  # RFC 8058 one-click POSTs come from mail clients, with no session; the signed token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    user_id = read_unsubscribe_token(token)
    if user_id is None:
        return render(request, "publisher/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        reports.turn_off_reports(user_id=user_id)
        if request.user.is_authenticated and request.user.pk == user_id:
            messages.success(request, "Daily reports are turned off. You can turn them on again here.")
            return redirect("account")
        return render(request, "publisher/unsubscribe_done.html")
    return render(request, "publisher/unsubscribe_confirm.html")
