"""Uploaded images (publisher/images/): where their files are stored and served, and the limits of an upload."""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from .environment import VAR_DIR, env

# --- Uploaded images (publisher/images/) ----------------------------------------------------------
# On disk under MEDIA_ROOT by default (served by `make run` with DEBUG, by the web server in production), or in an
# S3-compatible bucket when MEDIA_BUCKET is set; MEDIA_URL is then the bucket's public address.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_BUCKET = env.str("MEDIA_BUCKET", default="")
STORAGES = {
    "default": {
        # Renditions are written under names of their own, again when made again: overwritten, never doubled.
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"allow_overwrite": True},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if MEDIA_BUCKET:
    if not MEDIA_URL.startswith(("https://", "http://")):
        raise ImproperlyConfigured("With MEDIA_BUCKET, MEDIA_URL must be the bucket's public address (https://...).")
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_BUCKET,
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="") or None,
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            # Public objects at MEDIA_URL: links in cached pages and feeds must not expire.
            "custom_domain": MEDIA_URL.split("://", 1)[1].rstrip("/"),
            "url_protocol": MEDIA_URL.split("://", 1)[0] + ":",
            "querystring_auth": False,
            "file_overwrite": True,
        },
    }
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
IMAGE_RENDITION_WIDTHS = env.list("IMAGE_RENDITION_WIDTHS", cast=int, default=[480, 960, 1600])
# Files in the images folder that no image refers to are deleted by the sweep once they are this old (an upload
# being saved, or renditions being made, are not orphans yet).
IMAGE_ORPHAN_MIN_AGE = timedelta(seconds=env.int("IMAGE_ORPHAN_MIN_AGE", default=3600))
