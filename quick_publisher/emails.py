"""Emails of both apps: a multipart message from paired Django templates, and the absolute links in it."""

import functools
import secrets
from email.policy import Compat32
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse


def absolute_url(viewname, *, args=None, kwargs=None):
    """The URL of a view for a link that leaves the site: from SITE_URL, never from a request."""
    return f"{settings.SITE_URL}{reverse(viewname, args=args, kwargs=kwargs)}"


class FoldOnlyLongHeaders(Compat32):
    """The policy Django's messages are written with (compat32), less the folding of a header that needs none: a
    value of printable ASCII that fits on its line is written as it is, which is what compat32's folding gives it
    after building an email.header.Header for it. Any other value is folded by compat32 itself."""

    def fold_binary(self, name, value):
        if isinstance(value, str) and self.fits_on_its_line(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)

    def fits_on_its_line(self, name, value):
        fits = self.max_line_length is None or len(name) + 2 + len(value) <= self.max_line_length
        return fits and value.isascii() and value.isprintable()


fold_only_long_headers = FoldOnlyLongHeaders()


class MultipartEmail(EmailMultiAlternatives):
    """A text body with alternatives, written with fold_only_long_headers, whose MIME boundary is chosen at random
    when the message is built. Left unset, the generator would make one up and search the whole message for it (a
    regular expression compiled per message); a random 128-bit token needs no search, as nothing in the parts can
    foresee it."""

    def message(self):
        message = super().message()
        message.policy = fold_only_long_headers  # the generator writes every part with the message's policy
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
