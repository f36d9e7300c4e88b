import re

import pytest
from django.contrib.auth.models import Group

from main.models import User
from publisher.models import ReportPreferences
from tests.factories import PASSWORD, AuthorFactory, UserFactory
from tests.support.smtp import html_body, text_body
from tests.support.waiting import wait_until

RESET_LINK = re.compile(r"http://testserver(/password-reset/[^/\s]+/[^/\s]+/)")


@pytest.mark.django_db(transaction=True)
def test_resend_answers_the_same_for_known_and_unknown_addresses_and_mails_only_real_ones(
    client, celery_worker, smtp_server
):
    user = UserFactory(email="known@example.com")
    smtp_server.wait_for(1)
    wait_until(lambda: User.objects.get(pk=user.pk).verification_sent_at)
    first_uuid = User.objects.get(pk=user.pk).verification_uuid

    known = client.post("/verify/resend/", {"email": "KNOWN@example.com"})
    unknown = client.post("/verify/resend/", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: r.content.decode().replace("KNOWN@example.com", "X").replace("nobody@example.com", "X")  # noqa: E731
    assert strip(known) == strip(unknown)

    messages = smtp_server.wait_for(2)
    assert [m["To"] for m in smtp_server.settle()] == ["known@example.com", "known@example.com"]
    # Only the newest link works.
    new_uuid = wait_until(lambda: (u := User.objects.get(pk=user.pk)).verification_uuid != first_uuid and u)
    assert str(new_uuid.verification_uuid) in text_body(messages[1])
    assert client.get(f"/verify/{first_uuid}/").status_code == 404
    assert client.get(f"/verify/{new_uuid.verification_uuid}/").status_code == 200


@pytest.mark.django_db
def test_resend_is_rate_limited_per_address(client, clock_within_one_rate_window):
    UserFactory(email="limited@example.com")
    statuses = [
        client.post("/verify/resend/", {"email": "limited@example.com"}, REMOTE_ADDR=f"10.0.0.{i}").status_code
        for i in range(5)
    ]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]


@pytest.mark.django_db
def test_resend_is_rate_limited_per_ip(client, clock_within_one_rate_window):
    statuses = [client.post("/verify/resend/", {"email": f"a{i}@example.com"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_unverified_users_see_a_banner_with_a_resend_button(client):
    user = UserFactory()
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "Please verify your email address" in page
    assert 'action="/verify/resend/"' in page
    client.force_login(AuthorFactory())
    assert "Please verify your email address" not in client.get("/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_password_reset_email_goes_through_celery_and_works(client, celery_worker, smtp_server):
    user = AuthorFactory(email="forgetful@example.com")
    response = client.post("/password-reset/", {"email": "forgetful@example.com"})
    assert response.status_code == 302
    [message] = smtp_server.wait_for(1)
    assert message.is_multipart()
    path = RESET_LINK.search(text_body(message)).group(1)
    assert path in html_body(message)
    response = client.get(path, follow=True)
    assert response.status_code == 200 and "Set a new password" in response.content.decode()
    response = client.post(
        response.redirect_chain[-1][0], {"new_password1": "brand-new-pass-77", "new_password2": "brand-new-pass-77"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("brand-new-pass-77")


@pytest.mark.django_db
def test_login_and_logout(client):
    AuthorFactory(email="writer@example.com")
    response = client.post("/login/", {"username": "Writer@Example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/account/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_a_form_error(client):
    AuthorFactory(email="writer@example.com")
    response = client.post("/login/", {"username": "writer@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "correct email address and password" in response.content.decode()


@pytest.mark.django_db
def test_account_page_saves_the_name_and_report_settings_turn_reports_off_and_on(client):
    user = AuthorFactory()
    client.force_login(user)
    assert client.post("/account/", {"full_name": "New Name", "time_zone": "UTC"}).status_code == 302
    assert client.post("/reports/settings/", {"frequency": "off", "hour": "7"}).status_code == 302
    user.refresh_from_db()
    preferences = ReportPreferences.objects.get(pk=user.pk)
    assert user.full_name == "New Name" and preferences.frequency == "off" and preferences.next_report_at is None
    client.post("/reports/settings/", {"frequency": "daily", "hour": "7"})
    preferences = ReportPreferences.objects.get(pk=user.pk)
    assert preferences.frequency == "daily" and preferences.next_report_at is not None


@pytest.mark.django_db
def test_signup_form_errors_are_shown_beside_fields(client):
    response = client.post("/signup/", {"email": "not-an-email", "full_name": "", "password1": "x", "password2": "y"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="field-errors"') >= 3
    assert User.objects.count() == 0


@pytest.mark.django_db
def test_signup_logs_in_and_shows_check_your_inbox(client):
    response = client.post(
        "/signup/",
        {"email": "me@example.com", "full_name": "Me", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert "Check your inbox" in response.content.decode()
    assert response.context["user"].email == "me@example.com"


# --- Admin -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_user_admin_lists_filters_and_never_shows_the_password_hash(admin_client):
    user = UserFactory(email="listed@example.com")
    changelist = admin_client.get("/admin/main/user/?is_verified__exact=0&q=listed").content.decode()
    assert "listed@example.com" in changelist
    change = admin_client.get(f"/admin/main/user/{user.pk}/change/").content.decode()
    assert "argon2" not in change and user.password[-20:] not in change
    assert "Set a new password" in change


@pytest.mark.django_db(transaction=True)
def test_user_admin_actions_resend_and_mark_verified(admin_client, celery_worker, smtp_server):
    user = UserFactory(email="pending@example.com")
    smtp_server.wait_for(1)
    admin_client.post("/admin/main/user/", {"action": "resend_verification_email", "_selected_action": [user.pk]})
    smtp_server.wait_for(2)
    admin_client.post("/admin/main/user/", {"action": "mark_as_verified", "_selected_action": [user.pk]})
    user.refresh_from_db()
    assert user.is_verified and user.is_staff
    assert user.groups.filter(name="Authors").exists()


@pytest.mark.django_db
def test_authors_group_may_only_work_on_posts():
    group = Group.objects.get(name="Authors")
    assert sorted(group.permissions.values_list("codename", flat=True)) == [
        "add_post",
        "change_post",
        "delete_post",
        "view_post",
    ]


@pytest.mark.django_db
def test_email_is_unique_regardless_of_case_in_the_database():
    from django.db import IntegrityError, transaction

    UserFactory(email="Case@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="case@example.com", full_name="Twin", password=PASSWORD)
