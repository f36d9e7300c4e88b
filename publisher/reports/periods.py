"""A report's period: one of the author's days (daily) or a Monday-to-Sunday week (weekly), and the authors due a
report for each period."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from quick_publisher.time_zones import local_date

from ..models import ReportKind

DAILY, WEEKLY = ReportKind.DAILY.value, ReportKind.WEEKLY.value
BARS = {DAILY: 14, WEEKLY: 8}  # bars in a report's picture: days, or weeks


@dataclass(frozen=True, order=True)
class Period:
    kind: str  # DAILY or WEEKLY
    start: date  # its first day, in the author's days

    @classmethod
    def of(cls, kind, start):
        """From stored or queued values (the kind as text, the start as a date or an ISO date)."""
        return cls(str(kind), start if isinstance(start, date) else date.fromisoformat(start))

    @classmethod
    def covered_by_slot(cls, slot, *, time_zone, kind):
        """The period the report sent at this slot (an instant) covers: the day before, or the week before."""
        day = local_date(slot, time_zone)
        return cls(kind, day - timedelta(days=7 if kind == WEEKLY else 1))

    @classmethod
    def latest_complete(cls, *, now, time_zone, kind):
        """The latest period over by `now` in the author's days: yesterday, or the last Monday-to-Sunday."""
        today = local_date(now, time_zone)
        if kind == WEEKLY:
            return cls(kind, today - timedelta(days=today.weekday() + 7))
        return cls(kind, today - timedelta(days=1))

    @property
    def step(self):
        """The span of one bar of the picture, and between a period and the one before."""
        return timedelta(days=7 if self.kind == WEEKLY else 1)

    @property
    def end(self):
        """Its last day."""
        return self.start + self.step - timedelta(days=1)

    @property
    def label(self):
        return f"{self.kind} {self.start.isoformat()}"

    def bar_starts(self):
        """The first day of each bar, oldest first: the last 14 days, or the last 8 weeks, ending with this one."""
        return [self.start - self.step * n for n in reversed(range(BARS[self.kind]))]

    def days_in_picture(self):
        """Every day from the first bar's to the period's end."""
        first = self.bar_starts()[0]
        return [first + timedelta(days=n) for n in range((self.end - first).days + 1)]

    def bar_of(self, day):
        """The first day of the bar that `day` falls in (the days between the first bar and the period's end)."""
        first = self.bar_starts()[0]
        return first + self.step * ((day - first) // self.step)


class AuthorsByPeriod:
    """Author ids grouped by the period each is due a report for: what the tick, a send by hand and a retry queue."""

    def __init__(self, pairs=()):
        self.groups = defaultdict(list)
        for period, author_id in pairs:
            self.add(period, author_id)

    @classmethod
    def from_rows(cls, rows):
        """From (kind, period start, author id) rows, as deliveries store them."""
        return cls((Period.of(kind, start), author_id) for kind, start, author_id in rows)

    def add(self, period, author_id):
        self.groups[period].append(author_id)

    def update(self, other):
        for period, author_ids in other.items():
            self.groups[period].extend(author_ids)

    def items(self):
        return self.groups.items()

    def periods(self):
        return set(self.groups)

    def labels(self):
        return {period.label for period in self.groups}

    def authors(self):
        """How many reports: each author once per period."""
        return sum(len(author_ids) for author_ids in self.groups.values())

    def __bool__(self):
        return bool(self.groups)
