"""When an author's report is due: pure time arithmetic in the author's zone, shared by main (the account form
recomputes it) and publisher (the tick advances it). Instants are aware datetimes in UTC.

A slot is the author's hour on a day the report leaves: every day (daily, about yesterday) or Monday (weekly,
about Monday to Sunday of the week before).
"""

import zoneinfo
from datetime import UTC, datetime, time, timedelta
from functools import cache

DAILY, WEEKLY, OFF = "daily", "weekly", "off"
LATEST_LATE_SEND = timedelta(hours=24)  # a slot missed by more than this is recorded as skipped, never sent


@cache
def available_time_zones():
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name):
    return isinstance(name, str) and name in available_time_zones()


def zone(name):
    return zoneinfo.ZoneInfo(name)


def local_date(instant, time_zone):
    return instant.astimezone(zone(time_zone)).date()


def instant_at(day, hour, time_zone):
    """`hour`:00 on `day` in the zone, in UTC. An hour skipped by a spring-forward gives the next instant that
    exists (the moment the clocks jump); an hour repeated by a fall-back gives its first occurrence."""
    tz = zone(time_zone)
    wall = datetime.combine(day, time(hour))
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall:
        return instant
    # In the gap: fold=0 read the wall time with the offset before the jump, which lands after it; step back to
    # the first minute whose wall time is not earlier than the one asked for (transitions fall on whole minutes).
    while (instant - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None) >= wall:
        instant -= timedelta(minutes=1)
    return instant


def next_slot(*, after, time_zone, hour, frequency, inclusive=False):
    """The first slot after the instant `after` (at or after it with `inclusive`), or None when reports are off."""
    if frequency not in (DAILY, WEEKLY):
        return None
    day = local_date(after, time_zone) - timedelta(days=1)
    while True:
        if frequency == DAILY or day.weekday() == 0:
            slot = instant_at(day, hour, time_zone)
            if slot > after or (inclusive and slot == after):
                return slot
        day += timedelta(days=1)


def first_slot_from_today(*, now, time_zone, hour, frequency):
    """After the choice changes: the first slot from the author's local midnight today, so that today's report
    still leaves (at once, if the new hour has passed) and a weekly author who chose on a Wednesday waits for
    Monday. A period already delivered is not sent again (deliveries are keyed by period)."""
    midnight = instant_at(local_date(now, time_zone), 0, time_zone)
    return next_slot(after=midnight, time_zone=time_zone, hour=hour, frequency=frequency, inclusive=True)


def period_of_slot(slot, *, time_zone, frequency):
    """(first day, last day) of the period the report at this slot covers, in the author's days."""
    day = local_date(slot, time_zone)
    if frequency == WEEKLY:
        return day - timedelta(days=7), day - timedelta(days=1)
    return day - timedelta(days=1), day - timedelta(days=1)


def last_complete_period(*, now, time_zone, frequency):
    """The period the author's latest report covers, sent or not: yesterday, or the last Monday-to-Sunday."""
    today = local_date(now, time_zone)
    if frequency == WEEKLY:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    return today - timedelta(days=1), today - timedelta(days=1)
