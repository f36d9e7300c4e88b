"""Settings for bench/views.py only: the project's own settings, with the benchmark's URLs on top."""

from quick_publisher.settings import *  # noqa: F403

ROOT_URLCONF = "bench.views_urls"
