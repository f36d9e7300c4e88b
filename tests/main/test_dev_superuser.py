"""`make run`'s development superuser (manage.py ensure_dev_superuser)."""

import secrets
import stat
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from main.models import User

EMAIL = "admin@quickpublisher.local"


def ensure_dev_superuser():
    out = StringIO()
    call_command("ensure_dev_superuser", stdout=out)
    return out.getvalue()


@pytest.fixture
def development(settings, tmp_path):
    settings.DEBUG = True
    settings.VAR_DIR = tmp_path
    return tmp_path / "dev-admin-password.txt"


@pytest.mark.django_db
def test_refused_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        ensure_dev_superuser()
    assert not User.objects.filter(email=EMAIL).exists()


@pytest.mark.django_db
def test_creates_one_superuser_with_a_random_password_kept_for_its_owner_only(development):
    password_file = development
    first = ensure_dev_superuser()
    password = password_file.read_text().strip()
    assert len(password) >= 16
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert f"as {EMAIL} with password {password}" in first

    admin = User.objects.get(email=EMAIL)
    assert admin.is_superuser and admin.is_staff and admin.is_active
    assert authenticate(username=EMAIL, password=password) == admin

    # Every `make run` after the first: the same account and password, nothing created.
    assert ensure_dev_superuser() == first
    assert User.objects.filter(email__iexact=EMAIL).count() == 1
    assert authenticate(username=EMAIL, password=password) == admin


@pytest.mark.django_db
def test_an_existing_admin_keeps_their_password_and_is_told_how_to_change_it(development):
    chosen = secrets.token_urlsafe(16)
    User.objects.create_superuser(email=EMAIL, full_name="Site admin", password=chosen)
    out = ensure_dev_superuser()
    assert "changepassword" in out and not development.exists()
    assert authenticate(username=EMAIL, password=chosen) is not None
