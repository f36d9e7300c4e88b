"""Security headers and cookies, the Content-Security-Policy, logging, and the blog's smaller switches."""

from urllib.parse import urlsplit

from .environment import DEBUG, env
from .media import MEDIA_URL

# --- Security --------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def media_origin(url):
    """The origin of an absolute MEDIA_URL ("https://media.example.com"), for the CSP; none for a path of this site."""
    parts = urlsplit(url)
    return [f"{parts.scheme}://{parts.netloc}"] if parts.scheme and parts.netloc else []


CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline style attributes are the admin's; inline script is refused everywhere.
        "style-src": ["'self'", "'unsafe-inline'"],
        # The site's own images, and its media origin when MEDIA_URL is absolute (a bucket, a CDN).
        "img-src": ["'self'", "data:", *media_origin(MEDIA_URL)],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'self'"],
        "form-action": ["'self'"],
    }
}
# No report-only policy: django-csp's default, stated so that its middleware finds the setting on every response.
CONTENT_SECURITY_POLICY_REPORT_ONLY = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Tags: "Django" and "django" are one tag.
TAGGIT_CASE_INSENSITIVE = True
