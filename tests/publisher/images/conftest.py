import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from publisher import images
from publisher.models import PostImage
from tests.support.images import photo
from tests.support.project import celery_app


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """The default storage in a folder of this test's own: what it stores is all there is."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def no_renditions_left_queued():
    """A test whose commit callbacks run without a worker queues renditions that nobody takes: dropped after it, so
    that a later test waiting for an empty queue (smtp_server.settle) does not wait for them."""
    yield
    celery_app.control.purge()


def stored_files(media):
    """Every file in storage, by its name there."""
    return sorted(str(path.relative_to(media)) for path in media.rglob("*") if path.is_file())


def image_of(post, data=None, *, role=PostImage.Role.COVER, alt="A cover", name="photo.jpg"):
    """A post's image as the admin stores it: cleaned as an upload, saved with the post."""
    image = PostImage(post=post, role=role, alt=alt)
    images.attach(image, images.clean_upload(SimpleUploadedFile(name, data or photo(2000, 1200))))
    image.save()
    return image
