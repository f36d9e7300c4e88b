"""Where an image's files are in storage: the original in a folder of its own (publisher.models.post_image_name), its
renditions beside it under names made from their width and format, the same each time they are made."""

from dataclasses import dataclass
from posixpath import dirname

from .validation import FORMATS


@dataclass(frozen=True)
class RenditionSpec:
    """One rendition of an image: a width and a format (Pillow's name)."""

    width: int
    image_format: str

    def name_beside(self, original_name):
        return f"{dirname(original_name)}/{self.width}w.{FORMATS[self.image_format][0]}"


def format_of(name):
    """The format of a stored file, from the extension it was given by its content's format."""
    extension = name.rpartition(".")[2]
    return next(image_format for image_format, (ext, _) in FORMATS.items() if ext == extension)


def media_type_of(name):
    return FORMATS[format_of(name)][1]


def names_of(image):
    """Every file of an image that is recorded: its original and its renditions."""
    return [image.file.name, *(rendition["name"] for rendition in image.renditions or [])]
