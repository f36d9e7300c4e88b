"""How a post page describes itself to search engines and social sites: its canonical link, Open Graph and
Twitter card tags (templates/publisher/_sharing.html) and a JSON-LD `BlogPosting`, all from one `SharingCard`.

Every URL is absolute, built from SITE_URL, never from the request's Host. The author appears by name only, never
by email address. The card is part of the page's HTML, so a page served from the post page cache carries it.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from quick_publisher.emails import absolute_url

SITE_NAME = "Quick Publisher"
# A JSON string can spell any character as \uXXXX: these three, spelled so, cannot close the <script> element
# or be read as markup, whatever a title holds (as django.utils.html.json_script does).
JSON_IN_HTML = str.maketrans({"<": "\\u003C", ">": "\\u003E", "&": "\\u0026"})


@dataclass(frozen=True)
class SharedImage:
    url: str  # absolute
    width: int
    height: int
    alt: str


@dataclass(frozen=True)
class SharingCard:
    url: str  # the canonical one
    title: str
    description: str
    author_name: str  # "" when the author has given no name
    published_at: datetime
    modified_at: datetime
    image: SharedImage | None = None  # the cover image, once posts have one

    @property
    def twitter_card(self):
        return "summary_large_image" if self.image else "summary"

    def blog_posting(self):
        """The JSON-LD (schema.org) description of the post."""
        posting = {
            "@context": "https://schema.org",
            "@type": "BlogPosting",
            "headline": self.title,
            "description": self.description,
            "url": self.url,
            "mainEntityOfPage": self.url,
            "datePublished": self.published_at.isoformat(),
            "dateModified": self.modified_at.isoformat(),
        }
        if self.author_name:
            posting["author"] = {"@type": "Person", "name": self.author_name}
        if self.image:
            posting["image"] = {
                "@type": "ImageObject",
                "url": self.image.url,
                "width": self.image.width,
                "height": self.image.height,
            }
        return posting

    def json_ld(self) -> SafeString:
        """The BlogPosting as the text of a <script type="application/ld+json"> element."""
        return mark_safe(json.dumps(self.blog_posting(), ensure_ascii=False).translate(JSON_IN_HTML))


def sharing_card(post, *, cover=None):
    """A published post's card, with its cover image (a PostImage) if it has one. Its description is the post's
    excerpt: its description, else its opening words."""
    return SharingCard(
        url=absolute_url("post_detail", args=[post.slug]),
        title=post.title,
        description=post.excerpt,
        author_name=post.author.full_name,
        published_at=post.published_at,
        modified_at=max(post.updated_at, post.published_at),
        image=shared_image(cover) if cover else None,
    )


def shared_image(cover):
    """The stored original (EXIF stripped at upload): its size is known, and a bucket's address is already absolute."""
    url = cover.file.url
    absolute = url if urlsplit(url).scheme else f"{settings.SITE_URL}{url}"
    return SharedImage(url=absolute, width=cover.width, height=cover.height, alt=cover.alt)
