"""Who gets a report: authors who receive reports and have a published post, chosen in chunks."""

from django.conf import settings
from django.contrib.auth import get_user_model

from .periods import AuthorsByPeriod, Period
from .preferences import has_published_post, receivers

User = get_user_model()


def eligible_authors():
    """Preferences (their pk is the author's id) of the authors due reports now."""
    return receivers().filter(has_published_post())


def eligible_author_chunks(*, author_ids=None, size=None, frequency=None):
    """Lists of (author id, time zone, frequency), in id order, a chunk at a time (keyset pagination: nothing is
    held in memory)."""
    size = size or settings.REPORT_CHUNK_SIZE
    authors = eligible_authors()
    if author_ids is not None:
        authors = authors.filter(pk__in=author_ids)
    if frequency is not None:
        authors = authors.filter(frequency=frequency)
    last_id = 0
    while True:
        # The bound again on the users' side of the join: PostgreSQL does not carry it across, and would merge the
        # chunk with every user from the first, each chunk reading more of them than the one before.
        after = authors.filter(pk__gt=last_id, author__in=User.objects.filter(pk__gt=last_id))
        chunk = list(after.order_by("pk").values_list("pk", "author__time_zone", "frequency")[:size])
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1][0]


def eligible_author_id_chunks(*, author_ids=None, size=None, frequency=None):
    """Lists of author ids, in id order, a chunk at a time."""
    for chunk in eligible_author_chunks(author_ids=author_ids, size=size, frequency=frequency):
        yield [pk for pk, _, _ in chunk]


def latest_periods(chunk, *, now, kind=None, period_start=None):
    """The authors of (author id, zone, frequency) rows by period: each one's latest complete period in their own
    days (their yesterday, or their last Monday-to-Sunday), of `kind` if given, or the one starting on
    `period_start` if given."""
    groups = AuthorsByPeriod()
    for pk, time_zone, frequency in chunk:
        author_kind = kind or frequency
        if period_start is None:
            period = Period.latest_complete(now=now, time_zone=time_zone, kind=author_kind)
        else:
            period = Period(author_kind, period_start)
        groups.add(period, pk)
    return groups
