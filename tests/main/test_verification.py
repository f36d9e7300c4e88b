import re
from datetime import timedelta

import pytest
from django.utils import timezone

from main import services
from main.models import User
from main.tasks import resend_missing_verifications
from publisher import signals as publisher_signals
from tests.factories import PASSWORD, UserFactory
from tests.support.brokers import dead_broker
from tests.support.smtp import html_body, text_body
from tests.support.waiting import wait_until

SIGNUP = {"email": "new.author@example.com", "full_name": "New Author", "password1": PASSWORD, "password2": PASSWORD}
LINK = re.compile(r"http://testserver/verify/([0-9a-f-]{36})/")


def sign_up(client, **overrides):
    return client.post("/signup/", {**SIGNUP, **overrides})


def link_in(message):
    match = LINK.search(text_body(message))
    assert match, text_body(message)
    assert match.group(0) in html_body(message)
    return match.group(0).replace("http://testserver", "")


@pytest.mark.django_db(transaction=True)
def test_signup_mails_a_working_link_that_get_does_not_use_and_post_does(client, celery_worker, smtp_server):
    response = sign_up(client)
    assert response.status_code == 302 and response.url == "/signup/done/"
    user = User.objects.get(email="new.author@example.com")
    assert not user.is_verified

    [message] = smtp_server.wait_for(1)
    assert message["To"] == "new.author@example.com"
    assert message.is_multipart()
    path = link_in(message)

    wait_until(lambda: User.objects.filter(pk=user.pk, verification_sent_at__isnull=False).exists())
    assert client.get(path).status_code == 200  # a link scanner's GET
    user.refresh_from_db()
    assert not user.is_verified

    response = client.post(path)
    assert response.status_code == 302 and response.url == "/admin/publisher/post/add/"
    user.refresh_from_db()
    assert user.is_verified and user.verified_at and user.is_staff
    assert user.groups.filter(name="Authors").exists()

    # The used link cannot be replayed: its owner is told, anyone else gets a 404.
    assert "already verified" in client.get(path).content.decode()
    assert client.post(path).status_code == 200
    client.logout()
    assert client.get(path).status_code == 404
    assert len(smtp_server.settle()) == 1


@pytest.mark.django_db(transaction=True)
def test_smtp_refusing_twice_then_accepting_delivers_exactly_one_email(celery_worker, smtp_server):
    smtp_server.refuse_next(2)
    UserFactory(email="patient@example.com")
    [message] = smtp_server.wait_for(1, timeout=30)
    assert smtp_server.handler.refused == 2
    assert message["To"] == "patient@example.com"
    assert len(smtp_server.settle()) == 1


@pytest.mark.django_db(transaction=True)
def test_receiver_queues_only_on_create(celery_worker, smtp_server):
    user = UserFactory(email="once@example.com")
    smtp_server.wait_for(1)
    user.full_name = "Changed"
    user.save()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    assert len(smtp_server.settle()) == 1


@pytest.mark.django_db(transaction=True)
def test_superusers_start_verified_and_get_no_email(celery_worker, smtp_server):
    admin = User.objects.create_superuser(email="boss@example.com", full_name="Boss", password=PASSWORD)
    assert admin.is_verified
    assert smtp_server.settle() == []


@pytest.mark.django_db(transaction=True)
def test_redis_down_at_signup_then_sweeper_sends_exactly_one(client, request):
    with dead_broker():
        assert sign_up(client).status_code == 302
    user = User.objects.get(email=SIGNUP["email"])
    assert user.verification_sent_at is None
    User.objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(minutes=2))

    # Redis is back: a worker and the SMTP server come up, beat's sweeper runs (twice, for good measure).
    smtp_server = request.getfixturevalue("smtp_server")
    request.getfixturevalue("celery_worker")
    resend_missing_verifications.delay()
    resend_missing_verifications.delay()
    [message] = smtp_server.wait_for(1)
    assert message["To"] == SIGNUP["email"]
    assert len(smtp_server.settle()) == 1
    wait_until(lambda: User.objects.filter(pk=user.pk, verification_sent_at__isnull=False).exists())


@pytest.mark.django_db(transaction=True)
def test_sweeper_sends_missed_emails_exactly_once_even_when_run_twice(celery_worker, smtp_server):
    user = UserFactory(email="missed@example.com")
    smtp_server.wait_for(1)  # the normal path mailed it; now simulate a user whose email never left
    smtp_server.handler.messages.clear()
    User.objects.filter(pk=user.pk).update(verification_sent_at=None, date_joined=timezone.now() - timedelta(minutes=2))
    recent = UserFactory(email="recent@example.com")  # signed up seconds ago: left to the normal path
    smtp_server.wait_for(1)
    smtp_server.handler.messages.clear()
    User.objects.filter(pk=recent.pk).update(verification_sent_at=None)

    resend_missing_verifications.delay()
    resend_missing_verifications.delay()
    messages = smtp_server.wait_for(1)
    assert [m["To"] for m in smtp_server.settle()] == ["missed@example.com"]
    assert messages


@pytest.mark.django_db
def test_expired_link_offers_a_new_one(client):
    user = UserFactory(verification_sent_at=timezone.now() - timedelta(days=4))
    response = client.get(f"/verify/{user.verification_uuid}/")
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert client.post(f"/verify/{user.verification_uuid}/").status_code == 410
    user.refresh_from_db()
    assert not user.is_verified


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/verify/not-a-uuid/", "/verify/12345678-1234-5678-1234-567812345678/", "/verify/%00/"]
)
def test_malformed_and_unknown_links_are_404(client, path):
    assert client.get(path).status_code == 404
    assert client.post(path).status_code == 404


@pytest.mark.django_db
def test_duplicate_email_in_another_case_is_a_form_error(client):
    UserFactory(email="Taken@Example.com")
    response = sign_up(client, email="taken@example.com")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_verifying_and_becoming_an_author_happen_in_one_transaction(monkeypatch):
    user = UserFactory(email="all.or.nothing@example.com")

    def publisher_fails(user):
        raise RuntimeError("publisher could not make an author")

    monkeypatch.setattr(publisher_signals, "make_author", publisher_fails)
    with pytest.raises(RuntimeError):
        services.verify_user(token=user.verification_uuid)
    user.refresh_from_db()
    assert not user.is_verified and not user.is_staff

    monkeypatch.undo()
    assert services.verify_user(token=user.verification_uuid) == user
    user.refresh_from_db()
    assert user.is_verified and user.is_staff and user.groups.filter(name="Authors").exists()
