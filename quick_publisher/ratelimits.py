"""Rate limits shared by the site's login page and the admin's, which check the same passwords."""

from django.conf import settings
from django_ratelimit.decorators import ratelimit


def posted_email(group, request):
    """The address a form posted (login forms call it username): one budget per address, whatever its case."""
    return request.POST.get("email", request.POST.get("username", "")).strip().lower()


def limit_login_attempts(view):
    """Per IP and per address, in one budget shared by /login/ and the admin's login page."""
    view = ratelimit(group="login:address", key=posted_email, rate=settings.LOGIN_RATE_LIMIT, method="POST")(view)
    return ratelimit(group="login:ip", key="ip", rate=settings.LOGIN_RATE_LIMIT, method="POST")(view)
