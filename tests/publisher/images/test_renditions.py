"""Renditions, made by a real Celery worker after the upload's commit: every width narrower than the original, as
WebP and in the original's format, none with EXIF, all upright."""

import io

import pytest
from PIL import Image

from publisher.models import Post, PostImage
from tests.factories import AuthorFactory
from tests.publisher.images.conftest import stored_files
from tests.publisher.images.test_uploads import post_form, upload
from tests.support.images import exif_of, photo
from tests.support.waiting import wait_until


def renditions_recorded(image):
    def recorded():
        image.refresh_from_db()
        return image.renditions is not None

    return recorded


@pytest.mark.django_db(transaction=True)
def test_a_photo_with_a_gps_position_gets_renditions_without_exif_in_every_width_and_format(
    client, celery_worker, media
):
    client.force_login(AuthorFactory())
    sideways = photo(1200, 2000, orientation=6, gps=True)  # upright, 2000 × 1200
    response = post_form(client, cover=upload("photo.jpg", sideways), status="published")
    assert response.status_code == 302
    cover = PostImage.objects.get()
    wait_until(renditions_recorded(cover), timeout=60)

    made = {(rendition["width"], rendition["format"]): rendition for rendition in cover.renditions}
    assert sorted(made) == [(width, f) for width in (480, 960, 1600) for f in ("JPEG", "WEBP")]
    for (width, image_format), rendition in made.items():
        data = cover.file.storage.open(rendition["name"]).read()
        with Image.open(io.BytesIO(data)) as image:
            assert (image.format, image.size) == (image_format, (width, rendition["height"]))
            assert image.size == (width, round(1200 * width / 2000))  # upright: wider than high, as the original
        assert exif_of(data) == ({}, {}, False), rendition["name"]
    # Each once: the original and its six renditions, nothing else.
    assert stored_files(media) == sorted([cover.file.name, *(r["name"] for r in cover.renditions)])
    assert Post.objects.get().images.count() == 1
