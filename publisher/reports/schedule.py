"""When an author's report is due: slots at the author's hour, in their zone. Instants are aware datetimes in UTC.

A slot is the author's hour on a day a report leaves: every day (daily, about yesterday) or Monday (weekly, about
Monday to Sunday of the week before).
"""

from datetime import UTC, datetime, time, timedelta

from quick_publisher.time_zones import local_date, zone

from .periods import DAILY, WEEKLY

LATEST_LATE_SEND = timedelta(hours=24)  # a slot missed by more than this is recorded as skipped, never sent
# A report whose hour passed more than this long ago is never sent; older missed slots are not even recorded.
CATCH_UP_AT_MOST = timedelta(days=8)


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


def missed_slots(*, slot, now, time_zone, hour, frequency):
    """The slots from `slot` up to `now`, and the first one after now. Slots older than CATCH_UP_AT_MOST (a
    platform down for weeks, an author who had stopped publishing) are passed over without a record."""
    if now - slot > CATCH_UP_AT_MOST:
        slot = next_slot(after=now - CATCH_UP_AT_MOST, time_zone=time_zone, hour=hour, frequency=frequency)
    slots = []
    while slot <= now:
        slots.append(slot)
        slot = next_slot(after=slot, time_zone=time_zone, hour=hour, frequency=frequency)
    return slots, slot
