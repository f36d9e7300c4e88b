from datetime import date as date_type
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from publisher.reports.tasks import queue_view_count_reports


class Command(BaseCommand):
    help = (
        "Queue the view-count report: each author's latest complete period in their own days (yesterday, or with "
        "--weekly last week), or the period starting on --date; the workers send it, once per author and period."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="the period's day (with --weekly: any day of its week), YYYY-MM-DD")
        parser.add_argument("--author", help="only this author (email address)")
        parser.add_argument("--weekly", action="store_true", help="the weekly report, to authors who chose it")

    def handle(self, *args, date=None, author=None, weekly=False, **options):
        kind = "weekly" if weekly else "daily"
        report_date = None
        if date is not None:
            try:
                report_date = date_type.fromisoformat(date)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}") from exc
            if weekly:
                report_date -= timedelta(days=report_date.weekday())  # weeks run Monday to Sunday
        author_ids = None
        if author is not None:
            user = get_user_model().objects.filter(email__iexact=author).first()
            if user is None:
                raise CommandError(f"No user with the address {author!r}.")
            author_ids = [user.pk]
        result = queue_view_count_reports.delay(
            report_date.isoformat() if report_date else None, kind=kind, author_ids=author_ids
        )
        period = report_date or "each author's latest period"
        self.stdout.write(f"Queued the {kind} view-count report for {period} as task {result.id}.")
