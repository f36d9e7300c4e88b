"""Emails of both apps: a multipart message from paired Django templates, and the absolute links in it."""

import functools
import secrets
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse


def absolute_url(viewname, *, args=None, kwargs=None):
    """The URL of a view for a link that leaves the site: from SITE_URL, never from a request."""
    return f"{settings.SITE_URL}{reverse(viewname, args=args, kwargs=kwargs)}"


class MultipartEmail(EmailMultiAlternatives):
    """A text body with alternatives, whose MIME boundary is chosen at random when the message is built. Left unset,
    the generator would make one up and search the whole message for it (a regular expression compiled per
    message); a random 128-bit token needs no search, as nothing in the parts can foresee it."""

    def message(self):
        message = super().message()
        if message.is_multipart():
            message.set_boundary(f"=_{secrets.token_hex(16)}")
        return message


@functools.lru_cache(maxsize=8)
def envelope_sender(from_email):
    """The address alone of a sender such as DEFAULT_FROM_EMAIL ("Name <address>"), for the SMTP envelope, which
    holds nothing else; the From header keeps the name. Django's SMTP backend parses the envelope's sender of every
    message with the standard library's full address parser, which a bare address costs a fraction of a named one."""
    return parseaddr(from_email)[1] or from_email


def render_email(*, template, to, context, headers=None, connection=None):
    """A message from emails/<template>_subject.txt, <template>.txt (the body) and <template>.html (the HTML
    alternative), from DEFAULT_FROM_EMAIL. The .txt templates turn autoescaping off: plain text shows what was
    typed."""
    # One line, whatever the template or its data holds: a header never carries a line break.
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    message = MultipartEmail(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        from_email=envelope_sender(settings.DEFAULT_FROM_EMAIL),
        to=[to],
        headers={"From": settings.DEFAULT_FROM_EMAIL, **(headers or {})},
        connection=connection,
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
    return message
