"""What CI requires to be present: a test that would be skipped for want of it fails there instead."""

import os

import pytest


def required(what):
    """CI sets REQUIRE_POSTGRES=1, REQUIRE_BROWSER=1, REQUIRE_PRIVATE_REDIS=1 and REQUIRE_NETNS=1 where it provides
    those things: there a test that would be skipped for want of one fails instead, so a run cannot go green without
    the real thing."""
    return os.environ.get(f"REQUIRE_{what}", "").strip() not in ("", "0")


def skip_unless_required(what, reason):
    if required(what):
        pytest.fail(f"REQUIRE_{what} is set, and yet: {reason}", pytrace=False)
    pytest.skip(reason)
