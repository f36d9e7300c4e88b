"""What the public sees: /healthz says which check failed and nothing of why (the log says why); a user's time zone
is a real zone, wherever it is chosen."""

import logging
from urllib.parse import urlsplit

import environ
import pytest
from django.conf import settings
from django.db.utils import ConnectionHandler

from main import health
from main.models import User
from tests.factories import PASSWORD, AuthorFactory, UserFactory
from tests.support.project import celery_app, free_port


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- /healthz ------------------------------------------------------------------------------------------------


def healthz(client, caplog):
    with caplog.at_level(logging.WARNING, logger="main.health"):
        return client.get("/healthz")


@pytest.fixture
def dead_database(monkeypatch):
    """The check's database at a port where nothing listens: the error names its host and port."""
    port = free_port()
    url = f"postgres://publisher@127.0.0.1:{port}/publisher?connect_timeout=2"
    dead = ConnectionHandler({"default": environ.Env.db_url_config(url)})["default"]
    monkeypatch.setattr(health, "connection", dead)
    yield port
    dead.close()


@pytest.mark.django_db
def test_healthz_with_the_database_down_says_so_and_only_the_log_says_why(client, caplog, dead_database):
    response = healthz(client, caplog)
    assert response.status_code == 503
    # Nothing but these words: no exception, host or port.
    assert response.json() == {"status": "unavailable", "database": "fail", "broker": "ok", "failed": ["database"]}
    assert "127.0.0.1" in caplog.text and str(dead_database) in caplog.text


@pytest.mark.django_db
def test_healthz_with_the_broker_down_says_so_and_only_the_log_says_why(client, caplog, broker_at_dead_port):
    port = urlsplit(celery_app.conf.broker_url).port
    response = healthz(client, caplog)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "broker": "fail", "failed": ["broker"]}
    assert str(port) in caplog.text


# --- Time zones ---------------------------------------------------------------------------------------------

# Names zoneinfo lists or loads on a Linux host that are no place's zone: the first two were accepted, the others were
# already refused and must stay so.
NOT_ZONES = ["localtime", "Factory", "posixrules", "posix/Europe/London", "right/UTC", "Mars/Olympus"]


@pytest.mark.django_db
def test_the_account_page_refuses_every_name_that_is_no_zone(client):
    user = AuthorFactory(time_zone="Asia/Kolkata")
    client.force_login(user)
    for name in NOT_ZONES:
        response = client.post("/account/", {"full_name": user.full_name, "time_zone": name})
        assert response.status_code == 200, name
        assert "time_zone" in response.context["form"].errors, name
        assert name not in response.context["time_zones"], name  # nor is it offered
        user.refresh_from_db()
        assert user.time_zone == "Asia/Kolkata", name
    assert client.post("/account/", {"full_name": user.full_name, "time_zone": "America/New_York"}).status_code == 302
    user.refresh_from_db()
    assert user.time_zone == "America/New_York"


@pytest.mark.django_db
def test_sign_up_with_a_name_that_is_no_zone_falls_back_to_the_sites_zone(client):
    for number, name in enumerate([*NOT_ZONES, "Asia/Kathmandu"]):
        email = f"new{number}@example.com"
        form = {"email": email, "full_name": "New", "password1": PASSWORD, "password2": PASSWORD, "time_zone": name}
        assert client.post("/signup/", form).status_code == 302, name
        client.logout()
        expected = "Asia/Kathmandu" if name == "Asia/Kathmandu" else settings.TIME_ZONE
        assert User.objects.get(email=email).time_zone == expected, name


@pytest.mark.django_db
def test_the_user_admin_refuses_every_name_that_is_no_zone(admin_client):
    user = UserFactory(time_zone="Asia/Kolkata")
    url = f"/admin/main/user/{user.pk}/change/"
    form = {"email": user.email, "full_name": user.full_name, "is_active": "on"}
    for name in NOT_ZONES:
        response = admin_client.post(url, {**form, "time_zone": name})
        assert response.status_code == 200, name
        assert "time_zone" in response.context["adminform"].form.errors, name
        user.refresh_from_db()
        assert user.time_zone == "Asia/Kolkata", name
    assert admin_client.post(url, {**form, "time_zone": "Asia/Kathmandu"}).status_code == 302
    user.refresh_from_db()
    assert user.time_zone == "Asia/Kathmandu"
