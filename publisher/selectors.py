from .models import Post


def published_posts():
    return Post.objects.filter(status=Post.Status.PUBLISHED).select_related("author").order_by("-published_at", "-pk")


def published_post(slug):
    return published_posts().filter(slug=slug).first()
