"""Rendering of the account emails: every message is multipart (text and HTML templates)."""

import secrets
from email.policy import Compat32

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


class Compat32KeepingFittingHeaders(Compat32):
    """The policy Django's messages use, except that a header which already fits on one ASCII line is written as
    it is. compat32 splits and rejoins every header through email.header, which took two thirds of the time
    it takes to write a message out (tests/main/test_emails.py checks that the output is the same, byte for byte)."""

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()  # compat32 rewrites the rest: line breaks, form feeds, other controls
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


KEEP_FITTING_HEADERS = Compat32KeepingFittingHeaders()


class MultipartEmail(EmailMultiAlternatives):
    def message(self):
        message = super().message()
        message.policy = KEEP_FITTING_HEADERS  # the generator writes the parts with the top message's policy
        if message.is_multipart():
            message.set_boundary(boundary_for(message))
        return message


def boundary_for(message):
    """A MIME boundary that none of the parts contains. The generator would make one itself, but by compiling a
    regular expression for each message (a tenth of the time a report took to send)."""
    parts = [part.get_payload() for part in message.walk() if not part.is_multipart()]
    while True:
        boundary = f"==============={secrets.token_hex(16)}=="
        if not any(boundary in part for part in parts):
            return boundary


def absolute_url(path):
    return f"{settings.SITE_URL}{path}"


def render_email(*, template, to, context, headers=None, connection=None):
    """Build a multipart message from the Jinja2 templates emails/<template>_subject.txt, .txt and .html."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context, using="emails").split())
    message = MultipartEmail(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context, using="emails"),
        to=[to],
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context, using="emails"), "text/html")
    return message


def verification_email(user):
    link = absolute_url(reverse("verify", args=[user.verification_uuid]))
    max_age_hours = int(settings.VERIFICATION_LINK_MAX_AGE.total_seconds() // 3600)
    return render_email(
        template="verification",
        to=user.email,
        context={"user": user, "link": link, "max_age_hours": max_age_hours},
    )


def password_reset_email(user):
    link = absolute_url(
        reverse(
            "password_reset_confirm",
            kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user)},
        )
    )
    return render_email(template="password_reset", to=user.email, context={"user": user, "link": link})
