"""Time zones, as both apps use them: which names a user may choose, and a person's own day.

Instants are stored in UTC; days are computed in the zone of the person they belong to.
"""

import zoneinfo
from functools import cache

from django.utils import timezone


@cache
def available_time_zones():
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name):
    return isinstance(name, str) and name in available_time_zones()


def zone(name):
    return zoneinfo.ZoneInfo(name)


def local_date(instant, time_zone):
    return instant.astimezone(zone(time_zone)).date()


def today_in(time_zone):
    """Today in the zone: a view is counted on its post author's day, and an author's stats end on theirs."""
    return timezone.localdate(timezone=zone(time_zone))
