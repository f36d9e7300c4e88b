from django.urls.converters import SlugConverter

from .posts import RESERVED_SLUGS


class PostSlugConverter(SlugConverter):
    """A post's slug: any slug but the site's own top-level words, so the post page can be tried first."""

    def to_python(self, value):
        if value in RESERVED_SLUGS:
            raise ValueError(f"{value!r} is one of the site's own URLs")
        return value
