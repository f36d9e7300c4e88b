"""The local inbox exists only with DEBUG on, through the site's real URL configuration (main/urls.py decides when it
is imported, so each test imports it again under the DEBUG it wants)."""

import importlib

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from django.core.mail import send_mail
from django.urls import NoReverseMatch, clear_url_caches, reverse

import main.urls
import quick_publisher.urls
from quick_publisher.redis_server import free_port


def reload_urlconf():
    importlib.reload(main.urls)
    importlib.reload(quick_publisher.urls)  # its include("main.urls") resolver keeps the patterns it read
    clear_url_caches()


@pytest.fixture
def urls_with_debug(settings):
    """urls_with_debug(flag): the real URLconf, as a process started with DEBUG=flag builds it."""

    def load(debug):
        settings.DEBUG = debug
        reload_urlconf()

    yield load
    settings.DEBUG = False
    reload_urlconf()


@pytest.fixture
def a_message_in_the_inbox(tmp_path, settings):
    maildir = tmp_path / "mail"
    controller = Controller(Mailbox(str(maildir)), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.DEV_MAILDIR = maildir
    send_mail("A private message", "Someone's verification link", None, ["reader@example.com"])
    yield
    controller.stop()


@pytest.mark.django_db
def test_with_debug_off_the_inbox_has_no_url(client, urls_with_debug, a_message_in_the_inbox):
    urls_with_debug(False)
    with pytest.raises(NoReverseMatch):
        reverse("inbox")
    response = client.get("/inbox/")
    assert response.status_code == 404
    assert "A private message" not in response.content.decode()


@pytest.mark.django_db
def test_with_debug_on_the_same_urlconf_serves_the_inbox(client, urls_with_debug, a_message_in_the_inbox):
    urls_with_debug(True)
    assert reverse("inbox") == "/inbox/"
    response = client.get("/inbox/")
    assert response.status_code == 200
    assert "A private message" in response.content.decode()
