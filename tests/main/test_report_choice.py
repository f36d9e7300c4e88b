"""The author's report choice: time zone, hour and frequency, on /account/, at sign-up and in the user admin."""

from datetime import UTC, datetime

import pytest
import time_machine

from main.models import User
from tests.factories import AuthorFactory, PostFactory

CHOICE = {
    "full_name": "Ann Author",
    "report_frequency": "daily",
    "report_time_zone": "Asia/Kathmandu",
    "report_hour": "7",
}


@pytest.mark.django_db
def test_account_page_saves_zone_hour_and_frequency_and_moves_the_next_report(client):
    author = AuthorFactory()
    PostFactory(author=author)  # an author with a published post has a report coming
    client.force_login(author)
    page = client.get("/account/").content.decode()
    assert '<datalist id="time-zones">' in page and '<option value="Asia/Kathmandu">' in page

    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        assert client.post("/account/", CHOICE).status_code == 302
    author.refresh_from_db()
    assert (author.report_time_zone, author.report_hour, author.report_frequency) == ("Asia/Kathmandu", 7, "daily")
    # 12:00 UTC is 17:45 in Kathmandu: today's 07:00 (01:15 UTC) is past, so the next report leaves at once.
    assert author.next_report_at == datetime(2026, 11, 30, 1, 15, tzinfo=UTC)

    with time_machine.travel(datetime(2026, 12, 2, 12, 0, tzinfo=UTC), tick=False):  # a Wednesday
        client.post("/account/", {**CHOICE, "report_frequency": "weekly", "report_hour": "9"})
    author.refresh_from_db()
    assert author.next_report_at == datetime(2026, 12, 7, 3, 15, tzinfo=UTC)  # Monday 09:00 in Kathmandu


@pytest.mark.django_db
def test_an_author_with_nothing_published_has_no_report_coming_until_reports_are_turned_on(client):
    author = AuthorFactory()
    client.force_login(author)
    client.post("/account/", {**CHOICE, "report_hour": "9"})
    author.refresh_from_db()
    assert author.report_hour == 9 and author.next_report_at is None
    client.post("/account/", {**CHOICE, "report_frequency": "off"})
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        client.post("/account/", CHOICE)
    author.refresh_from_db()
    # Turned on: scheduled; the send finds nothing published, skips it and schedules no more (test_report_hours).
    assert author.next_report_at == datetime(2026, 11, 30, 1, 15, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value",
    [
        ("report_time_zone", "Mars/Olympus_Mons"),
        ("report_time_zone", ""),
        ("report_time_zone", "utc "),
        ("report_hour", "24"),
        ("report_hour", "-1"),
        ("report_hour", "seven"),
        ("report_frequency", "hourly"),
    ],
)
def test_account_page_refuses_a_bad_zone_hour_or_frequency_as_a_form_error(client, field, value):
    author = AuthorFactory()
    client.force_login(author)
    before = User.objects.values().get(pk=author.pk)
    response = client.post("/account/", {**CHOICE, field: value})
    assert response.status_code == 200
    assert 'class="field-errors"' in response.content.decode()
    assert response.context["form"].errors.keys() == {field}
    assert User.objects.values().get(pk=author.pk) == before


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
        data["report_time_zone"] = sent
    assert client.post("/signup/", data).status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.report_time_zone == stored and user.report_hour == 7 and user.report_frequency == "daily"
    assert user.next_report_at is None  # none is due before the first published post


@pytest.mark.django_db
def test_signup_page_loads_the_time_zone_script_from_static_files(client):
    page = client.get("/signup/").content.decode()
    assert '<input type="hidden" name="report_time_zone"' in page
    assert '<script src="/static/main/time_zone.js" defer></script>' in page
    assert "<script>" not in page  # the CSP allows no inline script


@pytest.mark.django_db
def test_the_user_admin_edits_the_choice_and_moves_the_next_report(admin_client):
    author = AuthorFactory(report_time_zone="UTC")
    PostFactory(author=author)
    url = f"/admin/main/user/{author.pk}/change/"
    from tests.publisher.test_reports import admin_form_data

    data = admin_form_data(admin_client.get(url))
    data.update(report_time_zone="America/New_York", report_hour="6")
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    author.refresh_from_db()
    assert author.next_report_at == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 06:00 EST

    data.update(report_time_zone="Europe/Nowhere")
    response = admin_client.post(url, data)
    assert response.status_code == 200 and "report_time_zone" in response.context["adminform"].form.errors
