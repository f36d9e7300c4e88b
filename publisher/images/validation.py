"""What an upload must be to be accepted: an image that Pillow opens and verifies as JPEG, PNG, WebP or GIF by its
content (whatever its name says), within IMAGE_MAX_BYTES and IMAGE_MAX_PIXELS. What is kept is that image again,
with its orientation applied and without its EXIF (a photo's GPS position above all), since the original is served
until its renditions exist."""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.template.defaultfilters import filesizeformat
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow's format name: the extension stored files get, and the type they are served as.
FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
READABLE = "a JPEG, PNG, WebP or GIF image"
DAMAGED = f"The file is not {READABLE} (SVG is not accepted), or it is damaged."
# What an encoded image keeps of what its reader found: how to show it, nothing about where or by whom it was made.
KEPT_INFO = ("icc_profile", "transparency", "duration", "loop", "background", "dpi")
# The upload's request waits for its encoding: zlib's fastest level, for a PNG a little larger than the default's
# (docs/benchmarks.md). Renditions, made by a worker, take the default.
UPLOAD_PNG_COMPRESS_LEVEL = 1


class InvalidImage(Exception):
    """Why an upload is refused, in words an author can act on."""


class CleanImageFile(ContentFile):
    """An accepted upload, ready to be stored: the image without EXIF, named by the format of its content."""

    def __init__(self, content, *, image_format, width, height):
        super().__init__(content, name=f"upload.{FORMATS[image_format][0]}")
        self.image_format = image_format
        self.width = width
        self.height = height


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int

    @classmethod
    def from_settings(cls):
        return cls(settings.IMAGE_MAX_BYTES, settings.IMAGE_MAX_PIXELS)


def clean_upload(upload, limits=None):
    """The upload as it will be stored (a CleanImageFile), or InvalidImage saying why it is refused."""
    limits = limits or Limits.from_settings()
    if upload.size > limits.max_bytes:
        raise InvalidImage(
            f"The file is {filesizeformat(upload.size)}: images may be up to {filesizeformat(limits.max_bytes)}."
        )
    data = read_all(upload)
    image_format, width, height = verified_header(data, limits)
    try:
        content, (width, height) = without_metadata(data, image_format)
    except (OSError, SyntaxError, ValueError):
        raise InvalidImage(DAMAGED) from None
    return CleanImageFile(content, image_format=image_format, width=width, height=height)


def read_all(upload):
    upload.seek(0)
    return b"".join(upload.chunks())


def verified_header(data, limits):
    """The format and size the content declares, checked before a pixel is decoded, then the whole file verified."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own, lower, limit is checked below
        try:
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
                check_format_and_pixels(image_format, width, height, limits)
                image.verify()
        except Image.DecompressionBombError:
            raise InvalidImage(
                f"The image has too many pixels: images may have up to {limits.max_pixels:,} pixels."
            ) from None
        except (UnidentifiedImageError, SyntaxError, OSError, ValueError):
            raise InvalidImage(DAMAGED) from None
    return image_format, width, height


def check_format_and_pixels(image_format, width, height, limits):
    if image_format not in FORMATS:
        raise InvalidImage(f"The file is a {image_format} image: upload {READABLE}.")
    if width * height > limits.max_pixels:
        raise InvalidImage(
            f"The image is {width:,} × {height:,} pixels ({width * height:,}): images may have up to "
            f"{limits.max_pixels:,} pixels."
        )


def without_metadata(data, image_format):
    """(content, (width, height)): the image encoded again without EXIF (nor XMP, comments), turned as its EXIF
    orientation said; its colour profile is kept. Animated images keep their frames (they are not turned: GIF and
    WebP animations carry no orientation in practice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every byte: a truncated file fails here, as an InvalidImage (see clean_upload)
            fast = {"png_compress_level": UPLOAD_PNG_COMPRESS_LEVEL}
            if getattr(image, "n_frames", 1) > 1:
                return encode(image, image_format, save_all=True, **fast), image.size
            upright = ImageOps.exif_transpose(image)
            return encode(upright, image_format, **fast), upright.size


def encode(image, image_format, *, png_compress_level=6, **options):
    """`image` in `image_format`, with none of its metadata but what shows it (its colour profile, transparency,
    frame timing)."""
    out = io.BytesIO()
    image.info = {key: value for key, value in image.info.items() if key in KEPT_INFO}
    if image_format == "JPEG":
        options.update(quality=90)  # optimize=True would take ten times as long for a few per cent
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
    elif image_format == "PNG":
        options.update(compress_level=png_compress_level)
    elif image_format == "WEBP":
        options.update(quality=85)
    image.save(out, format=image_format, exif=b"", xmp=b"", **options)
    return out.getvalue()
