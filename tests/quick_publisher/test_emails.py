"""Emails as Django builds them: one template language, multipart/alternative, headers that stay headers."""

import email
from email import policy

import pytest
from django.conf import settings as django_settings
from django.test import override_settings
from hypothesis import example, given
from hypothesis import strategies as st

from quick_publisher.emails import absolute_url, render_email


@pytest.fixture(scope="module")
def probe_templates(tmp_path_factory):
    """emails/probe*: a subject and a body made of whatever the test passes in."""
    root = tmp_path_factory.mktemp("templates")
    (root / "emails").mkdir()
    (root / "emails" / "probe_subject.txt").write_text("{% autoescape off %}{{ subject }}{% endautoescape %}\n")
    (root / "emails" / "probe.txt").write_text("{% autoescape off %}Hello {{ name }},{% endautoescape %}\n")
    (root / "emails" / "probe.html").write_text("<p>Hello {{ name }},</p>\n")
    return root


@pytest.fixture(scope="module")
def with_probe_templates(probe_templates):
    engine = django_settings.TEMPLATES[0]
    with override_settings(TEMPLATES=[{**engine, "DIRS": [probe_templates, *engine["DIRS"]]}]):
        yield


def sent_and_parsed(message):
    return email.message_from_bytes(message.message().as_bytes(linesep="\r\n"), policy=policy.default)


def probe(subject="Hi", name="Zoë", headers=None):
    return render_email(
        template="probe", to="zoe@example.com", context={"subject": subject, "name": name}, headers=headers
    )


def test_an_email_is_multipart_alternative_with_the_text_and_the_html_part(with_probe_templates):
    parsed = sent_and_parsed(probe(name="Tom & Jerry <b>bold</b>"))
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed.get_body(("plain",)).get_content().strip() == "Hello Tom & Jerry <b>bold</b>,"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hello Tom &amp; Jerry &lt;b&gt;bold&lt;/b&gt;,</p>"
    assert parsed["To"] == "zoe@example.com"
    assert parsed["Subject"] == "Hi"


@given(subject=st.text(max_size=80))
@example(subject="Hi\r\nBcc: victim@example.com")
@example(subject="Hi\nX-Injected: 1\n\nbody")
@example(subject="\x0c")  # a lone form feed
@example(subject="a\x0bb\x1cc\x85d\u2028e")
@example(subject="control \x00\x07\x1b characters")
def test_a_subject_with_line_breaks_or_control_characters_stays_one_header(with_probe_templates, subject):
    parsed = sent_and_parsed(probe(subject=subject))
    assert sorted(parsed.keys()) == ["Content-Type", "Date", "From", "MIME-Version", "Message-ID", "Subject", "To"]
    assert " ".join(parsed["Subject"].split()) == " ".join(subject.split())
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_the_envelope_holds_the_senders_address_and_the_from_header_its_name(
    with_probe_templates, smtp_server, settings
):
    settings.DEFAULT_FROM_EMAIL = "Zoë's Blog <blog@example.com>"
    probe().send()
    [message] = smtp_server.wait_for(1)
    assert smtp_server.handler.senders == ["blog@example.com"]
    assert message["From"].addresses[0].display_name == "Zoë's Blog"
    assert message["From"].addresses[0].addr_spec == "blog@example.com"


def test_absolute_urls_start_at_site_url_whatever_the_request(settings):
    settings.SITE_URL = "https://blog.example/sub"
    assert absolute_url("post_detail", args=["hello-world"]) == "https://blog.example/sub/hello-world/"
    assert absolute_url("verify", kwargs={"token": "8c1f3cc6-5c0e-4a31-b0f2-3a0d3e1b7e55"}).startswith(
        "https://blog.example/sub/verify/8c1f3cc6-"
    )
