"""Readers: distinct readers of a post on a day, estimated in Redis, and the views each reader may count a minute.

Redis knows a reader only as a hash, made here: the HMAC-SHA256, keyed by a random salt of the day, of the client's
address (as the rate limits see it: quick_publisher.ratelimits.client_address) and its user agent. The salt
(ReaderSalt) is kept in the database, one per day, and in each web process's memory; it never reaches Redis. Once
its day is over in every zone, the flush deletes it and each process forgets it: from then on nothing anywhere can
tell whose a hash was. Neither an address nor an agent is stored anywhere.

- ``views:readers:<post_id>:<date>``: a HyperLogLog of the post's readers that day (the author's day), each added as
  its hash with that day's salt; kept READERS_KEPT, and a flush stores its estimate with the day's views.
- ``views:reader-minute:<hash>:<minute>``: the views a reader counted in a minute, across the site, each reader
  hashed with the salt of the UTC day; kept READER_MINUTE_KEPT.
"""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.utils import timezone

from quick_publisher.ratelimits import client_address
from quick_publisher.redis_client import run_script

from ..models import ReaderSalt

logger = logging.getLogger(__name__)

READERS = "views:readers"
READER_MINUTE = "views:reader-minute"
READERS_KEPT = 9 * 24 * 3600  # seconds: a week of days, for weekly readers, and the days a flush may be late
READER_MINUTE_KEPT = 120  # seconds: its minute, and then some for web servers whose clocks differ a little
# The zones run from UTC-12 to UTC+14: a day is today somewhere for 50 hours, from its midnight at UTC+14 (10:00 UTC
# the day before) to its end at UTC-12 (12:00 UTC the day after). Its salt is deleted then.
BEHIND_UTC = timedelta(hours=12)

# The estimated readers of each HyperLogLog in KEYS, in order.
COUNT_READERS = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('PFCOUNT', key)
end
return counts
"""
READERS_PER_CALL = 5000


@dataclass(frozen=True)
class Reader:
    """A reader as Redis sees it: hashes only."""

    hash: str  # with the salt of the post author's day, for the post's readers that day
    minute_key: str  # the key of the reader's views this minute, across the site


def readers_key(post_id, day):
    return f"{READERS}:{post_id}:{day.isoformat()}"


def reader_of(request, *, day):
    """The request's reader, counted on `day` (the post author's); None when its address or the day's salt cannot
    be had (a misconfigured RATELIMIT_IP_META_KEY, the database away): the view then counts with no reader."""
    now = timezone.now()
    agent = request.META.get("HTTP_USER_AGENT", "")
    try:
        address = client_address(request)
        hashed = reader_hash(salt_of(day, now=now), address, agent)
        utc_day = now.astimezone(UTC).date()
        across_site = hashed if utc_day == day else reader_hash(salt_of(utc_day, now=now), address, agent)
    except (ImproperlyConfigured, ValueError, DatabaseError) as error:
        logger.warning("A view counted with no reader: %s", error)
        return None
    return Reader(hash=hashed, minute_key=f"{READER_MINUTE}:{across_site}:{int(now.timestamp()) // 60}")


def reader_hash(salt, address, user_agent):
    return hmac.new(salt.encode(), f"{address}\n{user_agent}".encode(), hashlib.sha256).hexdigest()


class SaltsInMemory:
    """This process's copy of the salts of the days in use ({day: salt}): a day's salt is read from the database
    (made there on first use, by whichever process comes first) once per process, and forgotten once the day is
    over in every zone, at the first call after that."""

    def __init__(self):
        self.salts = {}
        self.next_forgetting = datetime.min.replace(tzinfo=UTC)

    def salt(self, day, *, now):
        if now >= self.next_forgetting:
            self.forget_days_before(earliest_day_in_use(now))
        salt = self.salts.get(day)
        if salt is None:
            salt = ReaderSalt.objects.get_or_create(day=day, defaults={"salt": secrets.token_hex(32)})[0].salt
            self.salts[day] = salt
        return salt

    def forget_days_before(self, earliest):
        for day in [day for day in list(self.salts) if day < earliest]:  # list(): other threads may add one
            self.salts.pop(day, None)
        # The earliest day in use changes when it is midnight at UTC-12.
        self.next_forgetting = datetime.combine(earliest + timedelta(days=1), datetime.min.time(), UTC) + BEHIND_UTC


salts_in_memory = SaltsInMemory()


def salt_of(day, *, now):
    return salts_in_memory.salt(day, now=now)


def earliest_day_in_use(now):
    """The earliest day that is today somewhere (at UTC-12); the latest is at UTC+14."""
    return (now.astimezone(UTC) - BEHIND_UTC).date()


def delete_past_salts(now=None):
    """Delete the salts of the days that are over in every zone, from the database and this process's memory."""
    earliest = earliest_day_in_use(now or timezone.now())
    ReaderSalt.objects.filter(day__lt=earliest).delete()
    salts_in_memory.forget_days_before(earliest)


def readers_on(post_days):
    """{(post_id, date): estimated distinct readers that day} for the given post-days: counted in Redis by a script,
    a slice of days per call, so that a large flush neither pays a client round of work per day nor holds Redis
    for long in one call."""
    post_days = list(post_days)
    counts = []
    for start in range(0, len(post_days), READERS_PER_CALL):
        keys = [readers_key(post_id, day) for post_id, day in post_days[start : start + READERS_PER_CALL]]
        counts += run_script(COUNT_READERS, keys=keys, args=[])
    return dict(zip(post_days, counts, strict=True))
