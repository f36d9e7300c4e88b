"""Settings for bench/views.py only: the project's own settings, with the benchmark's URLs on top."""

import os

from quick_publisher.settings import *  # noqa: F403

ROOT_URLCONF = "bench.views_urls"

# BENCH_POST_PAGE_CACHE=shared: the post page cache in Redis, one for all web processes, to compare with the
# per-process cache the project ships.
if os.environ.get("BENCH_POST_PAGE_CACHE") == "shared":
    CACHES = {  # noqa: F405
        **CACHES,  # noqa: F405
        "post_pages": {**CACHES["default"], "TIMEOUT": CACHES["post_pages"]["TIMEOUT"], "KEY_PREFIX": "post-pages"},  # noqa: F405
    }
