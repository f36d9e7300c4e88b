"""Daily view-count reports: choosing the authors in chunks, and delivering each report once (the tasks that
share a run out are queued by publisher.tasks)."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from quick_publisher.emails import absolute_url

from .emails import view_count_report_email
from .models import DailyPostViews, Post, ReportDelivery

User = get_user_model()


def default_report_date():
    """Yesterday, in TIME_ZONE."""
    return timezone.localdate() - timedelta(days=1)


def eligible_authors():
    published = Post.objects.filter(author=OuterRef("pk"), status=Post.Status.PUBLISHED)
    return User.objects.filter(is_active=True, is_verified=True).exclude(report_frequency="off").filter(Exists(published))


def eligible_author_id_chunks(*, author_ids=None, size=None):
    """Lists of author ids, in id order, fetched a chunk at a time (keyset pagination, nothing held in memory)."""
    size = size or settings.REPORT_CHUNK_SIZE
    authors = eligible_authors()
    if author_ids is not None:
        authors = authors.filter(pk__in=author_ids)
    last_id = 0
    while True:
        chunk = list(authors.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:size])
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1]


def claim_deliveries(*, author_ids, report_date, task_id):
    """Claim the deliveries of these authors for this task and return the claimed author ids.

    Claimable: never tried, failed before, or already claimed by this very task (a retry, or a message
    redelivered after its worker died). A claim held by another task is left alone unless it is older than
    any task may run, so two runs at once never mail the same author.
    """
    ReportDelivery.objects.bulk_create(
        [ReportDelivery(author_id=pk, report_date=report_date) for pk in author_ids], ignore_conflicts=True
    )
    now = timezone.now()
    abandoned_before = now - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
    claimable = (
        Q(status__in=[ReportDelivery.Status.PENDING, ReportDelivery.Status.FAILED])
        | Q(status=ReportDelivery.Status.SENDING, task_id=task_id)
        | Q(status=ReportDelivery.Status.SENDING, claimed_at__lt=abandoned_before)
    )
    with transaction.atomic():
        claimed = list(
            ReportDelivery.objects.select_for_update(skip_locked=True)
            .filter(author_id__in=author_ids, report_date=report_date)
            .filter(claimable)
            .values_list("author_id", flat=True)
        )
        ReportDelivery.objects.filter(author_id__in=claimed, report_date=report_date).update(
            status=ReportDelivery.Status.SENDING, task_id=task_id, claimed_at=now, error=""
        )
    return claimed


def build_reports(*, author_ids, report_date):
    """Each author's report for the date, from two queries whatever the number of authors and posts."""
    day_before = report_date - timedelta(days=1)

    def views_on(day):
        daily = DailyPostViews.objects.filter(post=OuterRef("pk"), date=day).values("views")[:1]
        return Coalesce(Subquery(daily), 0)

    authors = User.objects.filter(pk__in=author_ids).only("pk", "email", "full_name").order_by("pk")
    posts = (
        Post.objects.filter(author_id__in=author_ids, status=Post.Status.PUBLISHED)
        .annotate(views_on_date=views_on(report_date), views_day_before=views_on(day_before))
        .order_by("author_id", "-views_on_date", "-view_count", "title")
        .values_list("author_id", "title", "slug", "view_count", "views_on_date", "views_day_before")
    )
    rows_by_author = {}
    for author_id, title, slug, view_count, views_on_date, views_day_before in posts:
        rows_by_author.setdefault(author_id, []).append(
            {
                "title": title,
                "url": absolute_url("post_detail", args=[slug]),
                "total_views": view_count,
                "views_on_date": views_on_date,
                "change": views_on_date - views_day_before,
            }
        )
    reports = []
    for author in authors:
        rows = rows_by_author.get(author.pk, [])
        if rows:
            reports.append(
                {
                    "author": author,
                    "date": report_date,
                    "rows": rows,
                    "totals": {
                        "total_views": sum(r["total_views"] for r in rows),
                        "views_on_date": sum(r["views_on_date"] for r in rows),
                        "change": sum(r["change"] for r in rows),
                    },
                }
            )
    return reports


class ReportsNotRecorded(Exception):
    """The SMTP server accepted these authors' reports, but the database could not record them as sent."""

    def __init__(self, author_ids):
        super().__init__(f"reports accepted by the SMTP server, not recorded as sent: authors {author_ids}")
        self.author_ids = author_ids


def send_reports_to_authors(*, author_ids, report_date, task_id, accepted_author_ids=()):
    """Deliver the date's report to each of these authors who is still eligible and has not had it yet.

    accepted_author_ids: reports that an earlier attempt of this task handed to the SMTP server but could not
    record, the database being unreachable. They are recorded now and not sent again.
    """
    accepted = list(accepted_author_ids)
    for author_id in accepted:
        _mark_sent(author_id=author_id, report_date=report_date, task_id=task_id)
    eligible = list(eligible_authors().filter(pk__in=author_ids).exclude(pk__in=accepted).values_list("pk", flat=True))
    claimed = claim_deliveries(author_ids=eligible, report_date=report_date, task_id=task_id)
    sent = list(accepted)
    to_send = build_reports(author_ids=claimed, report_date=report_date) if claimed else []
    _release_claims_with_nothing_to_report(
        author_ids=set(claimed) - {report["author"].pk for report in to_send}, report_date=report_date, task_id=task_id
    )
    if to_send:
        with get_connection() as connection:
            for report in to_send:
                view_count_report_email(report, connection=connection).send()
                try:
                    _mark_sent(author_id=report["author"].pk, report_date=report_date, task_id=task_id)
                except (OperationalError, InterfaceError) as exc:
                    # A plain retry would claim this delivery again and send it twice: say that it left.
                    raise ReportsNotRecorded([*accepted, report["author"].pk]) from exc
                sent.append(report["author"].pk)
    return {
        "date": report_date.isoformat(),
        "authors": len(author_ids),
        "sent": len(sent),
        "sent_to": sent,
        "skipped": len(author_ids) - len(sent),
    }


def _release_claims_with_nothing_to_report(*, author_ids, report_date, task_id):
    """Authors whose last post was unpublished since they were found eligible: no report, and no claim left
    behind as "sending" (should they publish again today, the admin's "send now" may still mail them)."""
    if author_ids:
        ReportDelivery.objects.filter(
            author_id__in=author_ids, report_date=report_date, task_id=task_id, status=ReportDelivery.Status.SENDING
        ).delete()


def _mark_sent(*, author_id, report_date, task_id):
    ReportDelivery.objects.filter(author_id=author_id, report_date=report_date, task_id=task_id).update(
        status=ReportDelivery.Status.SENT, sent_at=timezone.now()
    )


def mark_deliveries_failed(*, task_id, error):
    """Once a task gives up, the deliveries it still held are visibly failed (a later run may retry them)."""
    return ReportDelivery.objects.filter(task_id=task_id, status=ReportDelivery.Status.SENDING).update(
        status=ReportDelivery.Status.FAILED, error=error[:2000]
    )


def turn_off_reports(*, user_id):
    return User.objects.filter(pk=user_id).update(report_frequency="off", next_report_at=None)
