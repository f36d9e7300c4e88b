"""Images coming in: the upload field of the post form (only what validation accepts is kept), the cover saved
with its post, and what follows when an image row is saved or deleted (its renditions made, its old files deleted,
its post's page rendered again), each after the commit."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

from quick_publisher.queueing import queue_after_commit

from .. import page_cache
from ..models import Post, PostImage
from . import files, tasks
from .validation import FORMATS, CleanImageFile, InvalidImage, clean_upload


class ImageUploadField(forms.FileField):
    """An image upload: cleaned to a CleanImageFile, or a form error saying why it is refused. Otherwise the field's
    value is the stored file (nothing uploaded), False (cleared) or None (empty)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", ",".join(media_type for _, media_type in FORMATS.values()))

    def clean(self, data, initial=None):
        value = super().clean(data, initial)
        if not isinstance(value, UploadedFile):
            return value
        try:
            return clean_upload(value)
        except InvalidImage as exc:
            raise ValidationError(str(exc), code="invalid_image") from None


def attach(image, clean_file):
    """Give an image row a cleaned upload (stored with the row), with its size."""
    image.file = clean_file
    image.width, image.height, image.size = clean_file.width, clean_file.height, clean_file.size


def save_cover(post, *, upload, alt):
    """The post form's cover (ImageUploadField's value): a new image (the one it replaces is deleted after the
    commit), removed (False), or the one there was (its file or None) with its alt text."""
    cover = post.images.filter(role=PostImage.Role.COVER).first()
    if upload is False:
        if cover is not None:
            cover.delete()
        return None
    if isinstance(upload, CleanImageFile):
        cover = cover or PostImage(post=post, role=PostImage.Role.COVER)
        attach(cover, upload)
    elif cover is None or cover.alt == alt:
        return cover
    cover.alt = alt
    cover.save()
    return cover


def markdown_snippet(image):
    """What an author pastes into the content to show the image there."""
    alt = image.alt.replace("[", "").replace("]", "")
    return f"![{alt}]({image.file.url})"


# --- After an image row changes (publisher.signals) -------------------------------------------------------------


def before_image_saved(image, *, using=None):
    files.files_replaced_by_save(image, using=using)


def after_image_saved(image, *, using=None):
    if image.renditions is None:
        queue_after_commit(tasks.make_renditions, image.pk)
    page_cache.invalidate_pages_on_commit([image.post.slug], using=using)


def after_image_deleted(image, *, using=None):
    files.files_of_deleted_image(image, using=using)
    slugs = Post.objects.using(using).filter(pk=image.post_id).values_list("slug", flat=True)
    page_cache.invalidate_pages_on_commit(list(slugs), using=using)
