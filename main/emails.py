"""The account emails: verification link and password reset."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from quick_publisher.emails import absolute_url, render_email


def verification_email(user):
    link = absolute_url("verify", args=[user.verification_uuid])
    max_age_hours = int(settings.VERIFICATION_LINK_MAX_AGE.total_seconds() // 3600)
    return render_email(
        template="verification",
        to=user.email,
        context={"user": user, "link": link, "max_age_hours": max_age_hours},
    )


def password_reset_email(user):
    link = absolute_url(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return render_email(template="password_reset", to=user.email, context={"user": user, "link": link})
