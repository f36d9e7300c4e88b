from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch
from taggit.models import Tag

from .models import Post, PostImage

# What a list of posts (home, author and tag pages) shows of each post and its author.
LISTED_POST_FIELDS = (
    "title",
    "slug",
    "excerpt",
    "published_at",
    "view_count",
    "author__full_name",
    "author__slug",
)


def published_posts():
    return Post.objects.filter(status=Post.Status.PUBLISHED).select_related("author").order_by("-published_at", "-pk")


def listed_posts(posts):
    """Posts as a list shows them: with their authors, tags and covers, in four queries whatever the page's
    length."""
    return with_covers(posts.only(*LISTED_POST_FIELDS).prefetch_related("tags"))


def published_post(slug):
    """The post a post page shows, with only what the page reads, its tags and sharing card included (it is
    kept in the post page cache)."""
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
        "author__slug",
        "author__time_zone",
    )  # the zone: a view is counted on the author's day
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch
from taggit.models import Tag

from .models import Post, PostImage
