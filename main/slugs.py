"""Authors' public slugs (the address of their author page): from their full name, never from their email address,
which is personal data. A name that makes no slug ("", "***") gives a neutral one."""

import re

from slugify import slugify

NEUTRAL_SLUG = "author"
MAX_LENGTH = 140  # the base; a suffix for a twin name fits in the field's 160


def slug_base(full_name):
    return slugify(full_name or "", max_length=MAX_LENGTH, word_boundary=True) or NEUTRAL_SLUG


def slug_fits_name(slug, full_name):
    """The slug was derived from this name (with or without a twin's suffix): kept, so an author's address only
    moves when their name does."""
    return bool(slug) and re.fullmatch(rf"{re.escape(slug_base(full_name))}(-\d+)?", slug) is not None


def free_slug(full_name, taken):
    """The name's slug, with the first free suffix when `taken` (a set of slugs) holds it."""
    base = slug_base(full_name)
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate
