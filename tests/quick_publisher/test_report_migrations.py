"""The migrations to reports at the author's hour keep what was there: opted-out authors are off, the others daily
and scheduled; existing deliveries are daily ones of their date; the old daily row is covered in test_reports."""

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("main", "0001_initial"), ("publisher", "0003_flushed_post_views")]
AFTER = [("main", "0002_report_choice"), ("publisher", "0004_report_periods")]


@pytest.mark.django_db(transaction=True)
def test_receives_reports_becomes_the_frequency_and_deliveries_become_daily_periods():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldUser, OldDelivery = old.get_model("main", "User"), old.get_model("publisher", "ReportDelivery")
    opted_out = OldUser.objects.create(email="out@example.com", full_name="Out", receives_reports=False)
    receiving = OldUser.objects.create(email="in@example.com", full_name="In", receives_reports=True)
    OldDelivery.objects.create(author_id=receiving.pk, report_date=date(2026, 11, 29), status="sent")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    User, Delivery = new.get_model("main", "User"), new.get_model("publisher", "ReportDelivery")
    assert dict(User.objects.values_list("email", "report_frequency")) == {
        "out@example.com": "off",
        "in@example.com": "daily",
    }
    assert User.objects.get(pk=opted_out.pk).next_report_at is None
    assert User.objects.get(pk=receiving.pk).next_report_at is not None
    assert list(Delivery.objects.values_list("author_id", "kind", "period_start", "status")) == [
        (receiving.pk, "daily", date(2026, 11, 29), "sent")
    ]
    MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
