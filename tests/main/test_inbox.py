"""The local inbox: aiosmtpd's Mailbox handler writes a Maildir, the DEBUG-only pages read it."""

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from django.core.mail import EmailMultiAlternatives
from django.http import Http404
from django.test import RequestFactory
from django.urls import include, path

from main import inbox, views
from quick_publisher.redis_server import free_port

# The inbox URLs exist only with DEBUG on; this module serves as the test's URLconf.
urlpatterns = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<str:key>/", views.inbox_message, name="inbox_message"),
    path("inbox/<str:key>/html/", views.inbox_message_html, name="inbox_message_html"),
    path("", include("quick_publisher.urls")),
]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def local_inbox(tmp_path, settings):
    maildir = tmp_path / "mail"
    controller = Controller(Mailbox(str(maildir)), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.DEV_MAILDIR = maildir
    yield maildir
    controller.stop()


def send(subject, to="reader@example.com"):
    message = EmailMultiAlternatives(subject, "Open http://testserver/verify/abc/ now.", to=[to])
    message.attach_alternative('<p><a href="http://testserver/verify/abc/">Confirm</a></p>', "text/html")
    message.send()


@pytest.mark.django_db
def test_inbox_lists_messages_and_shows_text_and_html(local_inbox):
    send("First")
    send("Second")
    listed = inbox.list_messages()
    assert {m["subject"] for m in listed} == {"First", "Second"}

    request = RequestFactory().get("/inbox/")
    request.user = None
    page = views.inbox(request).content.decode()
    assert "First" in page and "Second" in page

    key = listed[0]["key"]
    message_page = views.inbox_message(RequestFactory().get("/"), key).content.decode()
    assert '<a href="http://testserver/verify/abc/"' in message_page  # the text part's link is clickable
    html = views.inbox_message_html(RequestFactory().get("/"), key)
    assert html.content.decode().startswith('<base target="_top">')
    assert (
        "script-src" not in html["Content-Security-Policy"] and "default-src 'none'" in html["Content-Security-Policy"]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["nope", "../../etc/passwd", "..", ""])
def test_unknown_or_crafted_keys_are_404(local_inbox, key):
    send("Only")
    with pytest.raises(Http404):
        views.inbox_message(RequestFactory().get("/"), key)
    with pytest.raises(Http404):
        views.inbox_message_html(RequestFactory().get("/"), key)
