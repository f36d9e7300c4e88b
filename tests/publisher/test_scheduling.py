"""Scheduled posts: invisible until their time, then published once by the periodic task on the real worker, and
once when two publishers run at the same moment (PostgreSQL)."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from publisher import periodic_tasks
from publisher.models import Post
from publisher.posts import publish_due_posts
from quick_publisher.celery import app as celery_app
from tests.factories import AuthorFactory, DraftFactory, UserFactory
from tests.support.admin_forms import POST_FORM
from tests.support.queries import waiting_at_first_select_of

ADD = "/admin/publisher/post/add/"


def schedule_form(when):
    local = timezone.localtime(when)
    return {
        **POST_FORM,
        "status": "scheduled",
        "publish_at_0": f"{local:%Y-%m-%d}",
        "publish_at_1": f"{local:%H:%M:%S}",
    }


@pytest.mark.django_db(transaction=True)
def test_a_post_scheduled_a_minute_ahead_is_hidden_then_published_once_by_the_stored_task(client, celery_worker):
    author = AuthorFactory()
    client.force_login(author)
    publish_at = (timezone.now() + timedelta(minutes=1)).replace(microsecond=0)
    assert client.post(ADD, schedule_form(publish_at)).status_code == 302
    post = Post.objects.get()
    assert post.status == Post.Status.SCHEDULED and post.publish_at == publish_at and post.published_at is None
    client.logout()
    stored = PeriodicTask.objects.get(name=periodic_tasks.PUBLISH_SCHEDULED)
    assert stored.enabled and stored.interval.every == 60  # within a minute of its time

    def run_the_stored_task():
        return celery_app.send_task(stored.task).get(timeout=20)

    assert run_the_stored_task() == {"published": 0}  # too early
    assert client.get(f"/{post.slug}/").status_code == 404
    for page in ("/", "/feed/", "/sitemap.xml"):
        assert post.slug not in client.get(page).content.decode(), page

    # Its time comes: the clock (this process's, the worker thread's included) moves on, no waiting.
    with time_machine.travel(publish_at + timedelta(milliseconds=100), tick=True):
        assert run_the_stored_task() == {"published": 1}
        assert run_the_stored_task() == {"published": 0}  # once
        post.refresh_from_db()
        assert post.status == Post.Status.PUBLISHED and post.published_at == publish_at
        assert client.get(f"/{post.slug}/").status_code == 200
        assert post.title in client.get("/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, error",
    [
        ({"publish_at_0": "", "publish_at_1": ""}, "Choose when a scheduled post goes live."),
        ({"publish_at_0": "2026-13-45", "publish_at_1": "25:61"}, "Enter a valid date."),
        ({"publish_at_0": "2001-01-01", "publish_at_1": "10:00"}, "Choose a time in the future"),
    ],
)
def test_bad_schedules_are_form_errors(client, change, error):
    client.force_login(AuthorFactory())
    response = client.post(ADD, {**schedule_form(timezone.now() + timedelta(days=1)), **change})
    assert response.status_code == 200 and error in response.content.decode()
    assert not Post.objects.exists()


@pytest.mark.django_db
def test_an_unverified_author_cannot_schedule(client):
    from publisher.authors import make_author

    user = UserFactory(is_staff=True)
    make_author(user)
    client.force_login(user)
    response = client.post(ADD, schedule_form(timezone.now() + timedelta(days=1)))
    assert response.status_code == 200 and "verified email address" in response.content.decode()
    assert not Post.objects.exists()


@pytest.mark.django_db
def test_unscheduling_returns_the_post_to_draft_and_it_never_goes_live(client):
    author = AuthorFactory()
    post = DraftFactory(author=author, status=Post.Status.SCHEDULED, publish_at=timezone.now() + timedelta(minutes=1))
    client.force_login(author)
    client.post("/admin/publisher/post/", {"action": "unschedule", "_selected_action": [post.pk]})
    post.refresh_from_db()
    assert post.status == Post.Status.DRAFT
    assert publish_due_posts(now=timezone.now() + timedelta(minutes=2)) == 0


@pytest.mark.django_db
def test_the_time_of_a_scheduled_post_is_entered_in_the_authors_zone(client):
    author = AuthorFactory(time_zone="Asia/Kolkata")  # UTC+05:30
    client.force_login(author)
    data = {**POST_FORM, "status": "scheduled", "publish_at_0": "2099-01-01", "publish_at_1": "10:00:00"}
    assert client.post(ADD, data).status_code == 302
    post = Post.objects.get()
    assert post.publish_at.isoformat() == "2099-01-01T04:30:00+00:00"
    page = client.get(f"/admin/publisher/post/{post.pk}/change/").content.decode()
    assert 'value="10:00:00"' in page


# --- Two publishers at once --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_publishers_at_once_publish_each_due_post_once():
    """Two runs of the periodic task at the same moment (two beats, a run by hand during beat's), each in its own
    transaction on its own connection: both pick while the other's transaction is open, neither waits for the other
    (SKIP LOCKED), and each post is published by one of them."""
    now = timezone.now().replace(microsecond=0)
    authors = AuthorFactory.create_batch(3, password=None)
    due = [
        DraftFactory(author=authors[n % 3], status=Post.Status.SCHEDULED, publish_at=now - timedelta(minutes=n + 1))
        for n in range(12)
    ]
    later = DraftFactory(author=authors[0], status=Post.Status.SCHEDULED, publish_at=now + timedelta(hours=1))
    # Each publisher its own clock reading, so that the updated_at a post carries tells who published it.
    clocks = [now, now + timedelta(seconds=1)]
    barrier, waited, published, errors = threading.Barrier(2, timeout=10), [], {}, []

    def publisher(number):
        try:
            with connection.execute_wrapper(waiting_at_first_select_of("publisher_post", barrier, waited)):
                published[number] = publish_due_posts(now=clocks[number])
        except Exception as exc:  # reported below: a thread's exception would otherwise go unseen
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publisher, args=(number,)) for number in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert not waited, "a publisher waited for the other's locks instead of skipping them"
    assert sum(published.values()) == len(due), published  # each post once, between them

    for post in due:
        post.refresh_from_db()
        assert post.status == Post.Status.PUBLISHED
        assert post.published_at == post.publish_at  # its scheduled time, set once
        assert post.updated_at in clocks
    for number, clock in enumerate(clocks):
        assert Post.objects.filter(pk__in=[p.pk for p in due], updated_at=clock).count() == published[number]
    later.refresh_from_db()
    assert later.status == Post.Status.SCHEDULED and later.published_at is None
