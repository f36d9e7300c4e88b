"""No file outlives what it belongs to: a deleted post's images, a replaced cover's file and renditions go after
the commit, and the sweep deletes what was missed."""

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from publisher import images, periodic_tasks
from publisher.models import Post, PostImage
from publisher.posts import delete_posts
from tests.factories import AuthorFactory, PostFactory
from tests.publisher.images.conftest import image_of, stored_files
from tests.publisher.images.test_uploads import post_form, upload
from tests.support.admin_forms import admin_form_data
from tests.support.images import photo
from tests.support.project import celery_app
from tests.support.waiting import wait_until


@pytest.mark.django_db
def test_deleting_a_post_deletes_its_images_files_once_committed(media, django_capture_on_commit_callbacks):
    post, kept = PostFactory(), PostFactory()
    for image in (image_of(post), image_of(post, role=PostImage.Role.BODY), image_of(kept)):
        images.make_renditions(image.pk)
    before = stored_files(media)
    assert len(before) == 3 * 7  # each original and its six renditions

    with django_capture_on_commit_callbacks() as callbacks:
        delete_posts(posts=Post.objects.filter(pk=post.pk))
    assert stored_files(media) == before  # nothing deleted before the commit
    for callback in callbacks:
        callback()
    kept_image = PostImage.objects.get()
    assert stored_files(media) == sorted([kept_image.file.name, *(r["name"] for r in kept_image.renditions)])
    assert sorted(path.name for path in (media / "images").iterdir()) == [kept_image.file.name.split("/")[1]]


@pytest.mark.django_db
def test_replacing_the_cover_in_the_post_form_deletes_the_old_files(client, media, django_capture_on_commit_callbacks):
    author = AuthorFactory()
    client.force_login(author)
    post_form(client, cover=upload("first.jpg", photo(2000, 1200)))
    post = Post.objects.get()
    images.make_renditions(post.images.get().pk)
    url = f"/admin/publisher/post/{post.pk}/change/"
    data = admin_form_data(client.get(url))
    data.update(cover_image=upload("second.png", photo(900, 600, image_format="PNG")), cover_alt="Second")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    cover = post.images.get()
    assert (cover.alt, cover.width, cover.file.name.endswith(".png")) == ("Second", 900, True)
    assert stored_files(media) == [cover.file.name]  # its renditions are to be made; the first cover's are gone


@pytest.mark.django_db
def test_the_sweep_deletes_old_files_no_image_records_and_nothing_else(media, settings):
    image = image_of(PostFactory())
    images.make_renditions(image.pk)
    recorded = stored_files(media)
    old_orphan = default_storage.save("images/abandoned/original.jpg", ContentFile(b"left by a rolled-back upload"))
    stray_rendition = image.file.name.replace("original.jpg", "123w.webp")
    default_storage.save(stray_rendition, ContentFile(b"a rendition of a width no longer made"))
    young_orphan = default_storage.save("images/uploading/original.jpg", ContentFile(b"its transaction is open"))
    an_hour_and_more_ago = time.time() - settings.IMAGE_ORPHAN_MIN_AGE.total_seconds() - 60
    for name in (old_orphan, stray_rendition, *recorded):
        os.utime(default_storage.path(name), (an_hour_and_more_ago, an_hour_and_more_ago))

    assert images.sweep_orphan_files() == 2
    assert stored_files(media) == sorted([*recorded, young_orphan])
    assert not (media / "images" / "abandoned").exists()
    settings.IMAGE_ORPHAN_MIN_AGE = timedelta(0)
    assert images.sweep_orphan_files() == 1 and stored_files(media) == recorded


@pytest.mark.django_db(transaction=True)
def test_the_stored_periodic_sweep_run_as_beat_sends_it_deletes_orphans_and_makes_missing_renditions(
    media, settings, celery_worker
):
    image = image_of(PostFactory())
    wait_until(lambda: PostImage.objects.get(pk=image.pk).renditions is not None, timeout=60)
    # An image whose renditions task was lost (the broker was down when it was queued), uploaded a while ago.
    lost = image_of(PostFactory())
    wait_until(lambda: PostImage.objects.get(pk=lost.pk).renditions is not None, timeout=60)
    for name in PostImage.objects.get(pk=lost.pk).renditions:
        default_storage.delete(name["name"])
    a_while_ago = timezone.now() - settings.IMAGE_ORPHAN_MIN_AGE - timedelta(minutes=1)
    PostImage.objects.filter(pk=lost.pk).update(renditions=None, created_at=a_while_ago)
    orphan = default_storage.save("images/abandoned/original.jpg", ContentFile(b"left by a rolled-back upload"))
    os.utime(default_storage.path(orphan), (a_while_ago.timestamp(), a_while_ago.timestamp()))

    stored = PeriodicTask.objects.get(name=periodic_tasks.IMAGE_SWEEP)
    assert stored.enabled and stored.task == "publisher.images.tasks.sweep_images"
    beat = DatabaseScheduler(app=celery_app, lazy=True)
    result = beat.apply_async(beat.Entry(stored, app=celery_app), advance=False)
    assert result.get(timeout=30) == {"orphans_deleted": 1, "renditions_queued": 1}
    wait_until(lambda: PostImage.objects.get(pk=lost.pk).renditions is not None, timeout=60)
    assert not default_storage.exists(orphan)
    lost.refresh_from_db()
    assert all(default_storage.exists(rendition["name"]) for rendition in lost.renditions)
