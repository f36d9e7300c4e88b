from datetime import date as date_type

from django.core.management.base import BaseCommand, CommandError

from publisher.reports import default_report_date
from publisher.tasks import send_view_count_report


class Command(BaseCommand):
    help = "Queue the daily view-count report (for yesterday unless --date is given); the workers send it."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="report date, YYYY-MM-DD")

    def handle(self, *args, date=None, **options):
        if date is None:
            report_date = default_report_date()
        else:
            try:
                report_date = date_type.fromisoformat(date)
            except ValueError as exc:
                raise CommandError(f"--date must be YYYY-MM-DD, not {date!r}") from exc
        result = send_view_count_report.delay(report_date.isoformat())
        self.stdout.write(f"Queued the view-count report for {report_date} as task {result.id}.")
