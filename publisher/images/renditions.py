"""Renditions: each image at the widths of IMAGE_RENDITION_WIDTHS narrower than itself, as WebP and in its own
format, without EXIF and upright. Made by a worker after the upload's commit (.tasks), from the stored original.

Made once, however often the task runs: each rendition has one name (names.RenditionSpec), written over by a run
after a worker died midway, and the image records its renditions only when all are stored. A run that finds its
image deleted or replaced once done deletes what it made."""

import logging
import warnings

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from PIL import Image, ImageOps

from .. import page_cache
from ..models import PostImage
from .names import RenditionSpec, format_of
from .validation import encode

logger = logging.getLogger(__name__)


def specs_of(width, image_format):
    """The renditions of an image `width` pixels wide in `image_format`, widest first."""
    formats = ["WEBP"] if image_format == "WEBP" else ["WEBP", image_format]
    widths = sorted((w for w in settings.IMAGE_RENDITION_WIDTHS if w < width), reverse=True)
    return [RenditionSpec(w, f) for w in widths for f in formats]


def make_renditions(image_id):
    """Make and record the renditions of the image `image_id`; the renditions recorded (None if it is gone)."""
    image = PostImage.objects.select_related("post").only("file", "width", "post__slug").filter(pk=image_id).first()
    if image is None:
        return None
    original = image.file.name
    specs = specs_of(image.width, format_of(original))
    made = store_renditions(image, specs) if specs else []
    if not PostImage.objects.filter(pk=image_id, file=original).update(renditions=made):
        logger.info("Image %s was deleted or replaced while its renditions were made: deleting them", image_id)
        for rendition in made:
            image.file.storage.delete(rendition["name"])
        return None
    page_cache.invalidate_pages_on_commit([image.post.slug])
    return made


def store_renditions(image, specs):
    storage, original = image.file.storage, image.file.name
    made = []
    with warnings.catch_warnings(), storage.open(original, "rb") as file, Image.open(file) as source:
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked at upload
        source.draft("RGB", (specs[0].width, 1))  # a JPEG decoded at the scale the widest rendition needs
        upright = resizable(ImageOps.exif_transpose(source))
        for width in sorted({spec.width for spec in specs}, reverse=True):
            resized = upright.resize((width, max(1, round(upright.height * width / upright.width))), Image.LANCZOS)
            for spec in (spec for spec in specs if spec.width == width):
                name = spec.name_beside(original)
                store_over(storage, name, encode(resized, spec.image_format))
                made.append({"name": name, "width": width, "height": resized.height, "format": spec.image_format})
    return made


def resizable(image):
    """Palette and bilevel images are resized through RGB(A): Pillow resizes them without smoothing."""
    if image.mode in ("P", "1", "LA", "PA"):
        return image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
    return image


def store_over(storage, name, content):
    """Store `content` at `name`, over what an earlier run stored there."""
    stored = storage.save(name, ContentFile(content))
    if stored != name:
        storage.delete(stored)
        raise ImproperlyConfigured(f"The storage kept {name} and stored {stored} beside it: it must overwrite files")
