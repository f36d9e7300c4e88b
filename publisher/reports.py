"""View-count reports at each author's hour: finding who is due (the 15-minute tick), choosing authors in chunks,
building each report, and delivering each once per author, kind and period. The tasks that share a run out are
queued by publisher.tasks.

Times: instants are UTC; days are the author's (quick_publisher.report_times does the arithmetic).
"""

import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone

from quick_publisher import report_times
from quick_publisher.emails import absolute_url

from . import services
from .emails import view_count_report_email
from .models import DailyPostViews, Post, ReportDelivery, ReportRun

User = get_user_model()
DAILY, WEEKLY = ReportDelivery.Kind.DAILY, ReportDelivery.Kind.WEEKLY
# A report whose hour passed more than this long ago is never sent; older missed slots are not even recorded.
CATCH_UP_AT_MOST = timedelta(days=8)
SERIES_LENGTH = {DAILY: 14, WEEKLY: 8}  # bars in the picture: days, or weeks


def period_end(kind, period_start):
    return period_start + timedelta(days=6 if kind == WEEKLY else 0)


def period_label(kind, period_start):
    return f"{kind} {period_start.isoformat()}"


# --- Who gets a report -----------------------------------------------------------------------------------------


def eligible_authors():
    published = Post.objects.filter(author=OuterRef("pk"), status=Post.Status.PUBLISHED)
    return services.report_receivers().filter(Exists(published))


def eligible_author_id_chunks(*, author_ids=None, size=None, frequency=None):
    """Lists of author ids, in id order, fetched a chunk at a time (keyset pagination, nothing held in memory)."""
    for chunk in eligible_author_chunks(author_ids=author_ids, size=size, frequency=frequency):
        yield [pk for pk, _, _ in chunk]


def eligible_author_chunks(*, author_ids=None, size=None, frequency=None):
    """Lists of (author id, time zone, frequency), in id order, a chunk at a time."""
    size = size or settings.REPORT_CHUNK_SIZE
    authors = eligible_authors()
    if author_ids is not None:
        authors = authors.filter(pk__in=author_ids)
    if frequency is not None:
        authors = authors.filter(report_frequency=frequency)
    last_id = 0
    while True:
        chunk = list(
            authors.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "report_time_zone", "report_frequency")[:size]
        )
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1][0]


def latest_periods(chunk, *, now, kind=None, period_start=None):
    """{(kind, period start): [author ids]} for (author id, zone, frequency) rows: each author's latest complete
    period in their own days (their yesterday, or their last Monday-to-Sunday), unless a period is given."""
    groups = defaultdict(list)
    for pk, time_zone, frequency in chunk:
        author_kind = kind or frequency
        start = (
            period_start or report_times.last_complete_period(now=now, time_zone=time_zone, frequency=author_kind)[0]
        )
        groups[author_kind, start].append(pk)
    return dict(groups)


# --- The tick: authors whose hour has come ---------------------------------------------------------------------


def due_authors(now):
    """On the next_report_at index: a range scan of the due, whatever the number of authors. next_report_at is
    set only while an author has a published post (services.keep_report_schedules), so no post is read here; the
    send checks eligibility again."""
    return services.report_receivers().filter(next_report_at__lte=now)


@dataclass
class DueChunk:
    groups: dict = field(default_factory=dict)  # {(kind, period start): [author ids to send to]}
    authors: int = 0
    skipped: int = 0


def missed_slots(*, slot, now, time_zone, hour, frequency):
    """The slots from `slot` up to `now`, and the first one after now. Slots older than CATCH_UP_AT_MOST (a
    platform down for weeks, an author who had stopped publishing) are passed over without a record."""
    if now - slot > CATCH_UP_AT_MOST:
        slot = report_times.next_slot(after=now - CATCH_UP_AT_MOST, time_zone=time_zone, hour=hour, frequency=frequency)
    slots = []
    while slot <= now:
        slots.append(slot)
        slot = report_times.next_slot(after=slot, time_zone=time_zone, hour=hour, frequency=frequency)
    return slots, slot


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
                .values_list("pk", "report_time_zone", "report_hour", "report_frequency", "next_report_at")[:size]
            )
            if not due:
                break
            if run is None:
                run = ReportRun.objects.create(ticked_at=now)
            chunk, deliveries, moved = DueChunk(authors=len(due)), [], []
            for pk, time_zone, hour, frequency, slot in due:
                slots, next_slot = missed_slots(slot=slot, now=now, time_zone=time_zone, hour=hour, frequency=frequency)
                for missed in slots:
                    start, _ = report_times.period_of_slot(missed, time_zone=time_zone, frequency=frequency)
                    delivery = ReportDelivery(author_id=pk, kind=frequency, period_start=start, run=run)
                    if now - missed > report_times.LATEST_LATE_SEND:
                        delivery.status = ReportDelivery.Status.SKIPPED
                        delivery.error = f"due at {missed:%Y-%m-%d %H:%M} UTC, more than 24 hours before a run"
                        chunk.skipped += 1
                    else:
                        chunk.groups.setdefault((frequency, start), []).append(pk)
                    deliveries.append(delivery)
                moved.append(User(pk=pk, next_report_at=next_slot))
            ReportDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)  # a period already recorded stays
            User.objects.bulk_update(moved, ["next_report_at"])
            periods = {period_label(kind, start) for kind, start in chunk.groups}
            run.periods = sorted(set(run.periods) | periods)
            run.authors_due += chunk.authors
            run.queued += sum(len(ids) for ids in chunk.groups.values())
            run.save(update_fields=["periods", "authors_due", "queued"])
        yield run, chunk


def stranded_deliveries(*, now=None):
    """{(kind, period start): [author ids]} of deliveries a tick recorded but whose task never ran (the broker
    lost it, or the tick died between its commit and queueing): queued again while still within 24 hours."""
    now = now or timezone.now()
    abandoned_before = now - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    stranded = ReportDelivery.objects.filter(
        status=ReportDelivery.Status.PENDING,
        run__isnull=False,
        created_at__lt=abandoned_before,
        created_at__gte=now - report_times.LATEST_LATE_SEND,
    ).values_list("kind", "period_start", "author_id")
    groups = defaultdict(list)
    for kind, start, author_id in stranded:
        groups[kind, start].append(author_id)
    return dict(groups)


# --- Delivering, once ------------------------------------------------------------------------------------------


def deliveries_of(author_ids, *, kind, period_start):
    return ReportDelivery.objects.filter(author_id__in=author_ids, kind=kind, period_start=period_start)


def claim_lease():
    return timedelta(seconds=settings.REPORT_CLAIM_LEASE)


def claim_deliveries(*, author_ids, period_start, task_id, claim_token, kind=DAILY):
    """Claim the deliveries of these authors for this period for one execution of a task (its claim_token), and
    return the claimed author ids.

    Claimable: never tried, failed before, let go by an execution that stopped early, or held by a claim that has
    lapsed (its execution died, or is cut off and will find the claim gone when it renews it). A live claim is left
    alone, even one of this very task: a redelivered message keeps its task id while the worker that took it first
    may still be sending. Skipped and sent ones never are.
    """
    ReportDelivery.objects.bulk_create(
        [ReportDelivery(author_id=pk, kind=kind, period_start=period_start) for pk in author_ids],
        ignore_conflicts=True,
    )
    now = timezone.now()
    claimable = Q(status__in=[ReportDelivery.Status.PENDING, ReportDelivery.Status.FAILED]) | Q(
        Q(claimed_at__isnull=True) | Q(claimed_at__lte=now - claim_lease()), status=ReportDelivery.Status.SENDING
    )
    with transaction.atomic():
        claimed = list(
            deliveries_of(author_ids, kind=kind, period_start=period_start)
            .select_for_update(skip_locked=True)
            .filter(claimable)
            .values_list("author_id", flat=True)
        )
        deliveries_of(claimed, kind=kind, period_start=period_start).update(
            status=ReportDelivery.Status.SENDING, task_id=task_id, claim_token=claim_token, claimed_at=now, error=""
        )
    return claimed


def renew_claims(*, author_ids, kind, period_start, claim_token):
    """Before sending: which of these deliveries this execution still holds, their leases renewed from now, and
    until when they may be sent (while at least half a lease is left).

    One conditional UPDATE: a successor that took a delivery over (its lease lapsed while this worker was cut off
    or stalled) holds it under its own token, or has sent it, and then it is not sent here; only when some are no
    longer held does one more query say which. The lease runs from before the UPDATE left, so an answer held up by
    the network counts against it: with less than half a lease left, the claims are renewed again.
    """
    held = deliveries_of(author_ids, kind=kind, period_start=period_start).filter(
        status=ReportDelivery.Status.SENDING, claim_token=claim_token
    )
    while True:
        renewed_at = timezone.now()
        renewed = held.update(claimed_at=renewed_at)
        if timezone.now() - renewed_at < claim_lease() / 2:
            break
    held_ids = set(author_ids) if renewed == len(set(author_ids)) else set(held.values_list("author_id", flat=True))
    return held_ids, renewed_at + claim_lease() / 2


def release_claims(*, claim_token):
    """An execution that stops early (the SMTP server failed it, and its task will retry) lets its claims go at
    once, so that the next attempt need not wait for them to lapse. With the database unreachable, they lapse."""
    try:
        ReportDelivery.objects.filter(claim_token=claim_token, status=ReportDelivery.Status.SENDING).update(
            claimed_at=None
        )
    except (OperationalError, InterfaceError):
        pass


def claims_of_another_execution_lapse_at(*, author_ids, kind, period_start, task_id, claim_token):
    """When the first of the claims that another execution of this very task holds on these deliveries lapses
    (None if there are none): this execution tries again then."""
    held = (
        deliveries_of(author_ids, kind=kind, period_start=period_start)
        .filter(status=ReportDelivery.Status.SENDING, task_id=task_id, claimed_at__isnull=False)
        .exclude(claim_token=claim_token)
    )
    first = held.aggregate(first=Min("claimed_at"))["first"]
    return first + claim_lease() if first else None


def series_days(kind, period_start):
    """The first day of each bar, oldest first: the last 14 days, or the last 8 weeks, ending with the period."""
    step = 7 if kind == WEEKLY else 1
    return [period_start - timedelta(days=step * n) for n in reversed(range(SERIES_LENGTH[kind]))]


def build_reports(*, author_ids, period_start, kind=DAILY):
    """Each author's report for the period, from three queries whatever the number of authors and posts: the
    authors, their published posts, and the daily views of those posts over the whole picture."""
    step = 7 if kind == WEEKLY else 1
    end = period_end(kind, period_start)
    bar_starts = series_days(kind, period_start)
    authors = User.objects.filter(pk__in=author_ids).only("pk", "email", "full_name", "report_time_zone").order_by("pk")
    posts = list(
        Post.objects.filter(author_id__in=author_ids, status=Post.Status.PUBLISHED)
        .order_by("author_id", "pk")
        .values_list("pk", "author_id", "title", "slug", "view_count", "published_at")
    )
    # Totals as the post pages show them: the database plus views not flushed yet.
    total_views = services.current_view_counts({post[0]: post[4] for post in posts})
    views = defaultdict(int)  # {(post id, first day of its bar): views}
    daily = DailyPostViews.objects.filter(
        post__author_id__in=author_ids, post__status=Post.Status.PUBLISHED, date__gte=bar_starts[0], date__lte=end
    ).values_list("post_id", "date", "views")
    for post_id, day, count in daily:
        views[post_id, bar_starts[0] + timedelta(days=(day - bar_starts[0]).days // step * step)] += count

    rows_by_author = defaultdict(list)
    authors = list(authors)
    zones = {author.pk: author.report_time_zone for author in authors}
    for post_id, author_id, title, slug, _, published_at in posts:
        if published_at and report_times.local_date(published_at, zones[author_id]) > end:
            continue  # published after the period: not in its report
        series = [(start, views[post_id, start]) for start in bar_starts]
        in_period, before = series[-1][1], series[-2][1]
        rows_by_author[author_id].append(
            {
                "title": title,
                "url": absolute_url("post_detail", args=[slug]),
                "total_views": total_views[post_id],
                "views_in_period": in_period,
                "change": in_period - before,
                "series": series,
            }
        )
    reports = []
    for author in authors:
        rows = sorted(
            rows_by_author.get(author.pk, []), key=lambda r: (-r["views_in_period"], -r["total_views"], r["title"])
        )
        if not rows:
            continue
        total_series = [(start, sum(r["series"][i][1] for r in rows)) for i, start in enumerate(bar_starts)]
        reports.append(
            {
                "author": author,
                "kind": kind,
                "period_start": period_start,
                "period_end": end,
                "rows": rows,
                "totals": {
                    "total_views": sum(r["total_views"] for r in rows),
                    "views_in_period": sum(r["views_in_period"] for r in rows),
                    "change": sum(r["change"] for r in rows),
                    "series": total_series,
                },
            }
        )
    return reports


class ReportsNotRecorded(Exception):
    """The SMTP server accepted these authors' reports, but the database could not record them as sent."""

    def __init__(self, author_ids):
        super().__init__(f"reports accepted by the SMTP server, not recorded as sent: authors {author_ids}")
        self.author_ids = author_ids


class ClaimedByAnotherExecution(Exception):
    """Some of the deliveries are claimed by another execution of this very task: its message was delivered again
    (its worker was cut off from the broker) while that execution may still be sending. Try again at lapses_at."""

    def __init__(self, lapses_at):
        super().__init__(f"deliveries claimed by another execution of this task until {lapses_at:%H:%M:%S} UTC")
        self.lapses_at = lapses_at


def send_reports_to_authors(*, author_ids, period_start, task_id, kind=DAILY, accepted_author_ids=()):
    """Deliver the period's report to each of these authors who is still eligible and has not had it yet.

    accepted_author_ids: reports that an earlier attempt of this task handed to the SMTP server but could not
    record, the database being unreachable. They are recorded now and not sent again.
    """
    claim_token = secrets.token_hex(16)  # this execution's own: a redelivered message keeps its task id
    accepted = list(accepted_author_ids)
    for author_id in accepted:
        _mark_sent(author_id=author_id, kind=kind, period_start=period_start)
    eligible = list(eligible_authors().filter(pk__in=author_ids).exclude(pk__in=accepted).values_list("pk", flat=True))
    _skip_deliveries_of_authors_no_longer_eligible(
        author_ids=set(author_ids) - set(eligible) - set(accepted), kind=kind, period_start=period_start
    )
    claimed = claim_deliveries(
        author_ids=eligible, kind=kind, period_start=period_start, task_id=task_id, claim_token=claim_token
    )
    sent = list(accepted)
    to_send = build_reports(author_ids=claimed, kind=kind, period_start=period_start) if claimed else []
    _release_claims_with_nothing_to_report(
        author_ids=set(claimed) - {report["author"].pk for report in to_send},
        kind=kind,
        period_start=period_start,
        claim_token=claim_token,
    )
    try:
        sent += _send_while_claimed(
            to_send, kind=kind, period_start=period_start, claim_token=claim_token, accepted=accepted
        )
    except Exception:
        release_claims(claim_token=claim_token)
        raise
    lapses_at = claims_of_another_execution_lapse_at(
        author_ids=eligible, kind=kind, period_start=period_start, task_id=task_id, claim_token=claim_token
    )
    if lapses_at:
        raise ClaimedByAnotherExecution(lapses_at)
    return {
        "kind": kind,
        "date": period_start.isoformat(),
        "authors": len(author_ids),
        "sent": len(sent),
        "sent_to": sent,
        "skipped": len(author_ids) - len(sent),
    }


def _send_while_claimed(to_send, *, kind, period_start, claim_token, accepted):
    """Send each report whose delivery this execution still holds, on one SMTP connection; the authors sent to.
    The claims are renewed together, and again whenever less than half a lease would be left for a send."""
    sent, held, send_before = [], set(), None
    if not to_send:
        return sent
    with get_connection() as connection:
        for number, report in enumerate(to_send):
            author_id = report["author"].pk
            if send_before is None or timezone.now() >= send_before:
                held, send_before = renew_claims(
                    author_ids=[later["author"].pk for later in to_send[number:]],
                    kind=kind,
                    period_start=period_start,
                    claim_token=claim_token,
                )
            if author_id not in held:
                continue  # a successor took it over after this execution's lease lapsed
            view_count_report_email(report, connection=connection).send()
            try:
                _mark_sent(author_id=author_id, kind=kind, period_start=period_start)
            except (OperationalError, InterfaceError) as exc:
                # A plain retry would claim this delivery again and send it twice: say that it left.
                raise ReportsNotRecorded([*accepted, author_id]) from exc
            sent.append(author_id)
    return sent


def _skip_deliveries_of_authors_no_longer_eligible(*, author_ids, kind, period_start):
    """Turned off (or unpublished everything) between the tick and the send: their report is not sent, and an
    author left without a published post is due no more reports until they publish again."""
    if author_ids:
        deliveries_of(author_ids, kind=kind, period_start=period_start).filter(
            status=ReportDelivery.Status.PENDING
        ).update(status=ReportDelivery.Status.SKIPPED, error="no longer receives reports when it was to be sent")
        services.keep_report_schedules(author_ids)


def _release_claims_with_nothing_to_report(*, author_ids, kind, period_start, claim_token):
    """Authors whose last post was unpublished since they were found eligible: no report, and no claim left
    behind as "sending" (should they publish again, the admin's "send now" may still mail them)."""
    if author_ids:
        deliveries_of(author_ids, kind=kind, period_start=period_start).filter(
            claim_token=claim_token, status=ReportDelivery.Status.SENDING
        ).delete()


def _mark_sent(*, author_id, kind, period_start):
    # Whoever holds the claim: the SMTP server has the report, and a renewal by anyone else now fails.
    ReportDelivery.objects.filter(author_id=author_id, kind=kind, period_start=period_start).update(
        status=ReportDelivery.Status.SENT, sent_at=timezone.now()
    )


def mark_deliveries_failed(*, task_id, error):
    """Once a task gives up, the deliveries it still held are visibly failed (a later run may retry them)."""
    return ReportDelivery.objects.filter(task_id=task_id, status=ReportDelivery.Status.SENDING).update(
        status=ReportDelivery.Status.FAILED, error=error[:2000]
    )


def failed_delivery_groups(*, delivery_ids):
    """{(kind, period start): [author ids]} of these deliveries that failed: what the admin's retry sends again."""
    groups = defaultdict(list)
    failed = ReportDelivery.objects.filter(pk__in=delivery_ids, status=ReportDelivery.Status.FAILED)
    for kind, start, author_id in failed.values_list("kind", "period_start", "author_id"):
        groups[kind, start].append(author_id)
    return dict(groups)


def turn_off_reports(*, user_id):
    return User.objects.filter(pk=user_id).update(report_frequency=report_times.OFF, next_report_at=None)


# --- Report runs -----------------------------------------------------------------------------------------------


def run_progress(run):
    """What became of a run's reports, from its delivery records."""
    counts = dict(run.deliveries.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    status = ReportDelivery.Status
    done = sum(counts.get(s, 0) for s in (status.SENT, status.FAILED, status.SKIPPED))
    total = sum(counts.values())
    last_sent = run.deliveries.filter(status=status.SENT).order_by("-sent_at").values_list("sent_at", flat=True).first()
    finished = total > 0 and done == total
    return {
        "id": run.pk,
        "ticked_at": run.ticked_at.isoformat(),
        "periods": run.periods,
        "authors_due": run.authors_due,
        "queued": run.queued,
        "sent": counts.get(status.SENT, 0),
        "failed": counts.get(status.FAILED, 0),
        "skipped": counts.get(status.SKIPPED, 0),
        "in_progress": counts.get(status.PENDING, 0) + counts.get(status.SENDING, 0),
        "total": total,
        "finished": finished,
        "finished_at": (last_sent.isoformat() if last_sent else None) if finished else None,
    }
