"""Rendering of the account emails: every message is multipart (text and HTML templates)."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode


def absolute_url(path):
    return f"{settings.SITE_URL}{path}"


def render_email(*, template, to, context, headers=None, connection=None):
    """Build a multipart message from emails/<template>_subject.txt, .txt and .html."""
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{template}.txt", context),
        to=[to],
        headers=headers,
        connection=connection,
    )
    message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
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
