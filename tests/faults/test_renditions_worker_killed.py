"""A worker SIGKILLed while it makes an image's renditions: the next worker makes them again, and each rendition is
stored once (the same names, written over) and recorded once.

The worker runs in a subprocess on the test database, the session's Redis and this test's media folder. It is
killed as soon as its first rendition is in storage, before it could record them."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from publisher import images
from publisher.models import PostImage
from tests.factories import PostFactory
from tests.support.brokers import broker_is_amqp
from tests.support.images import photo
from tests.support.waiting import wait_until

VISIBILITY_TIMEOUT = 1  # on Redis, a worker that starts restores a task held this long by a dead one


def stored_files(media):
    return sorted(str(path.relative_to(media)) for path in media.rglob("*") if path.is_file())


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_making_renditions_leaves_each_made_once_by_the_next(
    worker_processes, settings, tmp_path
):
    settings.MEDIA_ROOT = media = tmp_path / "media"
    worker_settings = {"MEDIA_ROOT": media, "CELERY_VISIBILITY_TIMEOUT": VISIBILITY_TIMEOUT}
    doomed = worker_processes("doomed", pool="solo", **worker_settings)

    image = PostImage(post=PostFactory(), role=PostImage.Role.COVER, alt="Large")
    # Large enough that its six renditions take the worker a while; its renditions are queued once it is saved.
    images.attach(image, images.clean_upload(SimpleUploadedFile("large.png", photo(6000, 4000, image_format="PNG"))))
    image.save()
    first = media / image.file.name.replace("original.png", "1600w.webp")
    wait_until(first.exists, timeout=60, interval=0.005)
    doomed.kill()
    image.refresh_from_db()
    assert image.renditions is None, "the worker finished before it was killed"
    partial = stored_files(media)
    assert 1 < len(partial) < 7, partial  # the original and some of its renditions

    if not broker_is_amqp():
        time.sleep(VISIBILITY_TIMEOUT + 0.1)
    worker_processes("successor", pool="solo", **worker_settings)
    wait_until(lambda: PostImage.objects.get(pk=image.pk).renditions is not None, timeout=60)

    image.refresh_from_db()
    names = [rendition["name"] for rendition in image.renditions]
    assert len(names) == len(set(names)) == 6
    assert stored_files(media) == sorted([image.file.name, *names])  # each once: nothing beside them
    assert set(partial) <= set(stored_files(media))
