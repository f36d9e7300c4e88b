from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch
from taggit.models import Tag

from .models import Post, PostImage

# What the public pages show of a post's author: their name, linked to their page.
SHOWN_AUTHOR_FIELDS = ("author__full_name", "author__slug")
# What a list of posts (home, author and tag pages) shows of each post and its author.
LISTED_POST_FIELDS = ("title", "slug", "excerpt", "published_at", "view_count", *SHOWN_AUTHOR_FIELDS)


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
        *SHOWN_AUTHOR_FIELDS,
        "author__time_zone",
    )  # the zone: a view is counted on the author's day
    return with_images(published_posts().filter(slug=slug).only(*fields).prefetch_related("tags")).first()


def published_posts_by(author):
    return published_posts().filter(author=author)


def published_posts_tagged(tag):
    return published_posts().filter(tags=tag)


def authors_with_published_posts():
    """Users with a published post: the only ones with an author page (nobody else's name is made public)."""
    published = Post.objects.filter(author=OuterRef("pk"), status=Post.Status.PUBLISHED)
    return get_user_model().objects.filter(Exists(published)).only("full_name", "slug").order_by("slug")


def tags_with_published_posts():
    """Tags of a published post: a tag only drafts carry is not public (its name could give a draft away)."""
    published = Post.objects.filter(tags=OuterRef("pk"), status=Post.Status.PUBLISHED)
    return Tag.objects.filter(Exists(published)).order_by("slug")


def author_with_slug(slug):
    return authors_with_published_posts().filter(slug=slug).first()


def tag_with_slug(slug):
    return tags_with_published_posts().filter(slug=slug).first()


def slugs_of_posts_tagged(tag):
    return list(Post.objects.filter(tags=tag).values_list("slug", flat=True))


def with_images(posts, *, roles=tuple(PostImage.Role)):
    """Posts with their images of these roles, in one query for them all (post.images.all())."""
    return posts.prefetch_related(Prefetch("images", queryset=PostImage.objects.filter(role__in=roles)))


def with_covers(posts):
    return with_images(posts, roles=[PostImage.Role.COVER])
