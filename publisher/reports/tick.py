"""The 15-minute tick: the authors whose hour has come, recorded as deliveries to send, a chunk at a time."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import ReportDelivery, ReportPreferences, ReportRun
from .periods import AuthorsByPeriod, Period
from .preferences import receivers
from .schedule import LATEST_LATE_SEND, missed_slots


def due_authors(now):
    """On the next_report_at index: a range scan of the due, whatever the number of authors. next_report_at is
    set only while an author has a published post, so no post is read here; the send checks eligibility again."""
    return receivers().filter(next_report_at__lte=now)


@dataclass
class DueChunk:
    groups: AuthorsByPeriod = field(default_factory=AuthorsByPeriod)  # the reports to send
    authors: int = 0
    skipped: int = 0


def take_due_reports(*, now=None, size=None):
    """Find the authors whose report is due, a chunk at a time, and in one transaction per chunk record a delivery
    for each period due (pending, or skipped when its hour passed more than LATEST_LATE_SEND ago) and move their
    next_report_at on. Yields (run, DueChunk) for each chunk, after its commit: the caller queues the sends.

    Rows are locked with SKIP LOCKED, so two ticks at once take different authors; should both take one anyway,
    its delivery is keyed by period and claimed once. Each chunk moves its authors past `now`, so the next query
    finds the next chunk; in the index's order, a LIMIT stops the scan early however stale the statistics.
    """
    now = now or timezone.now()
    size = size or settings.REPORT_TICK_CHUNK_SIZE
    run = None
    while True:
        with transaction.atomic():
            due = list(
                due_authors(now)
                .order_by("next_report_at")
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", "author__time_zone", "hour", "frequency", "next_report_at")[:size]
            )
            if not due:
                break
            run = run or ReportRun.objects.create(ticked_at=now)
            chunk = record_due_chunk(due, run=run, now=now)
        yield run, chunk


def record_due_chunk(due, *, run, now):
    """Record the deliveries of these due authors' missed slots, move each one's next report on, and count them
    in the run."""
    chunk, deliveries, moved = DueChunk(authors=len(due)), [], []
    for pk, time_zone, hour, frequency, slot in due:
        slots, next_slot = missed_slots(slot=slot, now=now, time_zone=time_zone, hour=hour, frequency=frequency)
        for missed in slots:
            period = Period.covered_by_slot(missed, time_zone=time_zone, kind=frequency)
            delivery = ReportDelivery(author_id=pk, kind=period.kind, period_start=period.start, run=run)
            if now - missed > LATEST_LATE_SEND:
                delivery.status = ReportDelivery.Status.SKIPPED
                delivery.error = f"due at {missed:%Y-%m-%d %H:%M} UTC, more than 24 hours before a run"
                chunk.skipped += 1
            else:
                chunk.groups.add(period, pk)
            deliveries.append(delivery)
        moved.append(ReportPreferences(pk=pk, next_report_at=next_slot))
    ReportDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)  # a period already recorded stays
    ReportPreferences.objects.bulk_update(moved, ["next_report_at"])
    run.periods = sorted(set(run.periods) | chunk.groups.labels())
    run.authors_due += chunk.authors
    run.queued += chunk.groups.authors()
    run.save(update_fields=["periods", "authors_due", "queued"])
    return chunk


def stranded_deliveries(*, now=None):
    """Deliveries a tick recorded but whose task never ran (the broker lost it, or the tick died between its
    commit and queueing), by period: queued again while still within 24 hours."""
    now = now or timezone.now()
    abandoned_before = now - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    stranded = ReportDelivery.objects.filter(
        status=ReportDelivery.Status.PENDING,
        run__isnull=False,
        created_at__lt=abandoned_before,
        created_at__gte=now - LATEST_LATE_SEND,
    )
    return AuthorsByPeriod.from_rows(stranded.values_list("kind", "period_start", "author_id"))
