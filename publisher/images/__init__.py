"""Post images: uploads accepted by their content and stored without EXIF (validation, uploads), renditions made by
the workers (renditions, tasks), the pictures pages and feeds show (pictures), and files deleted when no image needs
them (files)."""

from .files import sweep_orphan_files
from .pictures import PostPictures, cover_enclosures, cover_of, post_pictures, thumbnail_html
from .renditions import make_renditions
from .uploads import (
    ImageUploadField,
    after_image_deleted,
    after_image_saved,
    attach,
    before_image_saved,
    markdown_snippet,
    save_cover,
)
from .validation import CleanImageFile, InvalidImage, clean_upload

__all__ = [
    "CleanImageFile",
    "ImageUploadField",
    "InvalidImage",
    "PostPictures",
    "after_image_deleted",
    "after_image_saved",
    "attach",
    "before_image_saved",
    "clean_upload",
    "cover_enclosures",
    "cover_of",
    "make_renditions",
    "markdown_snippet",
    "post_pictures",
    "save_cover",
    "sweep_orphan_files",
    "thumbnail_html",
]
