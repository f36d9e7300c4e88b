from django.db.models import Prefetch

from .models import Post, PostImage


def published_posts():
    return Post.objects.filter(status=Post.Status.PUBLISHED).select_related("author").order_by("-published_at", "-pk")


def published_post(slug):
    """The post a post page shows, with only what the page reads (it is kept in the post page cache)."""
    fields = (
        "title",
        "slug",
        "content_html",
        "status",
        "published_at",
        "updated_at",
        "view_count",
        "author__full_name",
        "author__email",
        "author__time_zone",
    )  # the zone: a view is counted on the author's day
    return with_images(published_posts().filter(slug=slug).only(*fields)).first()


def with_images(posts, *, roles=tuple(PostImage.Role)):
    """Posts with their images of these roles, in one query for them all (post.images.all())."""
    return posts.prefetch_related(Prefetch("images", queryset=PostImage.objects.filter(role__in=roles)))


def with_covers(posts):
    return with_images(posts, roles=[PostImage.Role.COVER])
