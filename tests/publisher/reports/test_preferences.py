"""The author's report choice: the time zone on /account/ (and at sign-up and in the user admin), the hour and
frequency on /reports/settings/; each moves the next report. Deactivating a user in the admin stops theirs."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from main.models import User
from publisher.models import ReportPreferences
from tests.factories import AuthorFactory, PostFactory
from tests.support.admin_forms import admin_form_data

ACCOUNT = {"full_name": "Ann Author", "time_zone": "Asia/Kathmandu"}
CHOICE = {"frequency": "daily", "hour": "7"}
SETTINGS = "/reports/settings/"


def preferences(user):
    return ReportPreferences.objects.get(pk=user.pk)


def user_admin_form_data(admin_client, user):
    """The user's change form as the browser posts it back unchanged."""
    return admin_form_data(admin_client.get(f"/admin/main/user/{user.pk}/change/"))


def test_the_report_settings_page_is_at_its_url_name():
    assert reverse("report_settings") == SETTINGS


@pytest.mark.django_db
def test_account_page_saves_the_zone_and_report_settings_the_hour_and_frequency_and_both_move_the_next_report(
    client,
):
    author = AuthorFactory()
    PostFactory(author=author)  # an author with a published post has a report coming
    client.force_login(author)
    page = client.get("/account/").content.decode()
    assert '<datalist id="time-zones">' in page and '<option value="Asia/Kathmandu">' in page

    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        assert client.post("/account/", ACCOUNT).status_code == 302
        assert client.post(SETTINGS, CHOICE).status_code == 302
    author.refresh_from_db()
    prefs = preferences(author)
    assert (author.time_zone, prefs.hour, prefs.frequency) == ("Asia/Kathmandu", 7, "daily")
    # 12:00 UTC is 17:45 in Kathmandu: today's 07:00 (01:15 UTC) is past, so the next report leaves at once.
    assert prefs.next_report_at == datetime(2026, 11, 30, 1, 15, tzinfo=UTC)

    with time_machine.travel(datetime(2026, 12, 2, 12, 0, tzinfo=UTC), tick=False):  # a Wednesday
        assert client.post(SETTINGS, {"frequency": "weekly", "hour": "9"}).status_code == 302
    assert preferences(author).next_report_at == datetime(2026, 12, 7, 3, 15, tzinfo=UTC)  # Monday 09:00 in Kathmandu


@pytest.mark.django_db
def test_an_author_with_nothing_published_has_no_report_coming_until_reports_are_turned_on(client):
    author = AuthorFactory()
    client.force_login(author)
    assert client.post("/account/", ACCOUNT).status_code == 302
    client.post(SETTINGS, {**CHOICE, "hour": "9"})
    prefs = preferences(author)
    assert prefs.hour == 9 and prefs.next_report_at is None
    client.post(SETTINGS, {**CHOICE, "frequency": "off"})
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        client.post(SETTINGS, CHOICE)
    # Turned on: scheduled; the send finds nothing published, skips it and schedules no more (reports/test_schedule.py).
    assert preferences(author).next_report_at == datetime(2026, 11, 30, 1, 15, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url, data, field, value",
    [
        ("/account/", ACCOUNT, "time_zone", "Mars/Olympus_Mons"),
        ("/account/", ACCOUNT, "time_zone", ""),
        ("/account/", ACCOUNT, "time_zone", "utc "),
        (SETTINGS, CHOICE, "hour", "24"),
        (SETTINGS, CHOICE, "hour", "-1"),
        (SETTINGS, CHOICE, "hour", "seven"),
        (SETTINGS, CHOICE, "frequency", "hourly"),
    ],
)
def test_a_bad_zone_hour_or_frequency_is_a_form_error_on_its_page(client, url, data, field, value):
    author = AuthorFactory()
    PostFactory(author=author)  # a report coming, which a bad choice must not move
    client.force_login(author)
    user_before = User.objects.values().get(pk=author.pk)
    preferences_before = ReportPreferences.objects.values().get(pk=author.pk)
    response = client.post(url, {**data, field: value})
    assert response.status_code == 200
    assert 'class="field-errors"' in response.content.decode()
    assert response.context["form"].errors.keys() == {field}
    assert User.objects.values().get(pk=author.pk) == user_before
    assert ReportPreferences.objects.values().get(pk=author.pk) == preferences_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent, stored", [("Pacific/Kiritimati", "Pacific/Kiritimati"), ("Nowhere/Atlantis", "UTC"), (None, "UTC")]
)
def test_signup_takes_the_zone_the_browser_sent_or_falls_back_to_time_zone(client, settings, sent, stored):
    settings.TIME_ZONE = "UTC"
    data = {
        "email": "new@example.com",
        "full_name": "New",
        "password1": "a-long-pass-42x",
        "password2": "a-long-pass-42x",
    }
    if sent is not None:
        data["time_zone"] = sent
    assert client.post("/signup/", data).status_code == 302
    user = User.objects.get(email="new@example.com")
    prefs = preferences(user)
    assert user.time_zone == stored and prefs.hour == 7 and prefs.frequency == "daily"
    assert prefs.next_report_at is None  # none is due before the first published post


@pytest.mark.django_db
def test_signup_page_loads_the_time_zone_script_from_static_files(client):
    page = client.get("/signup/").content.decode()
    assert '<input type="hidden" name="time_zone"' in page
    assert '<script src="/static/main/time_zone.js" defer></script>' in page
    assert "<script>" not in page  # the CSP allows no inline script


@pytest.mark.django_db
def test_the_user_admin_edits_the_zone_and_moves_the_next_report(admin_client):
    author = AuthorFactory(time_zone="UTC", reports__hour=6)
    PostFactory(author=author)
    url = f"/admin/main/user/{author.pk}/change/"
    data = user_admin_form_data(admin_client, author)
    data.update(time_zone="America/New_York")
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert preferences(author).next_report_at == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 06:00 EST

    data.update(time_zone="Europe/Nowhere")
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "time_zone" in response.context["adminform"].form.errors


# --- Deactivation, and the pages' links and guards ---------------------------------------------------------


@pytest.mark.django_db
def test_deactivating_a_user_in_the_admin_clears_their_next_report_and_reactivating_reschedules_it(admin_client):
    author = AuthorFactory(time_zone="UTC")
    PostFactory(author=author)
    assert preferences(author).next_report_at is not None
    url = f"/admin/main/user/{author.pk}/change/"
    data = user_admin_form_data(admin_client, author)
    assert data.pop("is_active") == "on"
    response = admin_client.post(url, data)  # is_active unchecked
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not User.objects.get(pk=author.pk).is_active
    prefs = preferences(author)
    assert prefs.next_report_at is None
    assert prefs.frequency == "daily" and prefs.hour == 7  # their choice is kept for when they come back

    data["is_active"] = "on"
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.get(pk=author.pk).is_active
    assert preferences(author).next_report_at == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # the next 07:00 UTC


@pytest.mark.django_db
def test_reactivating_a_user_with_nothing_published_schedules_no_report(admin_client):
    author = AuthorFactory()
    url = f"/admin/main/user/{author.pk}/change/"
    data = user_admin_form_data(admin_client, author)
    del data["is_active"]
    assert admin_client.post(url, data).status_code == 302
    data["is_active"] = "on"
    assert admin_client.post(url, data).status_code == 302
    assert User.objects.get(pk=author.pk).is_active and preferences(author).next_report_at is None


@pytest.mark.django_db
def test_the_account_page_links_to_the_report_settings(client):
    client.force_login(AuthorFactory())
    page = client.get("/account/").content.decode()
    assert f'href="{reverse("report_settings")}"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_the_report_settings_page_requires_login(client, method):
    author = AuthorFactory()
    before = ReportPreferences.objects.values().get(pk=author.pk)
    response = getattr(client, method)(SETTINGS, {**CHOICE, "frequency": "off"} if method == "post" else {})
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={SETTINGS}"
    assert ReportPreferences.objects.values().get(pk=author.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("hour", ["24", "x"])
def test_a_bad_hour_on_the_report_settings_page_is_a_form_error_not_a_500(client, hour):
    author = AuthorFactory()
    PostFactory(author=author)
    client.force_login(author)
    before = ReportPreferences.objects.values().get(pk=author.pk)
    response = client.post(SETTINGS, {"frequency": "weekly", "hour": hour})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'class="field-errors"' in page and "Select a valid choice" in page
    assert response.context["form"].errors.keys() == {"hour"}
    assert ReportPreferences.objects.values().get(pk=author.pk) == before
