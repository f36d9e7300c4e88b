"""Time zones, as both apps use them: which names a user may choose, and a person's own day.

Instants are stored in UTC; days are computed in the zone of the person they belong to.
"""

import importlib.resources
import zoneinfo
from datetime import datetime
from functools import cache

# Names zoneinfo may list or load that are no place's zone: the server's own setting (localtime, whatever the host
# is set to), IANA's placeholder for "no zone set yet" (Factory, whose abbreviation is "-00"), zic's default rules
# (posixrules), and the system's copies of every zone under posix/ and right/ (right/ counts leap seconds, which
# datetimes do not).
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
NOT_ZONE_PREFIXES = ("posix/", "right/")


def iana_names():
    """The zones and links of the IANA database, as the tzdata package lists them (zoneinfo loads them from it
    when the system has none); else what zoneinfo finds on the system, files and links alike."""
    try:
        return frozenset(importlib.resources.files("tzdata").joinpath("zones").read_text().split())
    except (ModuleNotFoundError, FileNotFoundError):
        return frozenset(zoneinfo.available_timezones())


@cache
def available_time_zones():
    """The names a user may choose: real zones only (the account form, sign-up and the User model check them)."""
    return frozenset(name for name in iana_names() if name not in NOT_ZONES and not name.startswith(NOT_ZONE_PREFIXES))


def is_time_zone(name):
    return isinstance(name, str) and name in available_time_zones()


def zone(name):
    return zoneinfo.ZoneInfo(name)


def local_date(instant, time_zone):
    return instant.astimezone(zone(time_zone)).date()


def today_in(time_zone):
    """Today in the zone: a view is counted on its post author's day, and an author's stats end on theirs."""
    return datetime.now(zone(time_zone)).date()
