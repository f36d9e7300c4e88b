"""Where images are stored and served from, as the environment says: on disk under MEDIA_ROOT, or in a bucket whose
public address is MEDIA_URL, which the Content-Security-Policy then allows images from."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.factories import PostFactory

SHOW_SETTINGS = """
import json, django
django.setup()
import pytest
from django.conf import settings

from tests.factories import PostFactory
from django.core.files.storage import default_storage
print(json.dumps({
    "backend": settings.STORAGES["default"]["BACKEND"],
    "url": default_storage.url("images/abc/original.jpg"),
    "img_src": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"],
}))
"""


def settings_with(**environment):
    env = {
        **os.environ,
        "ENV_FILE": os.devnull,
        "DJANGO_SETTINGS_MODULE": "quick_publisher.settings",
        "SECRET_KEY": "x",
        **environment,
    }
    for name in ("MEDIA_ROOT", "MEDIA_URL", "MEDIA_BUCKET"):
        if name not in environment:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", SHOW_SETTINGS], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True
    )


def test_by_default_images_are_files_under_media_root_served_by_the_site_itself():
    shown = json.loads(settings_with().stdout)
    assert shown == {
        "backend": "django.core.files.storage.FileSystemStorage",
        "url": "/media/images/abc/original.jpg",
        "img_src": ["'self'", "data:"],
    }


def test_with_a_bucket_images_are_stored_there_and_allowed_from_its_public_address():
    run = settings_with(MEDIA_BUCKET="qp-images", MEDIA_URL="https://media.example.com/qp/")
    assert json.loads(run.stdout) == {
        "backend": "storages.backends.s3.S3Storage",
        "url": "https://media.example.com/qp/images/abc/original.jpg",
        "img_src": ["'self'", "data:", "https://media.example.com"],
    }


def test_a_bucket_without_its_public_address_is_a_configuration_error():
    run = settings_with(MEDIA_BUCKET="qp-images")
    assert run.returncode != 0 and "MEDIA_URL must be the bucket's public address" in run.stderr


@pytest.mark.django_db
def test_a_post_page_allows_images_from_the_site_and_no_other(client):
    csp = client.get(f"/{PostFactory().slug}/").headers["Content-Security-Policy"]
    # django-csp writes the directives in no fixed order: read them by name.
    directives = dict(directive.strip().split(" ", 1) for directive in csp.split(";") if directive.strip())
    assert directives["img-src"] == "'self' data:"
