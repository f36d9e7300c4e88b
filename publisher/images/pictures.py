"""Images on pages and in feeds: a post's cover and the images of its body as <picture>s, WebP beside the original's
format, at every width made (`srcset`, `sizes`), with the width and height that keep the page from shifting as they
load. Until its renditions are made, an image is its stored original alone.

The post page reads its post's images with the post (selectors.published_post), so a cached page holds them."""

import html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.feedgenerator import Enclosure
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from ..models import PostImage
from .names import format_of, media_type_of

# The post column (main/static/main/site.css: .container) is at most 46rem wide, padding included.
COLUMN_SIZES = "(max-width: 46rem) calc(100vw - 2rem), 44rem"
THUMBNAIL_SIZES = "8rem"
IMG_TAG = re.compile(r"<img\s[^>]*>")
ATTRIBUTE = re.compile(r'([a-z]+)="([^"]*)"')  # as nh3 writes them: lower case, double-quoted, escaped


@dataclass(frozen=True)
class PostPictures:
    """What a post page shows of its images: its cover, and its body with each of its images as a picture."""

    cover: SafeString
    body: SafeString


def images_of(post):
    return list(post.images.all())  # prefetched with the post where a page shows it


def cover_of(post):
    return next((image for image in images_of(post) if image.role == PostImage.Role.COVER), None)


def post_pictures(post):
    cover = cover_of(post)
    cover_html = picture_html(cover, sizes=COLUMN_SIZES, lazy=False) if cover else mark_safe("")
    return PostPictures(cover=cover_html, body=body_with_pictures(post.content_html, images_of(post)))


def thumbnail_html(post):
    """The cover of a post in a list of posts, small; empty without one."""
    cover = cover_of(post)
    return picture_html(cover, sizes=THUMBNAIL_SIZES, lazy=True, css_class="thumbnail") if cover else mark_safe("")


def body_with_pictures(content_html, images):
    """The post's sanitized HTML, each <img> of one of its own images (the snippet the admin gives) made a picture,
    loaded lazily. Other images are left as they are."""
    by_url = {image.file.url: image for image in images}

    def picture(match):
        attributes = {name: html.unescape(value) for name, value in ATTRIBUTE.findall(match.group(0))}
        image = by_url.get(attributes.get("src"))
        if image is None:
            return match.group(0)
        return picture_html(image, sizes=COLUMN_SIZES, lazy=True, alt=attributes.get("alt"))

    return mark_safe(IMG_TAG.sub(picture, content_html))


def srcset(image, renditions, *, with_original):
    storage = image.file.storage
    candidates = [(storage.url(rendition["name"]), rendition["width"]) for rendition in renditions]
    if with_original:
        candidates.append((image.file.url, image.width))
    return ", ".join(f"{url} {width}w" for url, width in sorted(candidates, key=lambda candidate: candidate[1]))


def picture_html(image, *, sizes, lazy, alt=None, css_class=""):
    """An image as a <picture>: WebP renditions for the browsers that take them, else the original's format."""
    own_format = format_of(image.file.name)
    renditions = image.renditions or []
    own = [rendition for rendition in renditions if rendition["format"] == own_format]
    webp = [rendition for rendition in renditions if rendition["format"] == "WEBP" and own_format != "WEBP"]
    img = format_html(
        '<img src="{}"{} width="{}" height="{}" alt="{}"{} decoding="async">',
        image.file.url,
        format_html(' srcset="{}" sizes="{}"', srcset(image, own, with_original=True), sizes) if own else "",
        image.width,
        image.height,
        image.alt if alt is None else alt,
        mark_safe(' loading="lazy"') if lazy else "",
    )
    webp_srcset = srcset(image, webp, with_original=False)
    source = format_html('<source type="image/webp" srcset="{}" sizes="{}">', webp_srcset, sizes) if webp else ""
    return format_html('<picture class="{}">{}{}</picture>', css_class or "image", source, img)


def absolute_url(url):
    return url if urlsplit(url).scheme else f"{settings.SITE_URL}{url}"


def cover_enclosures(post):
    """A post's cover as a feed item's enclosure (its stored original); none without one."""
    cover = cover_of(post)
    if cover is None:
        return []
    return [Enclosure(absolute_url(cover.file.url), str(cover.size), media_type_of(cover.file.name))]
