"""Settings for bench/views.py only: the project's own settings, with the benchmark's URLs on top."""

import os

from quick_publisher.settings import *  # noqa: F403

ROOT_URLCONF = "bench.views_urls"

# BENCH_POST_PAGE_CACHE=local: each web process's post page cache alone, without the shared tier behind it, to
# compare with the two tiers the project ships.
if os.environ.get("BENCH_POST_PAGE_CACHE") == "local":
    CACHES = {  # noqa: F405
        **CACHES,  # noqa: F405
        "shared_post_pages": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
