"""Files that no image needs any more: deleted once the transaction that let go of them commits (a deleted image,
post or author, a replaced image), and swept by a periodic task when that was missed (a worker or web process that
died between a commit and the deletion, an upload whose transaction rolled back)."""

import functools
import logging
import os
import posixpath

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ..models import IMAGES_FOLDER, PostImage
from .names import format_of, names_of
from .renditions import specs_of

logger = logging.getLogger(__name__)


def every_possible_name(image):
    """The image's files, the renditions not recorded yet (a task may be making them) included."""
    original = image.file.name
    return {*names_of(image), *(spec.name_beside(original) for spec in specs_of(image.width, format_of(original)))}


def delete_files_on_commit(names, *, using=None):
    transaction.on_commit(functools.partial(delete_files, sorted(names)), using=using)


def delete_files(names):
    for name in names:
        default_storage.delete(name)
    for folder in {posixpath.dirname(name) for name in names}:
        remove_empty_folder(folder)


def remove_empty_folder(folder):
    """On disk, an image's folder goes with its last file (a bucket has no folders)."""
    try:
        os.rmdir(default_storage.path(folder))
    except (NotImplementedError, OSError):  # not on disk, or not empty
        pass


def files_of_deleted_image(image, *, using=None):
    """After an image row is deleted, in its transaction: its files go once that commits."""
    if image.file.name:
        delete_files_on_commit(every_possible_name(image), using=using)


def files_replaced_by_save(image, *, using=None):
    """Before an image row is saved, in its transaction: if it gets another file, the previous file and its
    renditions go once that commits, and the new file's renditions are to be made (none is recorded)."""
    if image.pk is None:
        return
    stored = PostImage.objects.using(using).filter(pk=image.pk).only("file", "width", "renditions").first()
    if stored is not None and stored.file.name != image.file.name:
        image.renditions = None
        delete_files_on_commit(every_possible_name(stored), using=using)


def stored_names(folder):
    """Every file under `folder` in the default storage."""
    directories, files = default_storage.listdir(folder)
    for file in files:
        yield f"{folder}/{file}"
    for directory in directories:
        yield from stored_names(f"{folder}/{directory}")


def sweep_orphan_files(*, now=None):
    """Delete the files under the images folder that no image records, once older than IMAGE_ORPHAN_MIN_AGE (an
    upload not committed yet, renditions being made, are not orphans). Returns how many were deleted."""
    cutoff = (now or timezone.now()) - settings.IMAGE_ORPHAN_MIN_AGE
    try:
        stored = list(stored_names(IMAGES_FOLDER))
    except FileNotFoundError:  # on disk, before the first upload (a bucket lists nothing instead)
        return 0
    kept = set()
    for image in PostImage.objects.only("file", "renditions").iterator():
        kept.update(names_of(image))
    orphans = [name for name in stored if name not in kept and default_storage.get_modified_time(name) < cutoff]
    delete_files(orphans)
    logger.info("Swept %s orphan image file(s)", len(orphans))
    return len(orphans)


def images_without_renditions(*, now=None):
    """Images that still have no renditions well after their upload (IMAGE_ORPHAN_MIN_AGE)."""
    cutoff = (now or timezone.now()) - settings.IMAGE_ORPHAN_MIN_AGE
    return list(PostImage.objects.filter(renditions__isnull=True, created_at__lt=cutoff).values_list("pk", flat=True))
