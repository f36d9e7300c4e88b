from .models import Post


def published_posts():
    return Post.objects.filter(status=Post.Status.PUBLISHED).select_related("author").order_by("-published_at", "-pk")


def published_post(slug):
    """The post a post page shows, with only what the page reads, its sharing card included (it is kept in the
    post page cache)."""
    fields = (
        "title",
        "slug",
        "excerpt",
        "content_html",
        "status",
        "published_at",
        "updated_at",
        "view_count",
        "author__full_name",
        "author__email",
        "author__time_zone",
    )  # the zone: a view is counted on the author's day
    return published_posts().filter(slug=slug).only(*fields).first()
