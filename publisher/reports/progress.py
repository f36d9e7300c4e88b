"""What became of a report run's reports, read from its deliveries (the admin's progress bar polls it)."""

from django.db.models import Count

from ..models import ReportDelivery

Status = ReportDelivery.Status


def run_progress(run):
    counts = dict(run.deliveries.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    done = sum(counts.get(status, 0) for status in (Status.SENT, Status.FAILED, Status.SKIPPED))
    total = sum(counts.values())
    last_sent = run.deliveries.filter(status=Status.SENT).order_by("-sent_at").values_list("sent_at", flat=True).first()
    finished = total > 0 and done == total
    return {
        "id": run.pk,
        "ticked_at": run.ticked_at.isoformat(),
        "periods": run.periods,
        "authors_due": run.authors_due,
        "queued": run.queued,
        "sent": counts.get(Status.SENT, 0),
        "failed": counts.get(Status.FAILED, 0),
        "skipped": counts.get(Status.SKIPPED, 0),
        "in_progress": counts.get(Status.PENDING, 0) + counts.get(Status.SENDING, 0),
        "total": total,
        "finished": finished,
        "finished_at": (last_sent.isoformat() if last_sent else None) if finished else None,
    }
